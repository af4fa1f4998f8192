"""``run`` and ``check``: the scheduled job and its pre-flight."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

import click

from ..config import AccountConfig, load_config
from ..connectors.base import Connector
from ..errors import LedgerError, LockedError, PressureError
from ..ledger import LedgerAPI, LedgerPathError, describe, open_ledger
from ..progress import BarProgress, LineProgress, ProgressObserver
from ..sync import StopRequest, build_connectors, run_sync, select_accounts, without_account
from ..timeutil import now as clock_now
from ..timeutil import to_iso
from .base import EXIT_LOCKED, Output, _at, _handle_errors, cli, config_option, fail, json_option, output

log = logging.getLogger("pressure_sdk.cli")


class StopNow(KeyboardInterrupt):
    """A second SIGINT or SIGTERM: stop at once (the batch in progress is rolled back)."""

    def __init__(self, name: str, code: int) -> None:
        super().__init__(name)
        self.name, self.code = name, code


@contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop after the batch in progress; a second one stops it at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop:
            raise StopNow(name, 128 + signum)
        stop.set(name, 128 + signum)
        again = "Ctrl-C" if signum == signal.SIGINT else name
        log.warning("%s received: stopping after the batch in progress (%s again stops at once)", name, again)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def is_terminal(stream: Any) -> bool:
    """A terminal that can draw a live bar (not a pipe, a file or a dumb terminal)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM", "") not in ("dumb", "unknown")
    except (AttributeError, ValueError):
        return False


def make_progress(out: Output, every: float) -> ProgressObserver | None:
    """A live bar on a terminal, periodic log lines otherwise (cron, log shippers), nothing with -q."""
    if out.verbosity < 0:
        return None
    if out.log_format == "text" and is_terminal(sys.stderr):
        return BarProgress(sys.stderr)
    return LineProgress(every, each_phase=out.verbosity >= 1)


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Pull and compute everything, push nothing.")
@click.option("--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable).")
@click.option("--force", is_flag=True, help="Push even when a list would lose more than max_remove_share.")
@click.option("--wait", type=float, default=0.0, show_default=True, help="Seconds to wait for another run's lock.")
@click.option("--now", "now_text", metavar="ISO", help="Evaluate lists as of this instant (replays).")
@click.option("--client", "clients", multiple=True, metavar="NAME", help="Only this client's accounts (repeatable).")
@click.option("--reconcile", is_flag=True, help="Compare every list with the platform's real membership first.")
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    metavar="S",
    help="Seconds between progress lines of a long step when stderr is not a terminal.",
)
@json_option
@_handle_errors
def run(
    config_path: str,
    dry_run: bool,
    accounts: tuple[str, ...],
    force: bool,
    wait: float,
    now_text: str | None,
    clients: tuple[str, ...],
    reconcile: bool,
    progress_every: float,
    as_json: bool,
) -> None:
    """Pull every account, rescore, recompute and push suppression lists, report.

    A dry run leaves the ledger exactly as it was. Lists found missing or edited on a
    platform are repaired; --reconcile reads every list's real membership first.
    Progress of long steps goes to stderr: a live bar on a terminal, a timestamped line
    every --progress-every seconds otherwise. SIGINT or SIGTERM stops after the batch in
    progress and prints what was saved (exit 130 or 143). Another run holding the lock
    is exit 75, with a JSON record under --json.
    """
    started = clock_now()
    try:
        cfg = load_config(config_path)
    except PressureError as exc:
        _refused(as_json, dry_run, started, str(exc), {}, exc.exit_code)
    now = _at(cfg, now_text)
    stop = StopRequest()
    observer = make_progress(output(), progress_every)
    try:
        with stop_on_signals(stop):
            try:
                report = run_sync(
                    cfg,
                    accounts=accounts,
                    clients=clients,
                    dry_run=dry_run,
                    force=force,
                    wait=wait,
                    now=now,
                    reconcile=reconcile,
                    progress=observer,
                    stop=stop,
                )
            finally:
                if observer is not None:
                    observer.close()
    except LockedError as exc:
        _refused(as_json, dry_run, started, str(exc), {"locked": True}, EXIT_LOCKED)
    except PressureError as exc:  # configuration, ledger path: before any account ran
        _refused(as_json, dry_run, started, str(exc), {}, exc.exit_code)
    except StopNow as exc:
        why = (
            f"stopped at once by a second {exc.name}: the batch in progress was rolled back; "
            "every batch before it is saved and the next run resumes from there"
        )
        _refused(as_json, dry_run, started, why, {"interrupted": exc.name}, exc.code)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.table())
    sys.exit(report.exit_code)


def _refused(as_json: bool, dry_run: bool, started: int, why: str, extra: dict[str, Any], code: int) -> NoReturn:
    """A run that produced no report: its JSON record on stdout with --json, the reason on stderr."""
    if as_json:
        record = {
            "ok": False,
            "dry_run": dry_run,
            "started_at": to_iso(started),
            "finished_at": to_iso(clock_now()),
            **extra,
            "error": why,
            "exit_code": code,
            "accounts": [],
        }
        click.echo(json.dumps(record, indent=2))
    fail(why, code)


@cli.command()
@config_option
@json_option
@_handle_errors
def check(config_path: str, as_json: bool) -> None:
    """Validate the config, open and test-write the ledger, try each account's connection.

    Exit 0 when all is well, 1 when an account or a list has a problem, 2 when the
    ledger cannot be used (its path, its permissions).
    """
    cfg = load_config(config_path)
    connectors = build_connectors(cfg, select_accounts(cfg, None))
    results: list[dict[str, Any]] = []
    led, ledger = _check_ledger(cfg.ledger_target)
    try:
        for name, conn in connectors.items():
            try:
                message = conn.check()
                findings = _list_findings(led, cfg.account(name), conn) if led is not None else []
                results.append({"account": name, "ok": not findings, "message": message, "findings": findings})
            except PressureError as exc:
                message = without_account(name, str(exc))  # the line already names the account
                results.append({"account": name, "ok": False, "message": message, "findings": []})
            finally:
                conn.close()
    finally:
        if led is not None:
            led.close()
    ok = ledger["ok"] and all(r["ok"] for r in results)
    if as_json:
        click.echo(
            json.dumps({"ok": ok, "config": str(config_path), "ledger": ledger, "accounts": results}, indent=2)
        )
    else:
        click.echo(f"{config_path}: configuration valid ({len(cfg.accounts)} accounts, {len(cfg.rules)} rules)")
        click.echo(f"  {'ok    ' if ledger['ok'] else 'FAILED'} ledger: {ledger['message']}")
        for r in results:
            click.echo(f"  {'ok    ' if r['ok'] else 'FAILED'} {r['account']}: {r['message']}")
            for f in r["findings"]:
                click.echo(f"         - {f}")
    sys.exit(0 if ok else (ledger["exit_code"] or 1))


def _check_ledger(target: Any) -> tuple[LedgerAPI | None, dict[str, Any]]:
    """Open the ledger and try a write (rolled back): the open ledger, or None, and what was found."""
    path = describe(target)  # the file, or the URL without its password
    try:
        led = open_ledger(target)
    except LedgerError as exc:
        return None, {"path": str(path), "ok": False, "message": str(exc), "exit_code": exc.exit_code}
    try:
        led.check_writable()
    except LedgerError as exc:
        code = exc.exit_code if isinstance(exc, LedgerPathError) else 1
        return led, {"path": str(path), "ok": False, "message": str(exc), "exit_code": code}
    runs = led.runs(1)
    last = f"; last run {to_iso(int(runs[0].started_at))}: {runs[0].result}" if runs else "; no run yet"
    return led, {"path": str(path), "ok": True, "message": f"{path}: readable and writable{last}", "exit_code": 0}


def _list_findings(led: LedgerAPI, acc: AccountConfig, conn: Connector) -> list[str]:
    """Lists the platform lost, or whose size differs from what it last confirmed."""
    out = []
    for lst in acc.lists:
        have = led.list_members(acc.name, lst.name)
        remote = conn.inspect_list(lst)
        if remote is None:
            continue
        if not remote.exists and have:
            out.append(
                f"list {lst.name!r} is missing on the platform although {len(have)} members were pushed; "
                "the next run recreates it"
            )
        elif remote.exists and remote.size is not None and remote.size != len(have):
            out.append(
                f"list {lst.name!r} holds {remote.size} members, {len(have)} confirmed; the next run repairs it"
            )
    return out


