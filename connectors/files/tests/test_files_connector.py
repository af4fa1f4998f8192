"""The files connector against real files in a temporary workspace folder."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_files import FilesConnector
from pressure_connector_files import connector as connector_module

from pressure_sdk.config import WorkspaceConfig, parse_config
from pressure_sdk.connectors import RemoteList, RemoteMember, get_connector
from pressure_sdk.errors import ConfigError, ConnectorError, InputError
from pressure_sdk.ledger import Ledger
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import ENGAGEMENT_TYPES, Batch, ContactUpdate, Engagement, Touch

TOUCH_HEADER = "event_id,email,channel,brand,family,sent_at,weight,campaign,product"
ENGAGEMENT_HEADER = "event_id,email,type,occurred_at,channel,brand,product"


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[misc]


def workspace(tmp_path: Path, settings: dict[str, Any], *, brand: str | None = "acme") -> WorkspaceConfig:
    account: dict[str, Any] = {
        "name": "acme-files",
        "connector": "files",
        "settings": settings,
        "lists": [{"name": "email-marketing", "brand": "acme"}],
    }
    if brand is not None:
        account["brand"] = brand
    return parse_config(
        {
            "workspace": {"timezone": "Europe/Paris"},
            "brands": {"acme": {}, "beta": {}},
            "accounts": [account],
        },
        base_dir=tmp_path,
    )


def make(tmp_path: Path, *, brand: str | None = "acme", **settings: Any) -> FilesConnector:
    cfg = workspace(tmp_path, settings, brand=brand)
    conn = FilesConnector.from_account(cfg.accounts[0], cfg)
    assert isinstance(conn, FilesConnector)
    return conn


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def pull_all(conn: FilesConnector, state: dict[str, Any] | None = None) -> list[Batch]:
    return list(conn.pull(state))


def pull_until_error(conn: FilesConnector, state: dict[str, Any] | None = None) -> tuple[list[Batch], InputError]:
    got: list[Batch] = []
    with pytest.raises(InputError) as info:
        for b in conn.pull(state):
            got.append(b)
    return got, info.value


def touches_of(batches: list[Batch]) -> list[Touch]:
    return [t for b in batches for t in b.touches]


# -- plugin and settings ------------------------------------------------------------------


def test_registered_under_entry_point() -> None:
    assert get_connector("files") is FilesConnector
    assert FilesConnector.name == "files"
    assert FilesConnector.max_batch >= 10**9


def test_settings_accept_single_string_and_defaults(tmp_path: Path) -> None:
    conn = make(tmp_path, touches="data/t.csv")
    assert conn.settings.touches == ["data/t.csv"]
    assert conn.settings.engagements == []
    assert conn.settings.contacts == []
    assert conn.settings.batch_size == 50_000
    assert conn.out_dir == tmp_path / "out" / "acme-files"
    assert make(tmp_path, out_dir="lists").out_dir == tmp_path / "lists"


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"touch": ["x.csv"]}, "accounts[0].settings.touch: unknown key"),
        ({"batch_size": 0}, "batch_size"),
        ({"touches": [""]}, "touches"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, settings: dict[str, Any], needle: str) -> None:
    cfg = workspace(tmp_path, settings)
    with pytest.raises(ConfigError) as info:
        FilesConnector.from_account(cfg.accounts[0], cfg, index=0)
    assert needle in str(info.value)


# -- parsing every column -------------------------------------------------------------------


def test_touch_columns_and_naive_time_in_workspace_zone(tmp_path: Path) -> None:
    write(
        tmp_path / "data/touches.csv",
        lines(
            TOUCH_HEADER + ",ignored",
            # naive winter time in Europe/Paris is UTC+1
            "t1, Ann@Example.COM ,email,beta,marketing,2024-03-01T10:00:00,0.5,spring,shoes,x",
            # naive summer time is UTC+2; empty brand takes the account's
            "t2,bob@example.com,sms,,trigger,2024-07-01T10:00:00,,,,y",
            "t3,cy@example.com,email,acme,care,2024-07-01T10:00:00Z,2,,,",
            "t4,dee@example.com,email,acme,care,2024-07-01T10:00:00-05:00,0,,,",
        ),
    )
    conn = make(tmp_path, touches=["data/*.csv"])
    got = touches_of(pull_all(conn))
    assert got == [
        Touch("t1", "ann@example.com", "email", "beta", "marketing", utc(2024, 3, 1, 9), 0.5, "spring", "shoes"),
        Touch("t2", "bob@example.com", "sms", "acme", "trigger", utc(2024, 7, 1, 8)),
        Touch("t3", "cy@example.com", "email", "acme", "care", utc(2024, 7, 1, 10), 2.0),
        Touch("t4", "dee@example.com", "email", "acme", "care", utc(2024, 7, 1, 15), 0.0),
    ]


def test_touch_csv_without_optional_columns(tmp_path: Path) -> None:
    write(
        tmp_path / "t.csv",
        lines("sent_at,family,brand,channel,email,event_id", "2024-01-01T00:00:00Z,marketing,acme,email,a@x.io,1"),
    )
    got = touches_of(pull_all(make(tmp_path, touches="t.csv")))
    assert got == [Touch("1", "a@x.io", "email", "acme", "marketing", utc(2024, 1, 1))]


def test_engagement_columns(tmp_path: Path) -> None:
    write(
        tmp_path / "e.csv",
        lines(
            ENGAGEMENT_HEADER + ",extra",
            "e1,A@x.io,click,2024-03-01T10:00:00,email,beta,shoes,zz",
            "e2,b@x.io,unsubscribe,2024-03-01T10:00:00+00:00,,,,",
        ),
    )
    batches = pull_all(make(tmp_path, engagements="e.csv"))
    got = [e for b in batches for e in b.engagements]
    assert got == [
        Engagement("e1", "a@x.io", "click", utc(2024, 3, 1, 9), "email", "beta", "shoes"),
        Engagement("e2", "b@x.io", "unsubscribe", utc(2024, 3, 1, 10), None, None, None),
    ]
    assert all(not b.touches and not b.contacts for b in batches)


def test_contact_columns_and_attributes(tmp_path: Path) -> None:
    write(
        tmp_path / "c.csv",
        lines(
            "email,timezone,paused_until,external_id,max_per_week,score,segment,zip,empty",
            "A@x.io,America/New_York,2024-05-01T00:00:00,ext-1,2,1.5,vip,007,",
            "b@x.io,,,,,,,,",
        ),
    )
    got = [c for b in pull_all(make(tmp_path, contacts="c.csv")) for c in b.contacts]
    assert got == [
        ContactUpdate(
            "a@x.io",
            timezone="America/New_York",
            # naive pause end read in the workspace zone (Paris, UTC+2 in May)
            paused_until=utc(2024, 4, 30, 22),
            attributes={"max_per_week": 2, "score": 1.5, "segment": "vip", "zip": "007"},
            external_id="ext-1",
        ),
        ContactUpdate("b@x.io"),
    ]
    assert type(got[0].attributes["max_per_week"]) is int


def test_jsonl_and_gzip_files(tmp_path: Path) -> None:
    write(
        tmp_path / "t.jsonl",
        lines(
            json.dumps(
                {
                    "event_id": 7,
                    "email": "a@x.io",
                    "channel": "email",
                    "brand": None,
                    "family": "marketing",
                    "sent_at": "2024-03-01T10:00:00",
                    "weight": 1.5,
                    "campaign": None,
                    "other": [1],
                }
            ),
            "",
            json.dumps(
                {
                    "event_id": "8",
                    "email": "b@x.io",
                    "channel": "push",
                    "brand": "beta",
                    "family": "care",
                    "sent_at": "2024-03-01T10:00:00Z",
                    "weight": "2",
                }
            ),
        ),
    )
    write(tmp_path / "t2.csv.gz", lines(TOUCH_HEADER, "9,c@x.io,email,acme,marketing,2024-03-01T10:00:00Z,,,"))
    write(
        tmp_path / "c.jsonl.gz",
        lines(json.dumps({"email": "a@x.io", "max_per_week": 3, "vip": True, "note": "12", "gone": None})),
    )
    batches = pull_all(make(tmp_path, touches=["*.jsonl", "*.csv.gz"], contacts="*.jsonl.gz"))
    assert [c for b in batches for c in b.contacts] == [
        ContactUpdate("a@x.io", attributes={"max_per_week": 3, "vip": True, "note": 12})
    ]
    assert touches_of(batches) == [
        Touch("7", "a@x.io", "email", "acme", "marketing", utc(2024, 3, 1, 9), 1.5),
        Touch("8", "b@x.io", "push", "beta", "care", utc(2024, 3, 1, 10), 2.0),
        Touch("9", "c@x.io", "email", "acme", "marketing", utc(2024, 3, 1, 10)),
    ]


def test_csv_with_bom_and_multiline_field_keeps_line_numbers(tmp_path: Path) -> None:
    write(
        tmp_path / "t.csv",
        "\ufeff"
        + lines(
            TOUCH_HEADER,
            '1,a@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,"two\nlines",',
            "2,b@x.io,email,acme,marketing,never,,,",
        ),
    )
    got, err = pull_until_error(make(tmp_path, touches="t.csv"))
    assert got == []
    # header is line 1, the quoted field spans lines 2-3, so the bad row is line 4
    assert str(err) == "t.csv:4: sent_at: expected an ISO 8601 timestamp, got 'never'"


# -- bad input ------------------------------------------------------------------------------

GOOD_TOUCH = "1,a@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,,"


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, "2,b@x.io,email,acme,marketing,yesterday,,,"),
            "data/acme/touches.csv:4: sent_at: expected an ISO 8601 timestamp, got 'yesterday'",
        ),
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, "2,not-an-email,email,acme,marketing,2024-01-01T00:00:00Z,,,"),
            "data/acme/touches.csv:4: email: expected an email address, got 'not-an-email'",
        ),
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, "2,b@x.io,email,acme,marketing,2024-01-01T00:00:00Z,-1,,"),
            "data/acme/touches.csv:4: weight: expected a number >= 0, got '-1'",
        ),
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, "2,b@x.io,email,acme,marketing,2024-01-01T00:00:00Z,heavy,,"),
            "data/acme/touches.csv:4: weight: expected a number >= 0, got 'heavy'",
        ),
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, ",b@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,,"),
            "data/acme/touches.csv:4: event_id: required, got an empty value",
        ),
        (
            "touches.csv",
            lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH, "2,b@x.io,email,acme,marketing"),
            "data/acme/touches.csv:4: expected 9 fields as in the header, got 5",
        ),
        (
            "touches.jsonl",
            lines(
                json.dumps(
                    {
                        "event_id": "1",
                        "email": "a@x.io",
                        "channel": "email",
                        "brand": "acme",
                        "family": "marketing",
                        "sent_at": "2024-01-01T00:00:00Z",
                    }
                ),
                json.dumps(
                    {
                        "event_id": "1",
                        "email": "a@x.io",
                        "channel": "email",
                        "brand": "acme",
                        "family": "marketing",
                        "sent_at": "2024-01-01T00:00:00Z",
                    }
                ),
                "",
                json.dumps(
                    {
                        "event_id": "2",
                        "email": "b@x.io",
                        "channel": "email",
                        "brand": "acme",
                        "sent_at": "2024-01-01T00:00:00Z",
                    }
                ),
            ),
            "data/acme/touches.jsonl:4: family: required, but the row has no such key",
        ),
        (
            "touches.jsonl",
            lines("{not json"),
            "data/acme/touches.jsonl:1: expected a JSON object, got invalid JSON",
        ),
        (
            "touches.jsonl",
            lines(
                json.dumps(
                    {
                        "event_id": "1",
                        "email": "a@x.io",
                        "channel": "email",
                        "brand": "acme",
                        "family": "marketing",
                        "sent_at": 1704067200,
                    }
                )
            ),
            "data/acme/touches.jsonl:1: sent_at: expected an ISO 8601 timestamp, got 1704067200",
        ),
        (
            "events.csv",
            lines(
                ENGAGEMENT_HEADER,
                "e1,a@x.io,click,2024-01-01T00:00:00Z,,,",
                "e1,a@x.io,click,2024-01-01T00:00:00Z,,,",
                "e2,a@x.io,clicked,2024-01-01T00:00:00Z,,,",
            ),
            f"data/acme/events.csv:4: type: expected one of "
            f"{', '.join(sorted(ENGAGEMENT_TYPES | {'recommendation', 'referral', 'review'}))}, got 'clicked' "
            "(the workspace may declare other relationship types under [value] relationship)",
        ),
        (
            "contacts.csv",
            lines("email,timezone", "a@x.io,Europe/Paris", "b@x.io,UTC", "b@x.io,Mars/Olympus"),
            "data/acme/contacts.csv:4: timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "contacts.csv",
            lines("email,paused_until", "a@x.io,", "a@x.io,2024-01-01", "b@x.io,soon"),
            "data/acme/contacts.csv:4: paused_until: expected an ISO 8601 timestamp, got 'soon'",
        ),
    ],
)
def test_bad_row_names_file_line_column_and_yields_nothing_of_the_file(
    tmp_path: Path, name: str, body: str, message: str
) -> None:
    # a good file of an earlier kind is imported; the bad file contributes nothing, even
    # though with batch_size 1 its good first rows would fill whole batches before the bad one
    write(tmp_path / "data/acme/a-contacts.csv", lines("email", "first@x.io"))
    write(tmp_path / "data/acme" / name, body)
    kind = {"touches": "touches", "events": "engagements", "contacts": "contacts"}[name.split(".")[0]]
    settings: dict[str, Any] = {kind: f"data/acme/{name}", "batch_size": 1}
    if kind != "contacts":
        settings["contacts"] = "data/acme/a-contacts.csv"
    else:
        settings["contacts"] = ["data/acme/a-contacts.csv", f"data/acme/{name}"]
    got, err = pull_until_error(make(tmp_path, **settings))
    assert str(err).startswith(message)
    assert [c.email for b in got for c in b.contacts] == ["first@x.io"]
    assert not any(b.touches or b.engagements for b in got)
    # only the good file's hash reached the watermark
    assert [sorted(b.state["files"]) for b in got if b.state is not None] == [["data/acme/a-contacts.csv"]]


def test_missing_header_columns_named(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines("event_id,email,channel,when", "1,a@x.io,email,2024-01-01"))
    got, err = pull_until_error(make(tmp_path, touches="t.csv"))
    assert got == []
    text = str(err)
    assert text.startswith("t.csv:1: missing required column(s) brand, family, sent_at;")
    assert "the header has event_id, email, channel, when" in text


def test_empty_brand_without_account_brand_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines(TOUCH_HEADER, "1,a@x.io,email,,marketing,2024-01-01T00:00:00Z,,,"))
    got, err = pull_until_error(make(tmp_path, brand=None, touches="t.csv"))
    assert got == []
    assert str(err).startswith("t.csv:2: brand: required")


def test_bad_gzip_and_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "t.csv.gz").write_bytes(b"plain text, not gzip\n")
    _, err = pull_until_error(make(tmp_path, touches="t.csv.gz"))
    assert str(err).startswith("t.csv.gz: not a valid gzip file")
    data = gzip.compress(lines(TOUCH_HEADER, GOOD_TOUCH, GOOD_TOUCH).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) - 12])
    got, err = pull_until_error(make(tmp_path, touches="cut.csv.gz", batch_size=1))
    assert got == []
    assert str(err).startswith("cut.csv.gz: not a valid gzip file")
    write(tmp_path / "x/t.txt", "hello")
    _, err = pull_until_error(make(tmp_path, touches="x/*"))
    assert str(err).startswith("x/t.txt: unsupported file type")


# -- watermark ------------------------------------------------------------------------------


def test_repull_with_state_yields_nothing_and_changed_file_is_reread(tmp_path: Path) -> None:
    t = write(tmp_path / "t.csv", lines(TOUCH_HEADER, GOOD_TOUCH))
    write(tmp_path / "e.csv", lines(ENGAGEMENT_HEADER, "e1,a@x.io,open,2024-01-01T00:00:00Z,,,"))
    conn = make(tmp_path, touches="t.csv", engagements="e.csv")
    first = pull_all(conn)
    state = first[-1].state
    assert state is not None
    assert set(state["files"]) == {"t.csv", "e.csv"}
    assert pull_all(conn, state) == []

    write(t, lines(TOUCH_HEADER, GOOD_TOUCH, "2,b@x.io,email,acme,marketing,2024-01-02T00:00:00Z,,,"))
    again = pull_all(conn, state)
    # the whole changed file again; the unchanged engagements file stays skipped
    assert [x.event_id for x in touches_of(again)] == ["1", "2"]
    assert not any(b.engagements for b in again)
    new_state = again[-1].state
    assert new_state is not None
    assert new_state["files"]["e.csv"] == state["files"]["e.csv"]
    assert new_state["files"]["t.csv"] != state["files"]["t.csv"]
    assert pull_all(conn, new_state) == []


def test_state_only_on_last_batch_of_each_file(tmp_path: Path) -> None:
    row = "{},a@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,,"
    write(tmp_path / "a.csv", lines(TOUCH_HEADER, *[row.format(f"a{i}") for i in range(5)]))
    write(tmp_path / "b.csv", lines(TOUCH_HEADER, *[row.format(f"b{i}") for i in range(4)]))
    write(tmp_path / "c.csv", lines(TOUCH_HEADER))
    batches = pull_all(make(tmp_path, touches="*.csv", batch_size=2))
    assert [[t.event_id for t in b.touches] for b in batches] == [
        ["a0", "a1"],
        ["a2", "a3"],
        ["a4"],
        ["b0", "b1"],
        ["b2", "b3"],
        [],
    ]
    states = [b.state for b in batches]
    assert [s is not None for s in states] == [False, False, True, False, True, True]
    assert [sorted(s["files"]) for s in states if s] == [["a.csv"], ["a.csv", "b.csv"], ["a.csv", "b.csv", "c.csv"]]


def test_yielded_states_are_new_dicts_and_input_state_is_untouched(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", lines(TOUCH_HEADER, GOOD_TOUCH))
    write(tmp_path / "b.csv", lines(TOUCH_HEADER, GOOD_TOUCH))
    previous = {"files": {"old.csv": "0" * 64}, "version": 1}
    snapshot = json.loads(json.dumps(previous))
    batches = pull_all(make(tmp_path, touches="*.csv"), previous)
    assert previous == snapshot
    s1, s2 = batches[0].state, batches[1].state
    assert s1 is not None and s2 is not None
    assert s1 is not s2 and s1["files"] is not s2["files"]
    assert sorted(s1["files"]) == ["a.csv", "old.csv"]
    assert sorted(s2["files"]) == ["a.csv", "b.csv", "old.csv"]
    assert s2["version"] == 1


def test_order_contacts_then_touches_then_engagements_by_path(tmp_path: Path) -> None:
    write(tmp_path / "z/e.csv", lines(ENGAGEMENT_HEADER, "e1,a@x.io,open,2024-01-01T00:00:00Z,,,"))
    write(tmp_path / "b-t.csv", lines(TOUCH_HEADER, "tb,a@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,,"))
    write(tmp_path / "a-t.csv", lines(TOUCH_HEADER, "ta,a@x.io,email,acme,marketing,2024-01-01T00:00:00Z,,,"))
    write(tmp_path / "y/c.csv", lines("email", "a@x.io"))
    conn = make(tmp_path, engagements="z/*.csv", touches=["b-t.csv", "*-t.csv"], contacts="**/c.csv")
    batches = pull_all(conn)
    kinds = ["c" if b.contacts else "t" if b.touches else "e" for b in batches]
    assert kinds == ["c", "t", "t", "e"]
    assert [t.event_id for t in touches_of(batches)] == ["ta", "tb"]


def test_file_changed_while_reading_gives_no_watermark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "t.csv", lines(TOUCH_HEADER, GOOD_TOUCH))
    # the hash taken before reading no longer matches the bytes read
    monkeypatch.setattr(connector_module, "sha256_file", lambda path: "0" * 64)
    got, err = pull_until_error(make(tmp_path, touches="t.csv"))
    assert got == []
    assert "t.csv: the file changed while it was being read" in str(err)


def test_pattern_matching_nothing_fails_pull_and_check(tmp_path: Path) -> None:
    conn = make(tmp_path, touches="exports/*.csv")
    with pytest.raises(ConnectorError) as info:
        conn.check()
    assert "settings.touches pattern 'exports/*.csv' matches no file" in str(info.value)
    with pytest.raises(ConnectorError):
        pull_all(conn)


def test_file_matched_as_two_kinds_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "all.csv", lines(TOUCH_HEADER))
    conn = make(tmp_path, touches="*.csv", engagements="all.csv")
    with pytest.raises(ConnectorError) as info:
        pull_all(conn)
    assert "all.csv matches both the settings.touches and settings.engagements patterns" in str(info.value)


# -- check ----------------------------------------------------------------------------------


def test_check_reports_files_and_out_dir(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines(TOUCH_HEADER))
    write(tmp_path / "e.jsonl.gz", lines(json.dumps({"event_id": "1"})))
    write(tmp_path / "c.csv", lines("email"))
    conn = make(tmp_path, touches="t.csv", engagements="*.gz", contacts="c.csv", out_dir="out/acme")
    assert conn.check() == "3 export files readable, out dir out/acme writable"
    # check creates nothing
    assert not (tmp_path / "out").exists()
    assert make(tmp_path).check() == "no export files configured, out dir out/acme-files writable"


def test_check_fails_on_bad_header_and_unwritable_out_dir(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines("email,sent_at"))
    with pytest.raises(ConnectorError) as info:
        make(tmp_path, touches="t.csv").check()
    assert "t.csv:1: missing required column(s) event_id, channel, brand, family" in str(info.value)
    write(tmp_path / "blocker", "a file where a folder should be")
    with pytest.raises(ConnectorError) as info:
        make(tmp_path, out_dir="blocker/lists").check()
    assert "out dir blocker/lists: blocker exists and is not a folder" in str(info.value)


# -- push -----------------------------------------------------------------------------------


def read_csv(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_push_writes_three_files_and_confirms_ids(tmp_path: Path) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    zed, amy, bo = Member(3, "zed@x.io", None), Member(1, "amy@x.io", "crm-1"), Member(2, "bo@x.io", "crm,2")
    batches = list(conn.push(lst, adds=[zed, amy], removes=[bo], members=[zed, amy]))
    assert len(batches) == 1
    assert batches[0].added == [3, 1]
    assert batches[0].removed == [2]
    folder = tmp_path / "lists"
    assert read_csv(folder / "email-marketing.csv") == ["email,external_id", "amy@x.io,crm-1", "zed@x.io,"]
    assert read_csv(folder / "email-marketing.adds.csv") == ["email,external_id", "amy@x.io,crm-1", "zed@x.io,"]
    assert read_csv(folder / "email-marketing.removes.csv") == ["email,external_id", 'bo@x.io,"crm,2"']

    # the next push replaces all three; an empty change set leaves header-only files
    list(conn.push(lst, adds=[], removes=[zed], members=[amy]))
    assert read_csv(folder / "email-marketing.csv") == ["email,external_id", "amy@x.io,crm-1"]
    assert read_csv(folder / "email-marketing.adds.csv") == ["email,external_id"]
    assert read_csv(folder / "email-marketing.removes.csv") == ["email,external_id", "zed@x.io,"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "email-marketing.adds.csv",
        "email-marketing.csv",
        "email-marketing.removes.csv",
    ]


def test_failed_push_leaves_previous_files_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    amy = Member(1, "amy@x.io", None)
    list(conn.push(lst, adds=[amy], removes=[], members=[amy]))
    before = {p.name: p.read_bytes() for p in (tmp_path / "lists").iterdir()}

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(connector_module.os, "replace", fail)
    pushed: list[Any] = []
    with pytest.raises(ConnectorError) as info:
        pushed.extend(conn.push(lst, adds=[], removes=[amy], members=[]))
    assert pushed == []
    assert "No space left on device" in str(info.value)
    # nothing half-written, no temp file left behind
    assert {p.name: p.read_bytes() for p in (tmp_path / "lists").iterdir()} == before


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_pushed_files_mode_follows_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    # an upload agent running as another user reads the lists when the umask lets it
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    amy = Member(1, "amy@x.io", None)
    old = os.umask(umask)
    try:
        list(conn.push(lst, adds=[amy], removes=[], members=[amy]))
        # replacing a file gives the new one the same mode
        list(conn.push(lst, adds=[], removes=[amy], members=[]))
    finally:
        os.umask(old)
    files = sorted((tmp_path / "lists").iterdir())
    assert [p.name for p in files] == ["email-marketing.adds.csv", "email-marketing.csv", "email-marketing.removes.csv"]
    assert {p.stat().st_mode & 0o777 for p in files} == {mode}


def test_push_refuses_list_name_that_escapes_out_dir(tmp_path: Path) -> None:
    conn = make(tmp_path)
    lst = workspace(tmp_path, {}).accounts[0].lists[0].model_copy(update={"name": "../evil"})
    with pytest.raises(ConnectorError):
        list(conn.push(lst, [], [], []))


# -- inspect_list -----------------------------------------------------------------------------


def test_inspect_list_reads_back_what_push_wrote(tmp_path: Path) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    assert conn.inspect_list(lst) == RemoteList(exists=False)
    assert conn.inspect_list(lst, full=True) == RemoteList(exists=False)
    amy, bo = Member(1, "amy@x.io", "crm-1"), Member(2, "bo@x.io", "crm,2")
    list(conn.push(lst, adds=[amy, bo], removes=[], members=[amy, bo]))
    # the file is read whole anyway: the cheap look carries the members too
    assert (
        conn.inspect_list(lst)
        == conn.inspect_list(lst, full=True)
        == RemoteList(
            exists=True, size=2, members=[RemoteMember("amy@x.io", "crm-1"), RemoteMember("bo@x.io", "crm,2")]
        )
    )
    list(conn.push(lst, adds=[], removes=[amy, bo], members=[]))
    assert conn.inspect_list(lst, full=True) == RemoteList(exists=True, size=0, members=[])


def test_inspect_list_sees_a_deleted_or_edited_file(tmp_path: Path) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    amy = Member(1, "amy@x.io", None)
    list(conn.push(lst, adds=[amy], removes=[], members=[amy]))
    path = tmp_path / "lists/email-marketing.csv"
    # edited by hand in a spreadsheet: BOM, CRLF, upper case, spaces, blank lines, a row without external id
    path.write_bytes("\ufeffemail,external_id\r\nAmy@X.io ,\r\n\r\n zed@x.io,z-9\r\n,only-id\r\nbo@x.io\r\n".encode())
    assert conn.inspect_list(lst, full=True) == RemoteList(
        exists=True,
        size=4,
        members=[
            RemoteMember("amy@x.io", None),
            RemoteMember("zed@x.io", "z-9"),
            RemoteMember(None, "only-id"),
            RemoteMember("bo@x.io", None),
        ],
    )
    path.unlink()
    assert conn.inspect_list(lst) == RemoteList(exists=False)
    # the adds and removes files left behind do not make the list exist
    assert (tmp_path / "lists/email-marketing.adds.csv").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "the file is empty"),
        (b"email\namy@x.io\n", "its header is 'email'"),
        (b"event_id,email,channel\n1,amy@x.io,email\n", "its header is 'event_id,email,channel'"),
        (b"email,external_id\namy@x.io,1\nbo@x.io,2,extra\n", "email-marketing.csv:3: 3 columns"),
        (b"email,external_id\n\xff\xfe\x00garbage\n", "not a list file"),
    ],
)
def test_inspect_list_refuses_a_file_that_is_not_a_list(tmp_path: Path, content: bytes, needle: str) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/email-marketing.csv").write_bytes(content)
    for full in (False, True):
        with pytest.raises(ConnectorError) as info:
            conn.inspect_list(lst, full=full)
        said = str(info.value)
        assert said.startswith("lists/email-marketing.csv") and needle in said
        assert "delete it" in said and "the next run writes it again" in said
        assert info.value.connector == "files"


def test_inspect_list_names_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    path = tmp_path / "lists/email-marketing.csv"
    path.mkdir(parents=True)
    with pytest.raises(ConnectorError, match=r"^lists/email-marketing.csv: is a folder.*move it away"):
        conn.inspect_list(lst)
    path.rmdir()
    list(conn.push(lst, adds=[], removes=[], members=[]))

    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        # a chmod would not do: the tests may run as root, who reads anything
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConnectorError) as info:
        conn.inspect_list(lst)
    assert str(info.value) == (
        "lists/email-marketing.csv: cannot read list 'email-marketing': Permission denied; give the user "
        "running pressure-sync read access to it, or delete it and the next run writes it again"
    )


def test_inspect_list_refuses_list_name_that_escapes_out_dir(tmp_path: Path) -> None:
    conn = make(tmp_path)
    lst = workspace(tmp_path, {}).accounts[0].lists[0].model_copy(update={"name": "../evil"})
    with pytest.raises(ConnectorError, match="cannot be used as a file name"):
        conn.inspect_list(lst)


# -- end to end with the ledger -------------------------------------------------------------


def ingest_all(ledger: Ledger, batches: Iterator[Batch], account: str, brand: str | None) -> tuple[int, int, int]:
    touches = engagements = contacts = 0
    for batch in batches:
        r = ledger.ingest(batch, account=account, default_brand=brand)
        touches += r.touches_added
        engagements += r.engagements_added
        contacts += r.contacts_added
    return touches, engagements, contacts


def test_end_to_end_ingest_is_idempotent(tmp_path: Path) -> None:
    write(
        tmp_path / "exports/contacts.csv",
        lines("email,timezone,external_id,max_per_week", "a@x.io,America/New_York,crm-a,2", "c@x.io,,,"),
    )
    write(
        tmp_path / "exports/touches.csv.gz",
        lines(
            TOUCH_HEADER,
            "t1,a@x.io,email,,marketing,2024-03-01T10:00:00,,,",
            "t2,a@x.io,email,acme,marketing,2024-03-02T10:00:00,,,",
            "t3,b@x.io,sms,beta,trigger,2024-03-03T10:00:00,,,",
        ),
    )
    write(
        tmp_path / "exports/events.jsonl",
        lines(
            json.dumps({"event_id": "e1", "email": "a@x.io", "type": "click", "occurred_at": "2024-03-01T11:00:00"}),
            json.dumps(
                {
                    "event_id": "e2",
                    "email": "b@x.io",
                    "type": "unsubscribe",
                    "occurred_at": "2024-03-04T11:00:00",
                    "channel": "sms",
                }
            ),
        ),
    )
    cfg = workspace(
        tmp_path,
        {
            "contacts": "exports/contacts.csv",
            "touches": "exports/*.csv.gz",
            "engagements": "exports/*.jsonl",
            "batch_size": 2,
        },
    )
    acc = cfg.accounts[0]
    conn = FilesConnector.from_account(acc, cfg)
    ledger = Ledger(":memory:")
    touches, engagements, _ = ingest_all(ledger, conn.pull(ledger.watermark(acc.name)), acc.name, acc.brand)
    assert (touches, engagements) == (3, 2)
    assert ledger.count("touches") == 3
    assert ledger.count("engagements") == 2
    assert ledger.count("contacts") == 3
    a = ledger.contact("a@x.io")
    assert a is not None
    assert a.timezone == "America/New_York"
    assert a.attributes == {"max_per_week": 2}
    # the empty brand of t1 took the account's brand
    assert dict(ledger.touch_counts("brand")) == {"acme": 2, "beta": 1}

    # second sync: the watermark skips every file
    state = ledger.watermark(acc.name)
    assert state is not None and len(state["files"]) == 3
    assert pull_all(conn, state) == []

    # even re-reading everything from scratch adds nothing: the ledger dedupes by event id
    assert ingest_all(ledger, conn.pull(None), acc.name, acc.brand) == (0, 0, 0)
    assert ledger.count("touches") == 3
    assert ledger.count("engagements") == 2

    # members as the ledger hands them to a push: the contact export's external id goes out
    b = ledger.contact("b@x.io")
    assert b is not None
    members = ledger.members(acc.name, [a.id, b.id])
    confirmed = list(conn.push(acc.lists[0], adds=members, removes=[], members=members))
    assert [sorted(p.added) for p in confirmed] == [sorted([a.id, b.id])]
    assert read_csv(tmp_path / "out/acme-files/email-marketing.csv") == [
        "email,external_id",
        "a@x.io,crm-a",
        "b@x.io,",
    ]


def test_a_push_removes_what_a_killed_write_left_behind(tmp_path: Path) -> None:
    conn = make(tmp_path, out_dir="lists")
    lst = workspace(tmp_path, {}).accounts[0].lists[0]
    folder = tmp_path / "lists"
    folder.mkdir()
    left = [folder / f".{lst.name}.csv.0a1b2c3d.tmp", folder / f".{lst.name}.adds.csv.deadbeef.tmp"]
    keep = [folder / "notes.tmp", folder / f".{lst.name}.csv.backup.tmp", folder / ".other.csv.0a1b2c3d.tmp"]
    for p in left + keep:
        p.write_text("partial")
    amy = Member(1, "amy@x.io", None)
    list(conn.push(lst, adds=[amy], removes=[], members=[amy]))
    assert not [p for p in left if p.exists()]
    assert all(p.exists() for p in keep)
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == sorted(p.name for p in keep)


def test_relationship_types_the_workspace_declares_are_read_and_others_refused(tmp_path: Path) -> None:
    write(
        tmp_path / "data/events.csv",
        lines(
            "event_id,email,type,occurred_at,amount,currency",
            "e1,a@x.io,unboxing_video,2024-01-01T00:00:00Z,,",
            "e2,a@x.io,purchase,2024-01-02T00:00:00Z,59.90,EUR",
        ),
    )
    cfg = workspace(tmp_path, {"engagements": ["data/events.csv"]})
    declared = cfg.model_copy(update={"value": cfg.value.model_copy(update={"relationship": {"unboxing_video": 8.0}})})
    conn = FilesConnector.from_account(declared.accounts[0], declared)
    assert "unboxing_video" in conn.engagement_types
    (batch,) = pull_all(conn)
    assert [(e.type, e.amount, e.currency) for e in batch.engagements] == [
        ("unboxing_video", None, None),
        ("purchase", 59.9, "EUR"),
    ]
    # a workspace that does not declare it refuses the row, naming where to declare it
    _, err = pull_until_error(make(tmp_path, engagements=["data/events.csv"]))
    assert "data/events.csv:2: type:" in str(err) and "got 'unboxing_video' (the workspace may declare" in str(err)
