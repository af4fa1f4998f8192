"""pressure-sdk connector for Brevo: email events in, suppression lists out as contact lists."""

from .connector import BrevoConnector
from .settings import BrevoSettings

__all__ = ["BrevoConnector", "BrevoSettings"]
