"""``recommend``: per tier, the weekly cap the evidence supports, with that evidence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..config import load_config
from ..errors import ConfigError
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, config_option, json_option, months_options


@cli.command()
@config_option
@click.option("--client", "client", metavar="NAME", help="The client (required when the workspace has several).")
@months_options(
    "The last month of evidence (default: the last complete one).", "Months of observation pooled, ending with --month."
)
@click.option(
    "--rule",
    "rule_id",
    metavar="ID",
    help="The weekly cap rule to propose a max for (default: the first per-tier one).",
)
@click.option(
    "--objective",
    type=click.Choice(["clicks", "revenue"]),
    default="clicks",
    show_default=True,
    help="What to maximize, net of the costs of opt-outs.",
)
@click.option(
    "--unsubscribe-cost",
    type=float,
    default=10.0,
    show_default=True,
    help="What an unsubscribe costs, in the objective's unit.",
)
@click.option(
    "--complaint-cost",
    type=float,
    default=50.0,
    show_default=True,
    help="What a complaint costs, in the objective's unit.",
)
@click.option(
    "--min-messages",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Messages a tier needs before a recommendation.",
)
@click.option(
    "--snippet",
    "snippet_path",
    type=click.Path(dir_okay=False),
    help="Write the proposal as a TOML fragment to review.",
)
@click.option("--now", "now_text", metavar="ISO", help="Recommend as of this instant (default: the workspace's now).")
@json_option
@_handle_errors
def recommend(
    config_path: str,
    client: str | None,
    month: str | None,
    n_months: int,
    rule_id: str | None,
    objective: str,
    unsubscribe_cost: float,
    complaint_cost: float,
    min_messages: int,
    snippet_path: str | None,
    now_text: str | None,
    as_json: bool,
) -> None:
    """Propose, per tier, the weekly cap the evidence supports for an objective: the expected change per
    1,000 contacts a month in clicks, unsubscribes, complaints and revenue with 95 % intervals, from a
    randomized test when one is conclusive, else from observation; withheld when the interval is wider
    than the effect; tiers in burnout flagged."""
    from ..experiments import report as experiment_report
    from ..measure import last_complete_month, measure, months_ending
    from ..recommend import Objectives
    from ..recommend import recommend as propose

    cfg = load_config(config_path)
    names = cfg.client_names
    if client is None:
        if len(names) > 1:
            msg = f"--client: the workspace has several clients ({', '.join(names)}); name one"
            raise ConfigError(msg)
        client = names[0]
    cfg.check_client(client)
    objectives = Objectives(objective, unsubscribe_cost, complaint_cost)  # type: ignore[arg-type]
    tz = cfg.workspace.timezone
    with Workspace(cfg) as ws:
        now = _at(cfg, now_text) or ws.now()
        month = month or last_complete_month(now, tz)
        m = measure(ws.ledger, cfg, months=months_ending(month, n_months, tz), now=now, client=client)
        reports = [experiment_report(ws.ledger, cfg, e.id, now) for e in cfg.experiments if e.client == client]
    rec = propose(
        m, cfg, client, rule_id=rule_id, objectives=objectives, experiments=reports, min_messages=min_messages
    )
    if snippet_path is not None:
        path = Path(snippet_path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(rec.snippet(), encoding="utf-8")
        os.replace(tmp, path)
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2))
        return
    click.echo(f"client {client}, rule {rec.rule}, months {', '.join(rec.months)}, objective {objective}")
    for t in rec.tiers:
        now_cap = "-" if t.current is None else f"{t.current:g}"
        new = str(t.proposed) if t.proposed is not None else now_cap
        flag = "  BURNOUT" if t.burnout else ""
        click.echo(f"  {t.tier:<10} {now_cap:>4} -> {new:<4} {t.status:<16} {t.source}{flag}")
        click.echo(f"             {t.reason}")
        for metric, e in t.effects.items():
            interval = f"[{e.low:+.2f}, {e.high:+.2f}]"
            click.echo(f"             {metric:<13} {e.estimate:+10.2f}  {interval} per 1,000 contacts a month")
        if t.suppressed_sends:
            click.echo(f"             suppressed sends {t.suppressed_sends:.1f} per 1,000 contacts a month")
        if t.suppressed_value is not None and t.suppressed_value.estimate:
            v = t.suppressed_value
            interval = f"[{v.low:.2f}, {v.high:.2f}]"
            click.echo(f"             their revenue    {v.estimate:.2f} {interval} per 1,000 contacts a month")
    if snippet_path is not None:
        click.echo(f"proposal written to {snippet_path}")
