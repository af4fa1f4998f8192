"""``connectors``, ``forget`` and ``sandbox``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..config import load_config
from ..connectors.registry import available, get_connector
from ..errors import ConfigError, PressureError
from ..explain import footprint
from ..ledger import describe, is_url, open_ledger
from ..validate import Vocabulary
from ..workspace import Workspace
from .base import _handle_errors, cli, config_option, json_option


@cli.command()
@click.option(
    "--config",
    "config_path",
    envvar="PRESSURE_CONFIG",
    type=click.Path(dir_okay=False),
    help="Also show which accounts of this workspace use each connector, and any that is missing.",
)
@json_option
@_handle_errors
def connectors(config_path: str | None, as_json: bool) -> None:
    """Installed connector plugins with their versions."""
    infos = available()
    used: dict[str, list[str]] = {}
    if config_path:
        for acc in load_config(config_path).accounts:
            used.setdefault(acc.connector, []).append(acc.name)
    rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "distribution": i.distribution,
            "version": i.version,
            "target": i.target,
            "installed": True,
            "used_by": used.get(i.name, []),
        }
        for i in infos
    ]
    installed = {i.name for i in infos}
    rows += [
        {"name": n, "distribution": None, "version": None, "target": None, "installed": False, "used_by": accs}
        for n, accs in sorted(used.items())
        if n not in installed
    ]
    missing = [r for r in rows if not r["installed"]]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        if not rows:
            click.echo("no connector installed (pip install pressure-connector-files, …)")
        for r in rows:
            uses = f"  used by {', '.join(r['used_by'])}" if r["used_by"] else ""
            if r["installed"]:
                click.echo(f"{r['name']:<12} {r['distribution']} {r['version']}  ({r['target']}){uses}")
            else:
                click.echo(f"{r['name']:<12} NOT INSTALLED (pip install pressure-connector-{r['name']}){uses}")
    sys.exit(1 if missing else 0)


@cli.command()
@config_option
@click.argument("emails", metavar="EMAIL|PHONE...", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--client", metavar="NAME", help="Erase it from this client only (default: every client).")
@_handle_errors
def forget(config_path: str, emails: tuple[str, ...], yes: bool, client: str | None) -> None:
    """Erase contacts from the ledger (right to erasure); later imports never bring them back.

    Each contact is named by its email or by one of its phone numbers (the contact holding
    it, with every number and its email). Shows first, per contact and client, what will be
    erased (touches, engagements, consent changes, the suppression lists it is on, its
    numbers), then asks for confirmation unless --yes. Several contacts are erased together:
    on PostgreSQL the tables are rewritten once for all.
    """
    cfg = load_config(config_path)
    cfg.check_client(client)
    vocab = Vocabulary(cfg)
    keys = list(dict.fromkeys(vocab.contact(e) for e in emails))
    clients = [client] if client else cfg.client_names
    where = f"client {client}" if client else "every client"
    shown = describe(cfg.ledger_target)
    who = keys[0] if len(keys) == 1 else f"{len(keys)} addresses"
    if is_url(cfg.ledger_target) or cfg.ledger_path.exists():
        with Workspace(cfg) as ws:
            for key in keys:
                found = footprint(ws.ledger, key, clients, ws.now())
                click.echo(f"{key} in {shown}:")
                for f in found:
                    click.echo(f"  {f.text()}")
    else:
        for key in keys:
            click.echo(f"{key}: no ledger yet at {shown}; nothing to erase")
    if not yes:
        click.confirm(f"Erase every trace of {who} ({where}) from {shown}?", abort=True)
    with open_ledger(cfg.ledger_target) as led:
        erased = {key: led.forget(key, clients, purge=False) for key in keys}
        led.purge_erased()  # once for every address: one rewrite per table on PostgreSQL
    kept_out = f"one-way tombstones keep it out of future imports ({where})"
    for key, found_in in erased.items():
        if found_in:
            click.echo(f"erased {key} from {', '.join(found_in)}; {kept_out}")
        else:
            click.echo(f"{key} was not in the ledger; {kept_out}")
    click.echo("note: also erase it on each platform; suppression lists there are not changed by this command")


@cli.command()
@click.argument("platform")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--seed",
    metavar="demo|FOLDER",
    help="Load contacts and events: 'demo' (the platform's demo brand from examples/demo) or an export folder.",
)
@click.option("--credential", metavar="VALUE", help="Accept this fake credential instead of the printed default.")
@click.option("--no-limits", is_flag=True, help="Turn the platform's rate limits off.")
@_handle_errors
def sandbox(platform: str, port: int, host: str, seed: str | None, credential: str | None, no_limits: bool) -> None:
    """Serve a local fake of PLATFORM's API (the subset its connector uses) until interrupted.

    Point an account's base_url at the printed URL and its credential_env at a variable
    holding the printed credential.
    """
    cls = get_connector(platform)
    factory = getattr(cls, "sandbox_class", None)
    sandbox_cls = factory() if factory else None
    if sandbox_cls is None:
        with_sandbox = [i.name for i in available() if _has_sandbox(i.name)]
        msg = f"connector {platform!r} ships no sandbox; sandboxes: {', '.join(with_sandbox) or 'none'}"
        raise ConfigError(msg)
    box = sandbox_cls(host=host, port=port, limits={} if no_limits else None)
    if credential:
        box.use_credential(credential)
    try:
        box.bind()  # listen first: a run started meanwhile waits instead of being refused
    except OSError as exc:
        reason = exc.strerror or str(exc)
        msg = (
            f"cannot listen on {host}:{port}: {reason}; is another sandbox or program using port {port}? "
            "Pick another --port, or --port 0 for a free one"
            if port
            else f"cannot listen on {host}: {reason}; check --host"
        )
        raise ConfigError(msg) from None
    if seed:
        try:
            box.seed(seed)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--seed {seed}: {exc}") from None
    click.echo(f"{platform} sandbox on {box.url}")
    click.echo(f"credential: {box.credential}")
    click.echo("Ctrl-C to stop")
    sys.stdout.flush()
    try:
        box.serve_forever()
    except KeyboardInterrupt:
        pass


def _has_sandbox(name: str) -> bool:
    try:
        factory = getattr(get_connector(name), "sandbox_class", None)
        return bool(factory and factory())
    except PressureError:
        return False
