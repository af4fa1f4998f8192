"""A local Brevo for tests and demos: an independent model of the platform.

Nothing here imports the connector: the sandbox follows Brevo's OpenAPI description and its
published rate limits (its own bucket map), so a mistake in the connector is caught by it,
not copied into it.
"""

from .sandbox import GENEROUS_LIMITS, BrevoSandbox

__all__ = ["GENEROUS_LIMITS", "BrevoSandbox"]
