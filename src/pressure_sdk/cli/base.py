"""The ``pressure-sync`` group, shared options and error handling."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .. import __version__
from ..config import WorkspaceConfig
from ..errors import PressureError
from ..http.redaction import RedactingFilter
from ..timeutil import parse_instant

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PressureError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


config_option = click.option(
    "--config",
    "config_path",
    envvar="PRESSURE_CONFIG",
    default="pressure.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Workspace file (or set PRESSURE_CONFIG).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
client_option = click.option("--client", metavar="NAME", help="Only this client of the workspace.")


def _at(cfg: WorkspaceConfig, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_instant(value, cfg.workspace.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pressure-sync")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug) on stderr.")
def cli(verbose: int) -> None:
    """Keep one ledger of marketing pressure and push suppression lists to your platforms."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        # secrets never reach the log, whichever library logs them
        handler.addFilter(RedactingFilter())


