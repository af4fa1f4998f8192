"""``why``: is a contact on a suppression list, because of what, and until when."""

from __future__ import annotations

import json

import click

from ..config import load_config
from ..explain import membership
from ..workspace import Workspace
from .base import _at, _handle_errors, cli, config_option, json_option


@cli.command()
@config_option
@click.argument("email", metavar="EMAIL|PHONE")
@click.option("--list", "list_name", required=True, metavar="NAME", help="The suppression list.")
@click.option("--account", metavar="NAME", help="The account keeping the list (when several keep one of that name).")
@click.option("--now", "now_text", metavar="ISO", help="Explain the list as a run at this instant would compute it.")
@json_option
@_handle_errors
def why(config_path: str, email: str, list_name: str, account: str | None, now_text: str | None, as_json: bool) -> None:
    """Explain whether EMAIL (or PHONE) is on a suppression list, which rules put it there, and when it leaves.

    Uses the computation the lists use, at the run's time (workspace.now, or --now): the
    rules, consent and tolerance capital that block the list's standard message, the
    touches each rule counted, and the first time the contact would be off the list if
    nothing else were sent. Also says whether the platform's list holds it already.
    An invalid email or an unknown list exits 2.
    """
    cfg = load_config(config_path)
    with Workspace(cfg) as ws:
        m = membership(ws, email, list_name, account=account, at=_at(cfg, now_text))
    click.echo(json.dumps(m.as_dict(), indent=2) if as_json else m.text())
