"""pressure-sdk connector for HubSpot: marketing-email events in, MANUAL contact lists out."""

from .connector import HubSpotConnector
from .settings import HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings"]
