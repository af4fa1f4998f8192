"""Connector plugins, found through the ``pressure_sdk.connectors`` entry-point group."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from ..errors import ConfigError, UnknownConnectorError
from .base import Connector

GROUP = "pressure_sdk.connectors"
_registered: dict[str, type[Connector]] = {}


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """An installed connector: its name, distribution, version and ``module:Class`` target."""

    name: str
    distribution: str
    version: str
    target: str


def register(name: str, cls: type[Connector]) -> None:
    """Register a connector class by hand (tests, embedded use); wins over entry points."""
    _registered[name] = cls


def unregister(name: str) -> None:
    """Forget a connector registered with :func:`register`."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> list[ConnectorInfo]:
    """Installed and registered connectors, by name."""
    out: dict[str, ConnectorInfo] = {}
    for name, ep in _entry_points().items():
        dist = ep.dist
        out[name] = ConnectorInfo(
            name,
            dist.name if dist else "?",
            dist.version if dist else "?",
            ep.value,
        )
    for name, cls in _registered.items():
        out[name] = ConnectorInfo(
            name, "(registered)", getattr(cls, "version", "-"), f"{cls.__module__}:{cls.__qualname__}"
        )
    return [out[k] for k in sorted(out)]


def get_connector(name: str) -> type[Connector]:
    """The connector class for ``name``; loaded lazily from its entry point."""
    if name in _registered:
        return _registered[name]
    eps = _entry_points()
    ep = eps.get(name)
    if ep is None:
        installed = sorted(set(eps) | set(_registered)) or ["none"]
        msg = (
            f"unknown connector {name!r}; installed: {', '.join(installed)} "
            f"(install its package, e.g. pip install pressure-connector-{name})"
        )
        raise UnknownConnectorError(msg)
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not hide which one it is
        msg = f"connector {name!r} ({ep.value}) failed to load: {exc}"
        raise ConfigError(msg) from exc
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        msg = f"connector {name!r} ({ep.value}) is not a pressure_sdk Connector subclass"
        raise ConfigError(msg)
    return cls
