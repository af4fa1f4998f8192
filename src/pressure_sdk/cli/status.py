"""``status``: ledger figures per client, the last runs and the watermarks."""

from __future__ import annotations

import json
from typing import Any

import click

from ..config import load_config
from ..ledger import RunRecord, describe
from ..progress import duration
from ..sync import _grid, audience_watermark
from ..tiers import score_all
from ..timeutil import to_iso
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, client_option, config_option, json_option


def _iso(t: float | None) -> str | None:
    return None if t is None else to_iso(int(t))


def describe_state(state: Any) -> str:
    """A watermark for people: the files connector's hashes as a count, epoch times as ISO 8601."""
    if not isinstance(state, dict):
        return _value(state)
    parts = []
    for key, value in state.items():
        if key == "files" and isinstance(value, dict):
            parts.append(f"{len(value)} file{'s' if len(value) != 1 else ''} imported")
        else:
            parts.append(f"{key} {_value(value)}")
    return ", ".join(parts) or "empty"


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        # epoch milliseconds (HubSpot) or seconds, from 1973 to 5138; other numbers stay numbers
        if 1e11 <= value < 1e14:
            return str(to_iso(int(value // 1000)))
        if 1e8 <= value < 1e11:
            return str(to_iso(int(value)))
        return str(value)
    if isinstance(value, dict):
        return f"({describe_state(value)})"
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    return str(value)


def run_summary(r: RunRecord) -> dict[str, Any]:
    """One run of the history, for ``status --json``: times, result, per-account figures, errors."""
    accounts = []
    for a in (r.report or {}).get("accounts", []):
        lists = a.get("lists") or []
        pushed = [x for x in lists if x.get("pushed")]
        accounts.append(
            {
                "name": a.get("name"),
                "client": a.get("client"),
                "ok": a.get("ok"),
                "pulled": a.get("pulled"),
                "touches_added": a.get("touches_added"),
                "engagements_added": a.get("engagements_added"),
                "lists_added": sum(x.get("added", 0) for x in pushed),
                "lists_removed": sum(x.get("removed", 0) for x in pushed),
                "error": a.get("error"),
            }
        )
    return {
        "id": r.id,
        "started_at": _iso(r.started_at),
        "finished_at": _iso(r.finished_at),
        "duration_s": None if r.duration is None else round(r.duration, 1),
        "result": r.result,
        "exit_code": r.exit_code,
        "now": _iso(r.now),
        "pid": r.pid,
        "accounts": accounts,
        "error": r.error,
    }


def _runs_table(runs: list[dict[str, Any]]) -> list[str]:
    rows = [("run", "started", "took", "result", "accounts ok", "pulled", "pushed", "--now")]
    for r in runs:
        accs = r["accounts"]
        rows.append(
            (
                str(r["id"]),
                r["started_at"] or "",
                "" if r["duration_s"] is None else duration(r["duration_s"]),
                r["result"],
                f"{sum(1 for a in accs if a['ok'])}/{len(accs)}" if accs else "-",
                str(sum(a["pulled"] or 0 for a in accs)),
                f"+{sum(a['lists_added'] for a in accs)} -{sum(a['lists_removed'] for a in accs)}",
                r["now"] or "",
            )
        )
    return _grid(rows, right_from=4)


@cli.command()
@config_option
@click.option("--now", "now_text", metavar="ISO", help="Measure weekly pressure as of this instant.")
@click.option("--runs", "n_runs", type=click.IntRange(min=0), default=5, show_default=True, help="Last runs shown.")
@client_option
@json_option
@_handle_errors
def status(config_path: str, now_text: str | None, n_runs: int, client: str | None, as_json: bool) -> None:
    """Ledger figures per client: contacts, touches per channel/brand/family, weekly pressure per tier;
    then the last runs (when, how long, result, figures, errors) and each account's watermarks."""
    cfg = load_config(config_path)
    cfg.check_client(client)
    with Workspace(cfg) as ws:
        led = ws.ledger
        t = _at(cfg, now_text) or ws.now()
        score_all(led, t, cfg.tiers, cfg.scoring, cfg.tolerance)
        weights = {k: f.weight for k, f in cfg.families.items()}
        sizes = led.list_sizes()
        names = [client] if client else sorted(set(cfg.client_names) | set(led.clients()))
        clients: dict[str, Any] = {}
        for name in names:
            pressure: dict[str, dict[str, int]] = {}
            for tier, level, n in led.weekly_pressure(t, weights, name):
                pressure.setdefault(tier, {})[f"{level}+" if level == 5 else str(level)] = n
            accounts = {a.name for a in cfg.accounts if cfg.client_of_account(a) == name}
            clients[name] = {
                "contacts": led.count("contacts", name),
                "touches": led.count("touches", name),
                "engagements": led.count("engagements", name),
                "touches_by": {by: dict(led.touch_counts(by, name)) for by in ("channel", "brand", "family")},
                "weekly_pressure_by_tier": pressure,
                "lists": [{"account": a, "list": lst, "size": n} for a, lst, n in sizes if a in accounts],
            }
        out: dict[str, Any] = {
            "ledger": describe(cfg.ledger_target),
            "as_of": to_iso(t),
            "contacts": sum(c["contacts"] for c in clients.values()),
            "touches": sum(c["touches"] for c in clients.values()),
            "engagements": sum(c["engagements"] for c in clients.values()),
            "erased": led.count("tombstones"),
            "clients": clients,
            "runs": [run_summary(r) for r in led.runs(n_runs)],
            "last_ok_run_at": _iso(last_ok[0]) if (last_ok := led.last_run_at("ok")) else None,
            "watermarks": _watermarks(led.watermarks(), [a.name for a in cfg.accounts]),
        }
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"ledger {out['ledger']} as of {out['as_of']}")
    click.echo(
        f"  contacts {out['contacts']}  touches {out['touches']}  "
        f"engagements {out['engagements']}  erased {out['erased']}"
    )
    levels = ["0", "1", "2", "3", "4", "5+"]
    for name, c in clients.items():
        click.echo("")
        click.echo(f"client {name}: contacts {c['contacts']}  touches {c['touches']}  engagements {c['engagements']}")
        for by, counts in c["touches_by"].items():
            click.echo(f"  touches by {by}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        click.echo("  contacts by weighted touches in the last 7 days, per tier:")
        click.echo(f"    {'tier':<10}" + "".join(f"{lv:>8}" for lv in levels))
        for tier, dist in sorted(c["weekly_pressure_by_tier"].items()):
            click.echo(f"    {tier:<10}" + "".join(f"{dist.get(lv, 0):>8}" for lv in levels))
        for lst in c["lists"]:
            click.echo(f"  list {lst['account']}/{lst['list']}: {lst['size']} contacts")
    click.echo("")
    if out["runs"]:
        click.echo("last runs, newest first:")
        for line in _runs_table(out["runs"]):
            click.echo(f"  {line}")
        last = out["runs"][0]
        if last["error"]:
            click.echo(f"  run {last['id']} ({last['result']}): {last['error']}")
    else:
        click.echo("no run recorded yet")
    if out["watermarks"]:
        click.echo("")
        click.echo("watermarks (where the next pull starts):")
        for w in out["watermarks"]:
            click.echo(f"  {w['account']} {w['kind']}: {w['summary']} (saved {w['updated_at']})")


def _watermarks(rows: list[tuple[str, str, int]], accounts: list[str]) -> list[dict[str, Any]]:
    """Each account's watermarks: events and audience, raw and for people."""
    out = []
    for key, state, updated in rows:
        account, kind = key, "events"
        for a in accounts:
            if key == audience_watermark(a):
                account, kind = a, "audience"
        parsed = json.loads(state)
        out.append(
            {
                "account": account,
                "kind": kind,
                "summary": describe_state(parsed),
                "updated_at": _iso(updated),
                "state": parsed,
            }
        )
    return out


