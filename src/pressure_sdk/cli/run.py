"""``run`` and ``check``: the scheduled job and its pre-flight."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..config import AccountConfig, load_config
from ..connectors.base import Connector
from ..errors import PressureError
from ..ledger import Ledger
from ..sync import build_connectors, run_sync, select_accounts
from .base import _at, _handle_errors, cli, config_option, json_option


@cli.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Pull and compute everything, push nothing.")
@click.option("--account", "accounts", multiple=True, metavar="NAME", help="Only this account (repeatable).")
@click.option("--force", is_flag=True, help="Push even when a list would lose more than max_remove_share.")
@click.option("--wait", type=float, default=0.0, show_default=True, help="Seconds to wait for another run's lock.")
@click.option("--now", "now_text", metavar="ISO", help="Evaluate lists as of this instant (replays).")
@click.option("--client", "clients", multiple=True, metavar="NAME", help="Only this client's accounts (repeatable).")
@click.option("--reconcile", is_flag=True, help="Compare every list with the platform's real membership first.")
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
    as_json: bool,
) -> None:
    """Pull every account, rescore, recompute and push suppression lists, report.

    A dry run leaves the ledger exactly as it was. Lists found missing or edited on a
    platform are repaired; --reconcile reads every list's real membership first.
    """
    cfg = load_config(config_path)
    report = run_sync(
        cfg,
        accounts=accounts,
        clients=clients,
        dry_run=dry_run,
        force=force,
        wait=wait,
        now=_at(cfg, now_text),
        reconcile=reconcile,
    )
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.table())
    sys.exit(report.exit_code)


@cli.command()
@config_option
@json_option
@_handle_errors
def check(config_path: str, as_json: bool) -> None:
    """Validate the config and try each account's connection."""
    cfg = load_config(config_path)
    connectors = build_connectors(cfg, select_accounts(cfg, None))
    results: list[dict[str, Any]] = []
    with Ledger(cfg.ledger_path) as led:
        for name, conn in connectors.items():
            try:
                message = conn.check()
                findings = _list_findings(led, cfg.account(name), conn)
                results.append({"account": name, "ok": not findings, "message": message, "findings": findings})
            except PressureError as exc:
                results.append({"account": name, "ok": False, "message": str(exc), "findings": []})
            finally:
                conn.close()
    ok = all(r["ok"] for r in results)
    if as_json:
        click.echo(json.dumps({"ok": ok, "config": str(config_path), "accounts": results}, indent=2))
    else:
        click.echo(f"{config_path}: configuration valid ({len(cfg.accounts)} accounts, {len(cfg.rules)} rules)")
        for r in results:
            click.echo(f"  {'ok    ' if r['ok'] else 'FAILED'} {r['account']}: {r['message']}")
            for f in r["findings"]:
                click.echo(f"         - {f}")
    sys.exit(0 if ok else 1)


def _list_findings(led: Ledger, acc: AccountConfig, conn: Connector) -> list[str]:
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


