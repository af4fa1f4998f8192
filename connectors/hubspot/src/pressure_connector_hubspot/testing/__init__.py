"""A local HubSpot for tests and demos: an independent model of the platform.

Nothing here imports the connector: the sandbox follows HubSpot's API description, so a
mistake in the connector (a wrong path, a wrong limit) is caught by it, not copied into it.
"""

from .sandbox import HubSpotSandbox

__all__ = ["HubSpotSandbox"]
