"""Where the sandbox lived before it moved to :mod:`pressure_connector_hubspot.testing`; kept for old imports."""

from .testing.sandbox import HubSpotSandbox

__all__ = ["HubSpotSandbox"]
