"""``report``: KPIs, fatigue curves and list sizes of a month, as one self-contained HTML file or JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..config import load_config
from ..errors import ConfigError
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, client_option, config_option, json_option, months_options


@cli.command()
@config_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write the HTML report to this file.")
@months_options(
    "The month of the KPI tables (default: the last complete one).",
    "Months the fatigue curves pool, ending with --month.",
)
@click.option(
    "--family", "families", multiple=True, metavar="NAME", help="Measure these families (default: non-exempt)."
)
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="Measure only these channels.")
@click.option("--now", "now_text", metavar="ISO", help="Measure as of this instant (default: the workspace's now).")
@client_option
@json_option
@_handle_errors
def report(
    config_path: str,
    out_path: str | None,
    month: str | None,
    n_months: int,
    families: tuple[str, ...],
    channels: tuple[str, ...],
    now_text: str | None,
    client: str | None,
    as_json: bool,
) -> None:
    """KPIs per tier and pressure level, fatigue curves with their intervals, and list sizes, for a
    client and a month: one self-contained HTML file (--out; no network needed) and/or JSON (--json)."""
    from ..experiments import report as experiment_report
    from ..measure import last_complete_month, measure, months_ending
    from ..recommend import recommend as propose
    from ..report_html import ListSize, ReportData, render_html

    if out_path is None and not as_json:
        msg = "say where the report goes: --out report.html, or --json for JSON on stdout"
        raise ConfigError(msg)
    cfg = load_config(config_path)
    cfg.check_client(client)
    for name in families:
        if name not in cfg.families:
            msg = f"--family {name!r}: unknown family; known: {sorted(cfg.families)}"
            raise ConfigError(msg)
    for name in channels:
        if name not in cfg.workspace.channels:
            msg = f"--channel {name!r}: unknown channel; known: {cfg.workspace.channels}"
            raise ConfigError(msg)
    tz = cfg.workspace.timezone
    with Workspace(cfg) as ws:
        now = _at(cfg, now_text) or ws.now()
        month = month or last_complete_month(now, tz)
        m = measure(
            ws.ledger,
            cfg,
            months=months_ending(month, n_months, tz),
            now=now,
            client=client,
            families=families or None,
            channels=channels or None,
        )
        clients = [client] if client else m.clients
        experiments = [experiment_report(ws.ledger, cfg, e.id, now) for e in cfg.experiments if e.client in clients]
        recommendations = []
        for name in clients:
            try:
                recommendations.append(propose(m, cfg, name, experiments=experiments))
            except ConfigError:  # no weekly cap to recommend for: the section says nothing of it
                continue
        owners = {a.name: cfg.client_of_account(a) for a in cfg.accounts}
        lists = [
            ListSize(owners.get(acc, ""), acc, name, size)
            for acc, name, size in ws.ledger.list_sizes()
            if client is None or owners.get(acc) == client
        ]
    data = ReportData(
        title=f"Marketing pressure — {client or cfg.workspace.name}",
        month=month,
        as_of=now,
        measurement=m,
        client=client,
        time_zone=tz,
        lists=lists,
        experiments=list(experiments),
        recommendations=list(recommendations),
    )
    if out_path is not None:
        path = Path(out_path)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(render_html(data), encoding="utf-8")
        os.replace(tmp, path)
    if as_json:
        click.echo(json.dumps(data.to_dict(), indent=2))
    else:
        click.echo(f"report of {month} ({', '.join(m.months)} for the fatigue curves) -> {out_path}")
