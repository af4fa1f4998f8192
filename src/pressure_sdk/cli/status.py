"""``status``: ledger figures per client."""

from __future__ import annotations

import json
from typing import Any

import click

from ..config import load_config
from ..tiers import score_all
from ..timeutil import to_iso
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, client_option, config_option, json_option


@cli.command()
@config_option
@click.option("--now", "now_text", metavar="ISO", help="Measure weekly pressure as of this instant.")
@client_option
@json_option
@_handle_errors
def status(config_path: str, now_text: str | None, client: str | None, as_json: bool) -> None:
    """Ledger figures per client: contacts, touches per channel/brand/family, weekly pressure per tier."""
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
            "ledger": str(cfg.ledger_path),
            "as_of": to_iso(t),
            "contacts": sum(c["contacts"] for c in clients.values()),
            "touches": sum(c["touches"] for c in clients.values()),
            "engagements": sum(c["engagements"] for c in clients.values()),
            "erased": led.count("tombstones"),
            "clients": clients,
            "watermarks": {a: json.loads(s) for a, s, _ in led.watermarks()},
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


