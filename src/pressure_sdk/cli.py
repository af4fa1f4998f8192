"""``pressure-sync``: thin commands over the SDK. Exit codes: 0 ok, 1 failure, 2 config/usage."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__
from .config import AccountConfig, WorkspaceConfig, load_config
from .connectors.base import Connector
from .connectors.registry import available, get_connector
from .errors import ConfigError, PressureError
from .http.redaction import RedactingFilter
from .ledger import Ledger
from .planfile import read_candidates, summarize, write_plan
from .sync import build_connectors, run_sync, select_accounts
from .tiers import score_all
from .timeutil import parse_instant, to_iso
from .validate import check_email
from .workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PressureError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


config_option = click.option(
    "--config",
    "config_path",
    envvar="PRESSURE_CONFIG",
    default="pressure.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Workspace file (or set PRESSURE_CONFIG).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
client_option = click.option("--client", metavar="NAME", help="Only this client of the workspace.")


def _at(cfg: WorkspaceConfig, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_instant(value, cfg.workspace.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pressure-sync")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug) on stderr.")
def cli(verbose: int) -> None:
    """Keep one ledger of marketing pressure and push suppression lists to your platforms."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        # secrets never reach the log, whichever library logs them
        handler.addFilter(RedactingFilter())


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
            out = {
                "allowed": d.allowed,
                "exempt": d.exempt,
                "at": to_iso(d.candidate.at),
                "reasons": [r.as_dict() for r in d.reasons],
                "next_allowed_at": to_iso(d.next_allowed_at),
            }
            click.echo(json.dumps(out, indent=2))
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
    if summary["rules"]:
        click.echo("rejections per rule:")
        for rule, n in summary["rules"].items():
            click.echo(f"  {rule:<24} {n}")
    click.echo("per brand:")
    for brand, c in summary["brands"].items():
        click.echo(f"  {brand:<24} accepted {c['accepted']:>6}  rejected {c['rejected']:>6}")


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
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--client", metavar="NAME", help="Erase it from this client only (default: every client).")
@_handle_errors
def forget(config_path: str, email: str, yes: bool, client: str | None) -> None:
    """Erase a contact from the ledger (right to erasure); later imports never bring it back."""
    cfg = load_config(config_path)
    cfg.check_client(client)
    key = check_email(email)
    clients = [client] if client else cfg.client_names
    where = f"client {client}" if client else "every client"
    if not yes:
        click.confirm(f"Erase every trace of {key} ({where}) from {cfg.ledger_path}?", abort=True)
    with Ledger(cfg.ledger_path) as led:
        found = led.forget(key, clients)
    if found:
        click.echo(f"erased {key} from {', '.join(found)}; one-way tombstones keep it out of future imports ({where})")
    else:
        click.echo(f"{key} was not in the ledger; one-way tombstones keep it out of future imports ({where})")
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
    box.bind()  # listen first: a run started meanwhile waits instead of being refused
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


def main() -> None:
    cli()


__all__ = ["cli", "main"]
