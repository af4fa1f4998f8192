"""The ``pressure-sync`` group, shared options, logging and error handling.

Exit codes: 0 success; 1 an account or operation failed; 2 bad configuration or usage,
or a ledger path that cannot be used; 75 another run holds the workspace lock
(``EX_TEMPFAIL``: try again later); 130 and 143 a run stopped by SIGINT or SIGTERM.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from .. import __version__
from ..config import WorkspaceConfig
from ..errors import LockedError, PressureError
from ..http.redaction import RedactingFilter
from ..timeutil import parse_instant

F = TypeVar("F", bound=Callable[..., Any])

#: another run holds the workspace lock: a harmless overlap, try again later (sysexits' EX_TEMPFAIL)
EXIT_LOCKED = 75
#: 128 + the signal's number, as shells report a process a signal ended
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

log = logging.getLogger("pressure_sdk.cli")


# -- verbosity and log format -------------------------------------------------------------


@dataclass
class Output:
    """How much the command logs on stderr, and how: from ``-v``/``-q`` and ``--log-format``."""

    #: -1 and below: errors only, no progress; 0: warnings and progress; 1: info; 2: debug;
    #: 3: debug of third-party libraries too (urllib3)
    verbosity: int = 0
    #: ``text`` (timestamped lines) or ``json`` (one object per line)
    log_format: str = "text"


def output() -> Output:
    """The current command's :class:`Output` (the defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Output()
    return ctx.meta.setdefault("pressure.output", Output())  # type: ignore[no-any-return]


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at each record (a live progress display replaces it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class _Levels(logging.Filter):
    """Which records pass at a verbosity: ours by level, progress unless quiet, others only if loud."""

    def __init__(self, verbosity: int) -> None:
        super().__init__()
        self.verbosity = verbosity

    def filter(self, record: logging.LogRecord) -> bool:
        v = self.verbosity
        if v < 0:
            return record.levelno >= logging.ERROR
        if record.name.startswith("pressure_sdk.progress"):
            return record.levelno >= logging.INFO
        if v >= 3:
            return True
        if not record.name.startswith(("pressure_sdk", "pressure_connector")):
            return record.levelno >= logging.WARNING
        return record.levelno >= (logging.WARNING, logging.INFO, logging.DEBUG)[min(v, 2)]


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``2026-11-16T12:00:01.234+01:00 WARNING pressure_sdk.sync: message``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (and its exception's traceback below, if any)."""
        text = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message``, and a progress
    record's figures (``account``, ``phase``, ``done``, ``total``, ``batches``, ``waited_s``, ``eta_s``…)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON object."""
        data: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        figures = getattr(record, "progress", None)
        if isinstance(figures, dict):
            data.update(figures)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure_logging(out: Output) -> None:
    """(Re)install the one stderr handler of the command line, for ``out``'s verbosity and format."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_pressure_cli", False):
            root.removeHandler(h)
    handler = _CurrentStderr()
    handler._pressure_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if out.log_format == "json" else TextFormatter())
    # secrets never reach the log, whichever library logs them
    handler.addFilter(RedactingFilter())
    handler.addFilter(_Levels(out.verbosity))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if out.verbosity >= 2 else logging.INFO)


def _verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    out = ctx.meta.setdefault("pressure.output", Output())
    out.verbosity += value or 0
    configure_logging(out)


def _quiet(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    out = ctx.meta.setdefault("pressure.output", Output())
    out.verbosity -= value or 0
    configure_logging(out)


def _log_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    out = ctx.meta.setdefault("pressure.output", Output())
    if value:
        out.log_format = value
    configure_logging(out)


def _output_params() -> list[click.Parameter]:
    """``-v``, ``-q`` and ``--log-format``, accepted before or after the command's name."""
    return [
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_verbose,
            help="More logging on stderr: -v info, -vv debug, -vvv third-party debug too (urllib3).",
        ),
        click.Option(
            ["-q", "--quiet"],
            count=True,
            expose_value=False,
            callback=_quiet,
            help="Less on stderr: errors only, no progress.",
        ),
        click.Option(
            ["--log-format"],
            type=click.Choice(["text", "json"]),
            default=None,
            expose_value=False,
            callback=_log_format,
            help="Log lines on stderr as timestamped text (default) or one JSON object per line.",
        ),
    ]


class _Group(click.Group):
    """Gives every command the output options, so ``pressure-sync run -v`` works like ``-v run``."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        have = {p.name for p in cmd.params}
        cmd.params.extend(p for p in _output_params() if p.name not in have)
        super().add_command(cmd, name)


# -- errors ---------------------------------------------------------------------------------


def fail(message: str, code: int) -> NoReturn:
    """Say ``message`` on stderr (as a JSON log record with ``--log-format json``) and exit ``code``."""
    if output().log_format == "json":
        log.error("%s", message)
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LockedError as exc:
            fail(str(exc), EXIT_LOCKED)
        except PressureError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_SIGINT)

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


def months_options(month_help: str, months_help: str) -> Callable[[F], F]:
    """``--month YYYY-MM`` and ``--months N`` (the months pooled, ending with it) of the measuring commands."""

    def wrap(f: F) -> F:
        f = click.option(
            "--months",
            "n_months",
            type=click.IntRange(min=1, max=24),
            default=3,
            show_default=True,
            help=months_help,
        )(f)
        return click.option("--month", metavar="YYYY-MM", help=month_help)(f)

    return wrap


def _at(cfg: WorkspaceConfig, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_instant(value, cfg.workspace.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pressure-sync")
def cli() -> None:
    """Keep one ledger of marketing pressure and push suppression lists to your platforms.

    -v, -q and --log-format are accepted before or after the command. Exit codes: 0 ok,
    1 an account or operation failed, 2 bad configuration, usage or ledger path,
    75 another run holds the lock, 130/143 a run stopped by SIGINT/SIGTERM.
    """


for _param in _output_params():
    cli.params.append(_param)
