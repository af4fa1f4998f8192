"""Testing helpers of the SFMC connector: a local SFMC built from the platform's descriptions alone.

Nothing here imports the connector: the sandbox is an independent model of the platform.
"""

from .sandbox import GENEROUS_LIMITS, SfmcSandbox

__all__ = ["GENEROUS_LIMITS", "SfmcSandbox"]
