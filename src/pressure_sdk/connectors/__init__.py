"""The connector contract, the HTTP connector base and the registry of installed connector plugins."""

from .base import Connector, PushBatch, RemoteList, RemoteMember
from .http import HttpConnector, HttpSettings
from .registry import available, get_connector, register

__all__ = [
    "Connector",
    "HttpConnector",
    "HttpSettings",
    "PushBatch",
    "RemoteList",
    "RemoteMember",
    "available",
    "get_connector",
    "register",
]
