"""pressure-sdk connector for Mailchimp: campaign reports in, suppression lists out as static segments."""

from .connector import MailchimpConnector
from .settings import MailchimpSettings

__all__ = ["MailchimpConnector", "MailchimpSettings"]
