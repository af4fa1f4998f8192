"""The Mailchimp sandbox: a model of the platform for tests and demos, independent of the connector."""

from .sandbox import MailchimpSandbox, subscriber_hash

__all__ = ["MailchimpSandbox", "subscriber_hash"]
