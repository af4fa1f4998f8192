"""The CLI names contacts by phone: decide --phone, why and forget with a number, plan files with a phone column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.ledger import Ledger

CONFIG = """
[workspace]
ledger = "ledger.db"
timezone = "Europe/Paris"
now = "2026-11-16T11:00:00+01:00"
phone_region = "FR"

[brands.calls]
presets = ["fr-telemarketing"]

[[accounts]]
name = "dialer"
connector = "files"
brand = "calls"
settings = { contacts = "contacts.csv", touches = "touches.csv", phone_region = "FR" }
lists = [{ name = "no-call", channel = "call" }]
"""
CONTACTS = "email,phone\nana@example.fr,06 12 34 56 78\nbob@example.fr,06 98 76 54 32\n"
TOUCHES = "event_id,phone,channel,brand,family,sent_at\n" + "".join(
    f"c{i},06 12 34 56 78,call,calls,marketing,2026-11-{d:02d}T10:00:00\n" for i, d in enumerate((2, 4, 6, 9))
)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def ws(tmp_path: Path) -> str:
    (tmp_path / "pressure.toml").write_text(CONFIG)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "touches.csv").write_text(TOUCHES)
    config = str(tmp_path / "pressure.toml")
    code, out = invoke("run", "--config", config)
    assert code == 0, out
    return config


def test_decide_by_phone_is_the_contact_holding_the_number(ws: str) -> None:
    code, out = invoke("decide", "--config", ws, "--phone", "+33 6 12 34 56 78", "--channel", "call",
                       "--brand", "calls", "--family", "marketing", "--json")  # fmt: skip
    assert code == 0, out
    d = json.loads(out)
    assert d["allowed"] is False and d["reasons"][0]["rule"] == "fr-telemarketing:attempts"
    assert len(d["reasons"][0]["touches"]) == 4
    code, out = invoke("decide", "--config", ws, "--phone", "06 98 76 54 32", "--channel", "call",
                       "--brand", "calls", "--family", "marketing")  # fmt: skip
    assert code == 0 and out.startswith("ALLOWED: marketing call from calls to bob@example.fr"), out


def test_decide_needs_a_contact_and_refuses_a_bad_number(ws: str) -> None:
    base = ("decide", "--config", ws, "--channel", "call", "--brand", "calls", "--family", "marketing")
    code, out = invoke(*base)
    assert code == 2 and "--email or --phone" in out
    code, out = invoke(*base, "--phone", "0612")
    assert code == 2 and "phone: '0612' is not a valid phone number" in out


def test_why_by_number(ws: str) -> None:
    code, out = invoke("why", "--config", ws, "0612345678", "--list", "no-call", "--json")
    assert code == 0, out
    m = json.loads(out)
    assert m["on_list"] is True and m["reasons"][0]["rule"] == "fr-telemarketing:attempts"


def test_forget_by_number_erases_the_contact_and_its_numbers(ws: str, tmp_path: Path) -> None:
    code, out = invoke("forget", "--config", ws, "06 12 34 56 78")
    assert code == 1 and "Aborted" in out  # no confirmation given
    assert "4 touches" in out and "1 phone number (+33612345678)" in out
    code, out = invoke("forget", "--config", ws, "--yes", "06 12 34 56 78")
    assert code == 0 and "erased tel:+33612345678 from default" in out, out
    with Ledger(tmp_path / "ledger.db") as led:
        assert led.contact("ana@example.fr") is None and led.count("touches") == 0
        assert led.phone_owners("default", ["+33612345678"]) == {}


def test_plan_reads_a_phone_column(ws: str, tmp_path: Path) -> None:
    plan = tmp_path / "calls.csv"
    plan.write_text(
        "candidate_id,email,phone,channel,brand,family,planned_at\n"
        "a1,,06 98 76 54 32,call,calls,marketing,2026-11-17T11:00:00+01:00\n"
        "a2,,06 12 34 56 78,call,calls,marketing,2026-11-17T11:00:00+01:00\n"
        "a3,bob@example.fr,,call,calls,marketing,2026-11-17T13:30:00+01:00\n"
    )
    out_csv = tmp_path / "out.csv"
    code, out = invoke("plan", "--config", ws, "--candidates", str(plan), "--out", str(out_csv))
    assert code == 0, out
    rows = list(csv.DictReader(out_csv.open(newline="")))
    assert [(r["email"], r["phone"], r["decision"]) for r in rows] == [
        ("bob@example.fr", "+33698765432", "accepted"),
        ("ana@example.fr", "+33612345678", "rejected"),
        ("bob@example.fr", "", "rejected"),
    ]
    plan.write_text(
        "candidate_id,email,phone,channel,brand,family,planned_at\na1,,0698,call,calls,marketing,2026-11-17\n"
    )
    code, out = invoke("plan", "--config", ws, "--candidates", str(plan), "--out", str(out_csv))
    assert code != 0 and f"{plan}:2: phone: expected a phone number such as +33612345678, got '0698'" in out
