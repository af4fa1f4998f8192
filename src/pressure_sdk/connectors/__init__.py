"""The connector contract and the registry of installed connector plugins."""

from .base import Connector, PushBatch
from .registry import available, get_connector, register

__all__ = ["Connector", "PushBatch", "available", "get_connector", "register"]
