"""``pressure-sync why``: the membership it explains is the membership a run pushes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli

CONFIG = """
[workspace]
ledger = "ledger.db"
timezone = "Europe/Paris"
now = "2026-11-16T12:00:00+01:00"   # a Monday

[brands.acme]
[brands.beta]

[[accounts]]
name = "acme"
connector = "files"
brand = "acme"
settings = {touches = ["touches.csv"], engagements = ["engagements.csv"], contacts = ["contacts.csv"], out_dir = "out"}
lists = [
  { name = "acme-email" },
  { name = "acme-sms", channel = "sms" },
  { name = "acme-receipts", family = "transactional" },
]

[[accounts]]
name = "beta"
connector = "files"
brand = "beta"
settings = { touches = ["beta.csv"], out_dir = "out-beta" }
lists = [{ name = "acme-email" }]

[[rules]]
id = "email-weekly"
kind = "cap"
max = 2
window = "7d"
scope = "all"
channels = ["email"]
families = ["marketing"]

[[rules]]
id = "sms-spacing"
kind = "gap"
min_gap = "2d"
channels = ["sms"]

[[rules]]
id = "after-complaint"
kind = "quiet"
after = ["complaint"]
for = "30d"

# emails only on Mondays at 03:00: lists leave sending hours out, so this changes nothing
[[rules]]
id = "night-only"
kind = "hours"
channels = ["email"]
allowed = [{ days = ["mon"], start = "03:00", end = "03:01" }]
"""

TOUCHES = """event_id,email,channel,brand,family,sent_at
t1,ana@example.com,email,acme,marketing,2026-11-14T10:00:00+01:00
t2,ana@example.com,email,acme,marketing,2026-11-15T10:00:00+01:00
t3,ana@example.com,sms,acme,marketing,2026-11-15T18:00:00+01:00
t4,bob@example.com,email,acme,marketing,2026-11-15T10:00:00+01:00
t5,dan@example.com,email,acme,marketing,2026-11-01T10:00:00+01:00
"""
ENGAGEMENTS = """event_id,email,type,occurred_at,channel
e1,cy@example.com,unsubscribe,2026-11-01T10:00:00+01:00,email
e2,dan@example.com,complaint,2026-11-10T10:00:00+01:00,sms
"""
CONTACTS = """email,timezone,paused_until
eve@example.com,America/New_York,2026-12-01T00:00:00-05:00
gus@example.com,,
"""
BETA = """event_id,email,channel,brand,family,sent_at
b1,fay@example.com,email,beta,marketing,2026-11-14T10:00:00+01:00
b2,fay@example.com,email,beta,marketing,2026-11-15T10:00:00+01:00
"""
EMAILS = [f"{n}@example.com" for n in ("ana", "bob", "cy", "dan", "eve", "fay", "gus", "zed")]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    for name, text in (
        ("pressure.toml", CONFIG),
        ("touches.csv", TOUCHES),
        ("engagements.csv", ENGAGEMENTS),
        ("contacts.csv", CONTACTS),
        ("beta.csv", BETA),
    ):
        (tmp_path / name).write_text(text)
    return tmp_path / "pressure.toml"


def pushed(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with path.open(newline="") as fh:
        return {r["email"] for r in csv.DictReader(fh)}


def why(ws: Path, email: str, *args: str) -> dict:
    code, out = invoke("why", "--config", str(ws), email, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def run(ws: Path, *args: str) -> None:
    code, out = invoke("run", "--config", str(ws), *args)
    assert code == 0, out


LISTS = [("acme", "acme-email", "out"), ("acme", "acme-sms", "out"), ("acme", "acme-receipts", "out")]
LISTS += [("beta", "acme-email", "out-beta")]


def test_why_agrees_with_the_pushed_lists_for_every_contact(ws: Path) -> None:
    run(ws)
    on: set[tuple[str, str, str]] = set()
    for account, lst, out in LISTS:
        members = pushed(ws.parent / out / f"{lst}.csv")
        for email in EMAILS:
            m = why(ws, email, "--list", lst, "--account", account)
            assert m["on_list"] is (email in members), (account, lst, email, m)
            assert m["pushed"] is m["on_list"]
            assert bool(m["reasons"]) is m["on_list"]
            if m["on_list"]:
                on.add((account, lst, email.split("@")[0]))
    assert on == {
        ("acme", "acme-email", "ana"),  # cap
        ("acme", "acme-email", "cy"),  # consent
        ("acme", "acme-email", "dan"),  # quiet after a complaint (made on sms)
        ("acme", "acme-email", "eve"),  # pause
        ("acme", "acme-sms", "ana"),  # gap
        ("acme", "acme-sms", "dan"),  # consent and quiet
        ("acme", "acme-sms", "eve"),  # pause
        ("beta", "acme-email", "fay"),  # cap, on beta's platform only
    }


def test_why_names_the_rule_the_counted_touches_and_when_it_leaves(ws: Path) -> None:
    run(ws)
    code, out = invoke("why", "--config", str(ws), "ANA@example.com", "--list", "acme-email", "--account", "acme")
    assert code == 0, out
    assert out.splitlines() == [
        "ana@example.com is ON list acme-email (account acme) as of 2026-11-16T12:00:00+01:00",
        "  the list holds the contacts a marketing email from acme would be blocked for (sending hours aside)",
        "  - cap:email-weekly 2/2 in 7d (all brands)",
        "      2026-11-14T10:00:00+01:00  acme           email  marketing     w=1",
        "      2026-11-15T10:00:00+01:00  acme           email  marketing     w=1",
        "  leaves at 2026-11-21T10:00:00+01:00 if nothing else is sent (the first run after then removes it)",
        "  pushed: yes, the platform's list holds it (last confirmed push)",
    ]
    m = why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme")
    (reason,) = m["reasons"]
    assert (reason["rule"], reason["kind"], reason["counted"], reason["limit"]) == ("email-weekly", "cap", 2, 2)
    assert [t["at"] for t in reason["touches"]] == ["2026-11-14T09:00:00+00:00", "2026-11-15T09:00:00+00:00"]
    assert m["leaves_at"] == reason["until"] == "2026-11-21T09:00:00+00:00"
    assert m["standard_candidate"] == {
        "channel": "email",
        "brand": "acme",
        "family": "marketing",
        "product": None,
        "exempt": False,
    }


@pytest.mark.parametrize(
    ("email", "lst", "rule", "leaves_at", "says"),
    [
        ("ana@example.com", "acme-sms", "sms-spacing", "2026-11-17T17:00:00+00:00", "gap:sms-spacing"),
        ("cy@example.com", "acme-email", "consent", None, "an opt-out holds until the contact resubscribes"),
        ("dan@example.com", "acme-email", "after-complaint", "2026-12-10T09:00:00+00:00", "quiet:after-complaint"),
        ("eve@example.com", "acme-email", "pause", "2026-12-01T05:00:00+00:00", "consent: contact paused until"),
    ],
)
def test_each_kind_of_reason_and_its_end(
    ws: Path, email: str, lst: str, rule: str, leaves_at: str | None, says: str
) -> None:
    run(ws)
    m = why(ws, email, "--list", lst, "--account", "acme")
    assert m["on_list"] and [r["rule"] for r in m["reasons"]] == [rule]
    assert m["leaves_at"] == leaves_at
    code, out = invoke("why", "--config", str(ws), email, "--list", lst, "--account", "acme")
    assert code == 0 and says in out


def test_contacts_off_the_list_say_why_not(ws: Path) -> None:
    run(ws)
    code, out = invoke("why", "--config", str(ws), "bob@example.com", "--list", "acme-email", "--account", "acme")
    assert code == 0
    assert "is NOT on list acme-email" in out and "a marketing email from acme would be allowed now" in out
    assert "pushed: no, the platform's list does not hold it" in out
    # fay is capped by beta's emails, but acme's platform does not hold her: only the audience is listed
    m = why(ws, "fay@example.com", "--list", "acme-email", "--account", "acme")
    assert (m["known"], m["in_audience"], m["on_list"], m["reasons"]) == (True, False, False, [])
    assert why(ws, "fay@example.com", "--list", "acme-email", "--account", "beta")["on_list"] is True
    code, out = invoke("why", "--config", str(ws), "zed@example.com", "--list", "acme-email", "--account", "acme")
    assert "not in the ledger of client default" in out
    code, out = invoke("why", "--config", str(ws), "ana@example.com", "--list", "acme-receipts")
    assert "is NOT on list acme-receipts" in out and "transactional is an exempt family" in out


def test_leaves_at_is_when_a_run_takes_the_contact_off(ws: Path) -> None:
    run(ws)
    leaves = why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme")["leaves_at"]
    assert leaves == "2026-11-21T09:00:00+00:00"
    listed = ws.parent / "out" / "acme-email.csv"
    run(ws, "--now", "2026-11-21T08:59:59+00:00")
    assert "ana@example.com" in pushed(listed)
    # at that instant why already says she is off, and that the next run removes her
    m = why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme", "--now", leaves)
    assert (m["on_list"], m["pushed"], m["leaves_at"]) == (False, True, None)
    code, out = invoke(
        "why", "--config", str(ws), "ana@example.com", "--list", "acme-email", "--account", "acme", "--now", leaves
    )
    assert "pushed: yes, but the next run removes it" in out
    run(ws, "--now", leaves)
    assert "ana@example.com" not in pushed(listed)
    assert why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme", "--now", leaves)["pushed"] is False


def test_a_contact_not_yet_pushed_is_announced(ws: Path) -> None:
    m = why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme")
    assert (m["known"], m["on_list"]) == (False, False)  # nothing imported yet
    run(ws, "--dry-run")  # a dry run leaves the ledger as it was
    assert why(ws, "ana@example.com", "--list", "acme-email", "--account", "acme")["known"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ana@example.com", "--list", "nope"], "unknown list 'nope' in the workspace; known: acme-email, acme-r"),
        (["ana@example.com", "--list", "acme-email"], "kept by several accounts (acme, beta); say which with --acc"),
        (["ana@example.com", "--list", "acme-sms", "--account", "zzz"], "unknown account 'zzz'"),
        (["not an email", "--list", "acme-sms"], "'not an email' is not a valid email address"),
        (["ana@example.com", "--list", "acme-sms", "--now", "later"], "ISO 8601"),
    ],
)
def test_bad_arguments_exit_2_naming_them(ws: Path, args: list[str], message: str) -> None:
    code, out = invoke("why", "--config", str(ws), *args)
    assert code == 2 and message in out


def test_the_python_membership_of_a_contact_off_the_list(ws: Path) -> None:
    from pressure_sdk.explain import membership
    from pressure_sdk.workspace import Workspace

    run(ws)
    with Workspace.open(ws) as w:
        bob = membership(w, "bob@example.com", "acme-email", account="acme")
        assert (bob.on_list, bob.leaves_at, bob.reasons, bob.decision.allowed) == (False, None, (), True)
        # fay would be blocked, but acme does not hold her: off the list, the decision still says why
        fay = membership(w, "fay@example.com", "acme-email", account="acme")
        assert (fay.on_list, fay.leaves_at, fay.reasons) == (False, None, ())
        assert not fay.decision.allowed and fay.decision.blocking_rules == ["email-weekly"]
        assert fay.decision.next_allowed_at == w.now() + (5 * 86400 - 2 * 3600)  # 7 days after 11-14 10:00
        ana = membership(w, "ana@example.com", "acme-email", account="acme")
        assert ana.on_list and ana.leaves_at == ana.decision.next_allowed_at == fay.decision.next_allowed_at
