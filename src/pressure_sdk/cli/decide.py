"""``decide`` and ``plan``: one candidate, or a batch of them."""

from __future__ import annotations

import json

import click

from ..config import load_config
from ..planfile import read_candidates, summarize, write_plan
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, client_option, config_option, json_option


@cli.command()
@config_option
@click.option("--email", required=True)
@click.option("--channel", required=True)
@click.option("--brand", required=True)
@click.option("--family", required=True)
@click.option("--at", "at_text", metavar="ISO", help="Decide for this instant (default: now).")
@click.option("--weight", type=float)
@click.option("--product")
@client_option
@json_option
@_handle_errors
def decide(
    config_path: str,
    email: str,
    channel: str,
    brand: str,
    family: str,
    at_text: str | None,
    weight: float | None,
    product: str | None,
    client: str | None,
    as_json: bool,
) -> None:
    """May this message go out? Prints the verdict, reasons and next allowed time.

    Unknown channels, brands, families or clients and invalid emails exit 2.
    """
    cfg = load_config(config_path)
    with Workspace(cfg) as ws:
        d = ws.decide(
            email, channel, brand, family, _at(cfg, at_text), weight=weight, product=product, client=client
        )
        if as_json:
            click.echo(json.dumps(d.as_dict(), indent=2))
        else:
            click.echo(ws.explain(d))


@cli.command()
@config_option
@click.option("--candidates", "candidates_path", required=True, type=click.Path(dir_okay=False), help="Candidates CSV.")
@click.option(
    "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write the decisions CSV."
)
@client_option
@json_option
@_handle_errors
def plan(config_path: str, candidates_path: str, out_path: str, client: str | None, as_json: bool) -> None:
    """Arbitrate a batch of planned sends; writes accepted/rejected with reasons."""
    cfg = load_config(config_path)
    cands = read_candidates(candidates_path, cfg.workspace.timezone)
    with Workspace(cfg) as ws:
        decisions = ws.plan(cands, client=client)
    write_plan(out_path, decisions, cfg.workspace.timezone)
    summary = summarize(decisions)
    accepted = sum(d.allowed for d in decisions)
    if as_json:
        click.echo(json.dumps({"candidates": len(decisions), "accepted": accepted, **summary}, indent=2))
        return
    click.echo(f"{len(decisions)} candidates: {accepted} accepted, {len(decisions) - accepted} rejected -> {out_path}")
    width = max([24, *(len(k) + 1 for k in [*summary["rules"], *summary["brands"]])])
    if summary["rules"]:
        click.echo("rejections per rule:")
        for rule, n in summary["rules"].items():
            click.echo(f"  {rule:<{width}} {n:>6}")
    click.echo("per brand:")
    for brand, c in summary["brands"].items():
        click.echo(f"  {brand:<{width}} accepted {c['accepted']:>6}  rejected {c['rejected']:>6}")


