"""Where the sandbox lived before it moved to :mod:`pressure_connector_brevo.testing`; kept for old imports."""

from .testing.sandbox import GENEROUS_LIMITS, BrevoSandbox

__all__ = ["GENEROUS_LIMITS", "BrevoSandbox"]
