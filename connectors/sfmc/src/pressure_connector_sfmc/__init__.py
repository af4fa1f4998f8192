"""pressure-sdk connector for Salesforce Marketing Cloud: tracking events in, suppression sets out."""

from .connector import SfmcConnector
from .settings import SfmcSettings

__all__ = ["SfmcConnector", "SfmcSettings"]
