"""The connector contract, the HTTP connector base, the declarative kit and the registry of connector plugins.

The kit: streams (:class:`HttpStream`, :class:`IncrementalCursor`, :func:`pull_windows`)
declare what a connector pulls; a :class:`ListSink` declares how it keeps a suppression
list; a :class:`Credentials` model declares the secrets it reads from the environment.
"""

from .base import Connector, PushBatch, RemoteList, RemoteMember
from .credentials import ApiCredential, Credentials, env_field
from .http import HttpConnector, HttpSettings
from .registry import available, get_connector, register
from .sinks import ListSink, Targets, contact_ids
from .streams import CursorState, HttpStream, IncrementalCursor, Window, pull_windows, stable_id

__all__ = [
    "ApiCredential",
    "Connector",
    "Credentials",
    "CursorState",
    "HttpConnector",
    "HttpSettings",
    "HttpStream",
    "IncrementalCursor",
    "ListSink",
    "PushBatch",
    "RemoteList",
    "RemoteMember",
    "Targets",
    "Window",
    "available",
    "contact_ids",
    "env_field",
    "get_connector",
    "pull_windows",
    "register",
    "stable_id",
]
