"""``init``: write a commented, valid workspace to start from."""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click

from ..config import DEFAULT_CLIENT, parse_config
from ..errors import ConfigError
from ..timeutil import zone
from .base import _handle_errors, cli

CONNECTORS = ("files", "hubspot", "brevo", "mailchimp", "sfmc")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: header-only export files a files account starts with: the column contract, ready to fill
_EXPORT_HEADERS = {
    "touches": "event_id,email,channel,brand,family,sent_at,weight,campaign,product",
    "engagements": "event_id,email,type,occurred_at,channel,brand,product",
    "contacts": "email,timezone,paused_until,external_id",
}
_CREDENTIALS = {"hubspot": "HUBSPOT_TOKEN", "brevo": "BREVO_API_KEY", "mailchimp": "MAILCHIMP_API_KEY", "sfmc": "SFMC"}
#: the variables of a connector whose credential is several secrets: ``credential_env`` is their prefix
_SUFFIXES = {"sfmc": ("CLIENT_ID", "CLIENT_SECRET", "ACCOUNT_ID")}


@dataclass(frozen=True)
class Account:
    """One account ``init`` writes: a brand on a connector."""

    name: str
    connector: str
    brand: str
    credential_env: str | None


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        msg = f"{kind} name {name!r}: use letters, digits, '-' and '_' (starting with a letter or digit)"
        raise ConfigError(msg)
    return name


def plan_brands(brands: tuple[str, ...], clients: tuple[str, ...]) -> dict[str, str]:
    """Each brand and its client, from ``--brand [CLIENT:]NAME`` and ``--client NAME``."""
    names = [_check_name("client", c) for c in dict.fromkeys(clients)]
    out: dict[str, str] = {}
    for raw in brands or (tuple(names) if len(names) > 1 else ("my-brand",)):
        owner, _, brand = raw.rpartition(":")
        _check_name("brand", brand)
        if owner:
            if owner not in names:
                msg = f"--brand {raw}: unknown client {owner!r}; declare it with --client {owner}"
                raise ConfigError(msg)
        elif len(names) > 1:
            # several clients, one brand each when no --brand is given: the brand is named after it
            if brand not in names:
                msg = f"--brand {raw}: the workspace has several clients; say which owns it: --brand CLIENT:{brand}"
                raise ConfigError(msg)
            owner = brand
        else:
            owner = names[0] if names else DEFAULT_CLIENT
        if brand in out:
            msg = f"--brand {raw}: brand {brand!r} given twice"
            raise ConfigError(msg)
        out[brand] = owner
    return out


def plan_accounts(brands: dict[str, str], connectors: tuple[str, ...]) -> list[Account]:
    """One account per brand and connector; credential variables suffixed when several share a connector."""
    conns = list(dict.fromkeys(connectors or ("files",)))
    out: list[Account] = []
    for conn in conns:
        for brand in brands:
            name = brand if len(conns) == 1 else f"{brand}-{conn}"
            env = _CREDENTIALS.get(conn)
            if env and len(brands) > 1:
                env = f"{env}_{re.sub(r'[^A-Za-z0-9]', '_', brand).upper()}"
            out.append(Account(name, conn, brand, env))
    return out


def render(name: str, timezone: str, brands: dict[str, str], accounts: list[Account], clients: list[str]) -> str:
    """The text of a commented ``pressure.toml``."""
    q = _quote
    lines = [
        f"# pressure-sdk workspace {q(name)}, written by `pressure-sync init`.",
        "# Every key is explained in the README's \"Configuration reference\". Relative paths are",
        "# read from this file's folder. Secrets never go in this file: an account names the",
        "# environment variable that holds its credential (credential_env).",
        "#",
        "# Next:",
        "#   pressure-sync check --config pressure.toml          # the file, the ledger, each account",
        "#   pressure-sync run --config pressure.toml --dry-run  # pull and compute, push nothing",
        "",
        "[workspace]",
        f"name = {q(name)}",
        'ledger = ".pressure/ledger.db"',
        "# zone of contacts who have none; times without an offset in exports are read in it",
        f"timezone = {q(timezone)}",
        'week_start = "mon"',
        'channels = ["email", "sms", "push", "call", "mail", "ads"]',
        "# a push that would remove (or add) more than this share of a list stops unless --force",
        "max_remove_share = 0.5",
        "max_add_share = 0.5",
        "",
        "# Kinds of messages: higher priority goes first; exempt families are never blocked",
        "# but always counted.",
        "[families.transactional]   # order confirmations, receipts",
        "priority = 100",
        "exempt = true",
        "",
        "[families.service]         # shipping notices, password resets",
        "priority = 90",
        "exempt = true",
        "",
        "[families.care]            # follow-ups after a contact with customer service",
        "priority = 80",
        "",
        "[families.trigger]         # behavioural scenarios: abandoned cart, welcome, win-back",
        "priority = 50",
        "",
        "[families.marketing]       # campaigns, newsletters, promotions",
        "priority = 10",
        "",
    ]
    if clients:
        lines += [
            "# Clients: each is a world of its own (contacts, consent, scores, lists never cross).",
        ]
        for c in clients:
            lines += [f"[clients.{c}]", ""]
    lines += [
        "# Who sends. Brands of one `group` share customers (caps with scope = \"group\" count them",
        "# together); brands with the same `consent_scope` share opt-outs.",
    ]
    for b, owner in brands.items():
        lines.append(f"[brands.{b}]")
        if clients:
            lines.append(f"client = {q(owner)}")
        lines += ["priority = 0", f"# group = {q(owner if clients else 'my-group')}", ""]
    lines += ["# One account per brand and platform, with the suppression lists it keeps there."]
    for a in accounts:
        lines += _account(a)
    return "\n".join(lines) + "\n" + _RULES


def _account(a: Account) -> list[str]:
    q = _quote
    out = ["", "[[accounts]]", f"name = {q(a.name)}", f"connector = {q(a.connector)}", f"brand = {q(a.brand)}"]
    if a.connector == "files":
        d = f"data/{a.brand}"
        out += [
            "# CSV or JSONL exports, optionally gzipped; columns: see the README's files connector",
            "[accounts.settings]",
            f"touches = [{q(d + '/touches*.csv*')}]",
            f"engagements = [{q(d + '/engagements*.csv*')}]",
            f"contacts = [{q(d + '/contacts*.csv*')}]",
            f"out_dir = {q('out/' + a.name)}   # where pushed lists are written",
        ]
    elif a.connector == "hubspot":
        out += [
            "# a private-app token with scopes content, crm.objects.contacts.read, crm.lists.read/write",
            f"credential_env = {q(a.credential_env or '')}",
            '# base_url = "https://api.hubapi.com"   # another host, or `pressure-sync sandbox hubspot`',
            "[accounts.settings]",
            "backfill_days = 90",
        ]
    elif a.connector == "brevo":
        out += [
            "# a v3 API key",
            f"credential_env = {q(a.credential_env or '')}",
            '# base_url = "https://api.brevo.com/v3"  # another host, or `pressure-sync sandbox brevo`',
            "[accounts.settings]",
            "backfill_days = 30",
        ]
    elif a.connector == "mailchimp":
        out += [
            "# an API key; its suffix (-us6, …) says the data centre",
            f"credential_env = {q(a.credential_env or '')}",
            "# base_url = \"https://us6.api.mailchimp.com/3.0\"  # default from the key, or a sandbox's URL",
            "[accounts.settings]",
            'list_id = "0000000000"   # REPLACE with the id of the audience (list) this brand sends to',
        ]
    elif a.connector == "sfmc":
        env = a.credential_env or ""
        out += [
            "# an installed package's server-to-server client: "
            + ", ".join(f"{env}_{x}" for x in _SUFFIXES["sfmc"]),
            f"credential_env = {q(env)}",
            "# base_url = \"https://<subdomain>.auth.marketingcloudapis.com\"  # or a sandbox's URL",
            "[accounts.settings]",
            'subdomain = "replace-with-your-subdomain"   # REPLACE with the label of your tenant auth host',
        ]
    out += [
        "",
        "# who must not get a marketing email from this brand now",
        "[[accounts.lists]]",
        f"name = {q(a.brand + '-marketing-email')}",
        'channel = "email"',
        'family = "marketing"',
    ]
    return out


_RULES = """
# ---------------------------------------------------------------------------
# Rules. A rule counts and blocks the channels, families and brands it names (all of
# them when it names none); `counts = {…}` and `applies = {…}` make the two differ.
# Durations: 90m, 36h, 7d, 2w.

# At most 3 marketing emails per brand in any rolling 7 days.
[[rules]]
id = "email-weekly"
kind = "cap"
channels = ["email"]
families = ["marketing"]
max = 3
window = "7d"
scope = "brand"

# At most 5 marketing messages in 7 days from all brands of a client together,
# fewer for people who never react (tiers: new, engaged, active, dormant, inactive).
[[rules]]
id = "all-brands-weekly"
kind = "cap"
families = ["marketing"]
max = { engaged = 7, dormant = 2, inactive = 1, default = 5 }
window = "7d"
scope = "all"

# Two marketing messages at least 20 hours apart; a trigger also resets the clock.
[[rules]]
id = "spacing"
kind = "gap"
min_gap = "20h"
scope = "all"
counts = { families = ["marketing", "trigger"] }
applies = { families = ["marketing"] }

# After a spam complaint, no campaign and no trigger for 30 days, from any brand.
[[rules]]
id = "after-complaint"
kind = "quiet"
after = ["complaint"]
for = "30d"
families = ["marketing", "trigger"]

# Calls only on weekdays, 10:00-13:00 and 14:00-20:00 in the contact's zone.
# [[rules]]
# id = "call-hours"
# kind = "hours"
# channels = ["call"]
# allowed = [
#   { days = ["mon", "tue", "wed", "thu", "fri"], start = "10:00", end = "13:00" },
#   { days = ["mon", "tue", "wed", "thu", "fri"], start = "14:00", end = "20:00" },
# ]

# Tolerance capital: complaints, incidents, unsubscribes and bounces spend it; clicks,
# replies and purchases rebuild it; below the threshold marketing stops.
[tolerance]
enabled = true
start = 100
threshold = 40
blocks = ["marketing"]
"""


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write(path: Path, text: str) -> None:
    """Write atomically, readable as the umask allows."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@cli.command()
@click.option(
    "--dir",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder of the new workspace (created if missing).",
)
@click.option(
    "--connector",
    "connectors",
    multiple=True,
    type=click.Choice(CONNECTORS),
    help="Platform of the accounts (repeatable; default files): one account per brand and connector.",
)
@click.option("--brand", "brands", multiple=True, metavar="[CLIENT:]NAME", help="A brand (repeatable).")
@click.option("--client", "clients", multiple=True, metavar="NAME", help="A client, for agencies (repeatable).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of contacts who have none.")
@click.option("--force", is_flag=True, help="Overwrite an existing pressure.toml.")
@_handle_errors
def init(
    folder: str,
    connectors: tuple[str, ...],
    brands: tuple[str, ...],
    clients: tuple[str, ...],
    timezone: str,
    force: bool,
) -> None:
    """Write a commented workspace (pressure.toml) for these connectors and brands.

    Each brand gets one account per connector, keeping a marketing-email suppression
    list, and the file starts with a few common rules to adapt. A files account also gets
    header-only export files under data/<brand>/ to replace with real exports (existing
    files are never touched). An existing pressure.toml is kept unless --force.
    """
    try:
        zone(timezone)
    except ValueError as exc:
        raise ConfigError(f"--timezone: {exc}") from None
    root = Path(folder)
    target = root / "pressure.toml"
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    owners = plan_brands(brands, clients)
    accounts = plan_accounts(owners, connectors)
    declared = list(dict.fromkeys(clients))
    name = root.resolve().name or "workspace"
    text = render(name, timezone, owners, accounts, declared)
    cfg = parse_config(tomllib.loads(text), source=str(target), base_dir=root)  # never write an invalid file
    root.mkdir(parents=True, exist_ok=True)
    _write(target, text)
    made = [_n(len(owners), "brand"), _n(len(accounts), "account"), _n(len(cfg.rules), "rule")]
    click.echo(f"wrote {target}: {', '.join(made)}")
    for a in accounts:
        if a.connector == "files":
            written = []
            for kind, header in _EXPORT_HEADERS.items():
                export = root / "data" / a.brand / f"{kind}.csv"
                if not export.exists():
                    export.parent.mkdir(parents=True, exist_ok=True)
                    _write(export, header + "\n")
                    written.append(export.name)
            if written:
                where = root / "data" / a.brand
                click.echo(f"  {a.name}: put exports in {where} (header-only {', '.join(written)} written)")
        elif a.connector in _SUFFIXES:
            names = " ".join(f"{a.credential_env}_{x}=<…>" for x in _SUFFIXES[a.connector])
            click.echo(f"  {a.name}: export {names}")
        else:
            click.echo(f"  {a.name}: export {a.credential_env}=<{a.connector} credential>")
    click.echo(f"next: pressure-sync check --config {target}")
