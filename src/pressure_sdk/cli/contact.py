"""``contact``: the audit of one contact: history, consent, tier, capital, value, what is allowed now."""

from __future__ import annotations

import json

import click

from ..config import load_config
from ..validate import check_email
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, client_option, config_option, json_option


@cli.command()
@config_option
@click.argument("email")
@client_option
@click.option(
    "--now", "now_text", metavar="ISO", help="Audit as of this instant (default: workspace.now or the clock)."
)
@click.option("--last", type=click.IntRange(0), default=20, show_default=True, help="History lines shown per kind.")
@json_option
@_handle_errors
def contact(config_path: str, email: str, client: str | None, now_text: str | None, last: int, as_json: bool) -> None:
    """Audit EMAIL: its history across brands, channels and accounts, consent per scope, tier,
    tolerance capital and what spent it, value (RFM, CLV, relationship), lists, and what
    would be allowed now and why.

    Without --client, every client of the workspace that knows the address (or all of them
    when none does). --json prints a list of one object per client, with the whole history.
    An invalid email or an unknown client exits 2.
    """
    cfg = load_config(config_path)
    cfg.check_client(client)
    key = check_email(email)
    with Workspace(cfg) as ws:
        at = _at(cfg, now_text)
        clients = [client] if client else [c for c in cfg.client_names if ws.ledger.contact(key, c)]
        audits = [ws.contact(key, client=c, at=at) for c in clients or cfg.client_names]
    if as_json:
        click.echo(json.dumps([a.as_dict() for a in audits], indent=2))
    else:
        click.echo("\n\n".join(a.text(last=last) for a in audits))
