"""Phone columns and opposition-list answers in export files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pressure_connector_files import FilesConnector

from pressure_sdk.config import WorkspaceConfig, parse_config
from pressure_sdk.errors import InputError
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch
from pressure_sdk.sync import run_sync
from pressure_sdk.timeutil import parse_instant


def workspace(tmp_path: Path, **settings: Any) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"timezone": "Europe/Paris", "ledger": "ledger.db", "now": "2026-11-10T11:00:00+01:00"},
            "brands": {"calls": {"presets": ["fr-telemarketing"]}},
            "accounts": [
                {
                    "name": "dialer",
                    "connector": "files",
                    "brand": "calls",
                    "settings": {"phone_region": "FR", **settings},
                    "lists": [{"name": "no-call", "channel": "call"}],
                }
            ],
        },
        base_dir=tmp_path,
    )


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path.name


def pull(tmp_path: Path, **settings: Any) -> list[Batch]:
    cfg = workspace(tmp_path, **settings)
    conn = FilesConnector.from_account(cfg.accounts[0], cfg, index=0)
    return list(conn.pull(None))


def test_rows_may_name_a_phone_instead_of_an_email(tmp_path: Path) -> None:
    contacts = write(
        tmp_path / "contacts.csv",
        "email,phone,call_consent_at,call_consent_source,region\n"
        'ana@x.fr,"06 12 34 56 78;+33 6 98 76 54 32",,,57\n'
        ",0611111111,2026-11-01,web form 44,\n",
    )
    touches = write(
        tmp_path / "touches.csv",
        "event_id,email,phone,channel,brand,family,sent_at\n"
        "c1,,+33612345678,call,calls,marketing,2026-11-02T10:00:00\n"
        "c2,ana@x.fr,,email,calls,marketing,2026-11-02T10:05:00\n",
    )
    engagements = write(
        tmp_path / "engagements.csv",
        "event_id,phone,type,occurred_at,channel\nr1,06 98 76 54 32,call_refused,2026-11-02T10:01:00,call\n",
    )
    batches = pull(tmp_path, contacts=contacts, touches=touches, engagements=engagements)
    people = [c for b in batches for c in b.contacts]
    assert [(c.email, c.phones) for c in people] == [
        ("ana@x.fr", ("+33612345678", "+33698765432")),
        ("", ("+33611111111",)),
    ]
    assert people[1].attributes == {"call_consent_at": "2026-11-01", "call_consent_source": "web form 44"}
    t = [t for b in batches for t in b.touches]
    assert [(x.email, x.phone) for x in t] == [("", "+33612345678"), ("ana@x.fr", None)]
    e = [e for b in batches for e in b.engagements]
    assert [(x.email, x.phone, x.type) for x in e] == [("", "+33698765432", "call_refused")]


@pytest.mark.parametrize(
    ("header", "row", "error"),
    [
        ("email,phone", "ana@x.fr,0612", "contacts.csv:2: phone: '0612' is not a valid phone number for its country"),
        ("email,phone", ",", "contacts.csv:2: phone: an email or a phone is required, got empty values"),
        (
            "email,call_consent_at",
            "ana@x.fr,2026-11-01",
            "contacts.csv:2: call_consent_source: required with call_consent_at: where the consent was given",
        ),
        (
            "email,call_consent_at,call_consent_source",
            "ana@x.fr,soon,form",
            "contacts.csv:2: call_consent_at: expected an ISO 8601 timestamp, got 'soon'",
        ),
        ("name", "ana", "contacts.csv:1: missing required column(s) email or phone"),
    ],
)
def test_bad_phone_rows_name_the_file_line_and_column(tmp_path: Path, header: str, row: str, error: str) -> None:
    name = write(tmp_path / "contacts.csv", f"{header}\n{row}\n")
    with pytest.raises(InputError) as info:
        pull(tmp_path, contacts=name)
    assert str(info.value).startswith(error)


def test_opposition_answers_take_their_date_from_their_name(tmp_path: Path) -> None:
    write(tmp_path / "bloctel/bloctel-2026-11-02.txt", "0612345678\n\n+33698765432\n")
    write(tmp_path / "bloctel/answer-20261201.csv", "phone\n0611111111\n")
    batches = pull(tmp_path, oppositions="bloctel/*")
    got = [(o.phone, o.at, o.source) for b in batches for o in b.oppositions]
    day = parse_instant("2026-11-02T00:00:00", "Europe/Paris")
    assert got == [
        ("+33611111111", parse_instant("2026-12-01T00:00:00", "Europe/Paris"), "bloctel/answer-20261201.csv"),
        ("+33612345678", day, "bloctel/bloctel-2026-11-02.txt"),
        ("+33698765432", day, "bloctel/bloctel-2026-11-02.txt"),
    ]


def test_an_opposition_answer_without_a_date_or_with_a_bad_number_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "bloctel.txt", "0612345678\n")
    with pytest.raises(InputError, match=r"bloctel\.txt: an opposition-list answer's name must carry its date"):
        pull(tmp_path, oppositions="bloctel.txt")
    write(tmp_path / "b/bloctel-2026-11-02.txt", "0612345678\nnot a number\n")
    with pytest.raises(InputError, match=r"b/bloctel-2026-11-02\.txt:2: phone: expected a phone number"):
        pull(tmp_path, oppositions="b/*.txt")


def test_a_run_puts_opposed_numbers_on_the_call_list_unless_under_contract(tmp_path: Path) -> None:
    contacts = write(
        tmp_path / "contacts.csv",
        "email,phone,ongoing_contract\nana@x.fr,0612345678,\nbob@x.fr,0698765432,yes\ncid@x.fr,0611111111,\n",
    )
    write(tmp_path / "bloctel-2026-11-02.txt", "0612345678\n0698765432\n")
    cfg = workspace(tmp_path, contacts=contacts, oppositions="bloctel-*.txt")
    report = run_sync(cfg)
    assert report.ok
    listed = (tmp_path / "out/dialer/no-call.csv").read_text().splitlines()
    assert listed == ["email,external_id", "ana@x.fr,"]
    with Ledger(tmp_path / "ledger.db") as led:
        assert led.count("phones") == 3
