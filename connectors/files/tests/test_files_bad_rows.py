"""Bad rows of export files: exact line numbers, every one reported, quarantine, repeated ids."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_files import FilesConnector
from pressure_connector_files import connector as connector_module

from pressure_sdk.config import WorkspaceConfig, parse_config
from pressure_sdk.errors import ConfigError, ConnectorError, InputError
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch
from pressure_sdk.sync import run_sync

HEADER = "event_id,email,channel,brand,family,sent_at"
LOGGER = "pressure_connector_files.connector"


def row(i: int, email: str = "a@x.io", at: str = "2024-01-01T00:00:00Z") -> str:
    return f"t{i},{email},email,acme,marketing,{at}"


def workspace(tmp_path: Path, settings: dict[str, Any]) -> WorkspaceConfig:
    return parse_config(
        {
            "workspace": {"timezone": "UTC", "ledger": "ledger.db", "now": "2024-01-10T00:00:00Z"},
            "brands": {"acme": {}},
            "accounts": [
                {
                    "name": "acme-files",
                    "connector": "files",
                    "brand": "acme",
                    "settings": settings,
                    "lists": [{"name": "email-marketing"}],
                }
            ],
        },
        base_dir=tmp_path,
    )


def make(tmp_path: Path, **settings: Any) -> FilesConnector:
    cfg = workspace(tmp_path, settings)
    conn = FilesConnector.from_account(cfg.accounts[0], cfg, index=0)
    assert isinstance(conn, FilesConnector)
    return conn


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def pull_error(conn: FilesConnector, state: dict[str, Any] | None = None) -> tuple[list[Batch], str]:
    got: list[Batch] = []
    with pytest.raises(InputError) as info:
        got.extend(conn.pull(state))
    return got, str(info.value)


def ids(batches: list[Batch]) -> list[str]:
    return [t.event_id for b in batches for t in b.touches] + [e.event_id for b in batches for e in b.engagements]


def rejects_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def umask() -> Iterator[Any]:
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


# -- line numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_a_byte_that_is_not_utf8_is_reported_on_its_own_line(tmp_path: Path, name: str) -> None:
    # enough lines before it that a decoder reading ahead in chunks would be far behind
    good = [row(i, email=f"person{i}@example.com") for i in range(2, 300)]
    body = lines(HEADER, *good).encode() + b"t300,caf\xe9@example.com,email,acme,marketing,2024-01-01T00:00:00Z\n"
    body += lines(row(301)).encode()
    write(tmp_path / name, body)
    got, err = pull_error(make(tmp_path, touches=name))
    assert got == []
    assert err == f"{name}:300: not valid UTF-8 text (byte 0xe9 at byte 9 of the line)"


def test_line_numbers_count_every_physical_line(tmp_path: Path) -> None:
    # a quoted field over three lines, blank lines, a CRLF line and old Mac (lone CR) endings
    body = "".join(
        [
            HEADER + ",campaign\r\n",  # line 1
            row(1) + ',"spring\nsale\n2024"\n',  # lines 2-4
            "\n",  # line 5
            row(2) + ",x\r",  # line 6, ends with a lone CR
            row(3, at="soon") + ",x\r\n",  # line 7
            row(4) + ',"a\rb"\n',  # lines 8-9
            row(5, email="nobody") + ",\n",  # line 10
        ]
    )
    write(tmp_path / "t.csv", body)
    _, err = pull_error(make(tmp_path, touches="t.csv"))
    assert err.splitlines() == [
        "t.csv: 2 bad rows, nothing of the file was imported:",
        "    t.csv:7: sent_at: expected an ISO 8601 timestamp, got 'soon'",
        "    t.csv:10: email: expected an email address, got 'nobody'",
    ]
    # the same rows are imported once the bad ones are fixed: the multi-line fields kept whole
    write(tmp_path / "t.csv", body.replace("soon", "2024-01-02").replace("nobody", "b@x.io"))
    touches = [t for b in make(tmp_path, touches="t.csv").pull(None) for t in b.touches]
    assert [(t.event_id, t.campaign) for t in touches] == [
        ("t1", "spring\nsale\n2024"),
        ("t2", "x"),
        ("t3", "x"),
        ("t4", "a\rb"),
        ("t5", None),
    ]


def test_jsonl_lines_not_utf8_or_not_objects(tmp_path: Path) -> None:
    good = json.dumps({"event_id": "e1", "email": "a@x.io", "type": "open", "occurred_at": "2024-01-01"})
    body = lines(good, "", "[1, 2]", good).encode() + b'{"event_id": "\xff"}\n' + lines("{oops", good).encode()
    write(tmp_path / "e.jsonl.gz", body)
    _, err = pull_error(make(tmp_path, engagements="e.jsonl.gz"))
    assert err.splitlines()[:4] == [
        "e.jsonl.gz: 3 bad rows, nothing of the file was imported:",
        "    e.jsonl.gz:3: expected a JSON object, got list",
        "    e.jsonl.gz:5: not valid UTF-8 text (byte 0xff at byte 15 of the line)",
        "    e.jsonl.gz:6: expected a JSON object, got invalid JSON (Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1))",
    ]


def test_a_header_that_is_not_utf8_stops_the_file(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", b"event_id,em\xe0il\n" + lines(row(1)).encode())
    _, err = pull_error(make(tmp_path, touches="t.csv", rejects="quarantine"))
    assert err == "t.csv:1: header: not valid UTF-8 text (byte 0xe0 at byte 12 of the line)"
    assert not (tmp_path / "rejects").exists()


# -- every bad row ----------------------------------------------------------------------------


def bad_file(tmp_path: Path, n_bad: int, name: str = "t.csv") -> Path:
    """Good rows on even lines from 2, bad ones (no date) on odd lines from 3."""
    rows: list[str] = []
    for i in range(n_bad):
        rows += [row(2 * i + 2), row(2 * i + 3, at="")]
    rows.append(row(2 * n_bad + 2))
    return write(tmp_path / name, lines(HEADER, *rows))


def test_every_bad_row_is_listed_up_to_the_limit(tmp_path: Path) -> None:
    bad_file(tmp_path, 23)
    got, err = pull_error(make(tmp_path, touches="t.csv"))
    assert got == []
    said = err.splitlines()
    assert said[0] == "t.csv: 23 bad rows, nothing of the file was imported:"
    assert said[1:21] == [f"    t.csv:{2 * i + 3}: sent_at: required, got an empty value" for i in range(20)]
    assert said[21:] == ["    and 3 more"]

    _, err = pull_error(make(tmp_path, touches="t.csv", bad_rows_reported=2))
    assert err.splitlines() == [
        "t.csv: 23 bad rows, nothing of the file was imported:",
        "    t.csv:3: sent_at: required, got an empty value",
        "    t.csv:5: sent_at: required, got an empty value",
        "    and 21 more",
    ]


def test_bad_rows_of_every_sort_are_all_reported(tmp_path: Path) -> None:
    body = lines(
        HEADER,
        row(1),
        "t2,a@x.io,email",  # too few fields
        row(3, email=""),
        'bad,"unclosed quote,email,acme,marketing,2024-01-01T00:00:00Z',  # swallows the rest
        row(5),
    )
    write(tmp_path / "t.csv", body)
    _, err = pull_error(make(tmp_path, touches="t.csv"))
    assert err.splitlines() == [
        "t.csv: 3 bad rows, nothing of the file was imported:",
        "    t.csv:3: expected 6 fields as in the header, got 3",
        "    t.csv:4: email: required, got an empty value",
        "    t.csv:5: expected 6 fields as in the header, got 2",
    ]


def test_a_failing_file_does_not_move_the_watermark_or_write_rejects(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", lines(HEADER, row(1)))
    bad_file(tmp_path, 2, "b.csv")
    got, _ = pull_error(make(tmp_path, touches="*.csv", batch_size=1))
    assert ids(got) == ["t1"]
    assert [sorted(b.state["files"]) for b in got if b.state] == [["a.csv"]]
    assert not (tmp_path / "rejects").exists()


# -- quarantine -------------------------------------------------------------------------------


def test_quarantine_imports_the_good_rows_and_writes_the_bad_ones_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = (
        lines(HEADER + ",campaign", row(1) + ",", row(2, at="later") + ',"two\nlines"', row(3) + ",").encode()
        + b"t4,caf\xe9@x.io,email,acme,marketing,2024-01-01T00:00:00Z,\r\n"
        + lines("t5,a@x.io", row(6) + ",").encode()
    )
    write(tmp_path / "exports/t.csv.gz", body)
    conn = make(tmp_path, touches="exports/*.csv.gz", rejects="quarantine", batch_size=2)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        batches = list(conn.pull(None))
    assert ids(batches) == ["t1", "t3", "t6"]
    target = tmp_path / "rejects/acme-files/exports/t.csv.gz.rejects.csv"
    assert rejects_rows(target) == [
        {
            "line": "3",
            "reason": "sent_at: expected an ISO 8601 timestamp, got 'later'",
            "record": row(2, at="later") + ',"two\nlines"',
        },
        {
            "line": "6",
            "reason": "not valid UTF-8 text (byte 0xe9 at byte 7 of the line)",
            "record": "t4,caf\\xe9@x.io,email,acme,marketing,2024-01-01T00:00:00Z,",
        },
        {"line": "7", "reason": "expected 7 fields as in the header, got 2", "record": "t5,a@x.io"},
    ]
    # the report says how many, and where; the watermark keeps it for status
    assert [r.getMessage().splitlines()[0] for r in caplog.records] == [
        "exports/t.csv.gz: 3 bad rows, set aside in rejects/acme-files/exports/t.csv.gz.rejects.csv, "
        "the other 3 imported:"
    ]
    state = batches[-1].state
    assert state is not None
    assert state["rejects"] == {
        "exports/t.csv.gz": {"rows": 3, "file": "rejects/acme-files/exports/t.csv.gz.rejects.csv"}
    }
    assert [b.state is not None for b in batches] == [False, True]
    # nothing else in the rejects folder: no temporary file left
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_quarantine_again_imports_nothing_twice_and_rewrites_rejects_whole(tmp_path: Path) -> None:
    source = bad_file(tmp_path, 2)
    cfg = workspace(tmp_path, {"touches": "t.csv", "rejects": "quarantine", "rejects_dir": "bad"})
    acc = cfg.accounts[0]
    conn = FilesConnector.from_account(acc, cfg)
    ledger = Ledger(":memory:")

    def sync(state: dict[str, Any] | None) -> int:
        return sum(ledger.ingest(b, account=acc.name, default_brand=acc.brand).touches_added for b in conn.pull(state))

    target = tmp_path / "bad/t.csv.rejects.csv"
    assert sync(None) == 3
    first = target.read_bytes()
    assert [r["line"] for r in rejects_rows(target)] == ["3", "5"]
    # the watermark skips the unchanged file: nothing read, the rejects file untouched
    os.utime(target, (0, 0))
    assert sync(ledger.watermark(acc.name)) == 0
    assert target.stat().st_mtime == 0
    # read again from scratch (a lost watermark): the same rejects, not twice as many
    assert sync(None) == 0
    assert target.read_bytes() == first
    assert ledger.count("touches") == 3

    # the export is fixed: its rows come in, its rejects file and state entry go
    source.write_text(source.read_text().replace(",\n", ",2024-01-03T00:00:00Z\n"))
    assert sync(ledger.watermark(acc.name)) == 2
    assert not target.exists()
    state = ledger.watermark(acc.name)
    assert state is not None and "rejects" not in state


def test_quarantine_names_rejects_after_the_source_path(tmp_path: Path) -> None:
    bad_file(tmp_path, 1, "a/t.csv")
    bad_file(tmp_path, 2, "b/t.csv")
    write(tmp_path / "b/e.jsonl", lines("{}"))
    conn = make(tmp_path, touches="**/t.csv", engagements="b/*.jsonl", rejects="quarantine")
    batches = list(conn.pull(None))
    folder = tmp_path / "rejects/acme-files"
    assert len(rejects_rows(folder / "a/t.csv.rejects.csv")) == 1
    assert len(rejects_rows(folder / "b/t.csv.rejects.csv")) == 2
    assert rejects_rows(folder / "b/e.jsonl.rejects.csv") == [
        {"line": "1", "reason": "event_id: required, but the row has no such key", "record": "{}"}
    ]
    state = batches[-1].state
    assert state is not None and sorted(state["rejects"]) == ["a/t.csv", "b/e.jsonl", "b/t.csv"]
    # a pattern broad enough to match the rejects files never imports them
    again = list(make(tmp_path, touches="**/*.csv", rejects="quarantine").pull(None))
    assert again[-1].state is not None
    assert sorted(again[-1].state["files"]) == ["a/t.csv", "b/t.csv"]


def test_quarantine_of_a_file_that_changes_while_read_installs_no_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_file(tmp_path, 2)
    monkeypatch.setattr(connector_module, "sha256_file", lambda path: "0" * 64)
    got, err = pull_error(make(tmp_path, touches="t.csv", rejects="quarantine"))
    assert got == []
    assert "t.csv: the file changed while it was being read" in err
    assert list((tmp_path / "rejects/acme-files").iterdir()) == []


def test_a_clean_version_removes_the_rejects_named_in_the_state(tmp_path: Path) -> None:
    source = bad_file(tmp_path, 1)
    batches = list(make(tmp_path, touches="t.csv", rejects="quarantine", rejects_dir="bad").pull(None))
    state = batches[-1].state
    assert state is not None and state["rejects"]["t.csv"] == {"rows": 1, "file": "bad/t.csv.rejects.csv"}
    assert (tmp_path / "bad/t.csv.rejects.csv").exists()
    # quarantine turned off again, the export fixed: the stale rejects file goes with the entry
    source.write_text(source.read_text().replace(",\n", ",2024-01-03T00:00:00Z\n"))
    batches = list(make(tmp_path, touches="t.csv").pull(state))
    assert ids(batches) == ["t2", "t3", "t4"]
    assert batches[-1].state is not None and "rejects" not in batches[-1].state
    assert not (tmp_path / "bad/t.csv.rejects.csv").exists()


def test_quarantine_through_a_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad_file(tmp_path, 2)
    cfg = workspace(tmp_path, {"touches": "t.csv", "rejects": "quarantine", "out_dir": "out"})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        report = run_sync(cfg)
    (acc,) = report.accounts
    assert acc.ok and acc.touches_added == 3
    (warning,) = [r for r in caplog.records if r.name == LOGGER]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage().splitlines() == [
        "t.csv: 2 bad rows, set aside in rejects/acme-files/t.csv.rejects.csv, the other 3 imported:",
        "    t.csv:3: sent_at: required, got an empty value",
        "    t.csv:5: sent_at: required, got an empty value",
    ]
    caplog.clear()
    assert run_sync(cfg).accounts[0].touches_added == 0
    assert caplog.records == []


def test_quarantine_is_off_by_default_and_rejects_dir_needs_it(tmp_path: Path) -> None:
    conn = make(tmp_path)
    assert (conn.settings.rejects, conn.settings.bad_rows_reported) == ("fail", 20)
    assert make(tmp_path, rejects="quarantine").rejects_dir == tmp_path / "rejects/acme-files"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rejects_dir": "bad"}, 'accounts[0].settings.rejects_dir: only used with rejects = "quarantine"'),
        ({"rejects": "skip"}, "accounts[0].settings.rejects: Input should be 'fail' or 'quarantine'"),
        ({"rejects": "quarantine", "rejects_dir": " "}, "accounts[0].settings.rejects_dir: expected a folder"),
        ({"bad_rows_reported": 0}, "accounts[0].settings.bad_rows_reported"),
    ]
    for settings, needle in cases:
        with pytest.raises(ConfigError) as info:
            make(tmp_path, **settings)
        assert needle in str(info.value)


def test_check_looks_at_the_rejects_dir(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines(HEADER))
    conn = make(tmp_path, touches="t.csv", rejects="quarantine", out_dir="out")
    assert conn.check() == "1 export file readable, out dir out writable, rejects dir rejects/acme-files writable"
    write(tmp_path / "blocker", "a file")
    with pytest.raises(ConnectorError, match="rejects dir blocker/x: blocker exists and is not a folder"):
        make(tmp_path, touches="t.csv", rejects="quarantine", rejects_dir="blocker/x").check()


def test_a_rejects_file_that_cannot_be_written_stops_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_file(tmp_path, 1)
    write(tmp_path / "blocker", "a file where the rejects folder should be")
    conn = make(tmp_path, touches="t.csv", rejects="quarantine", rejects_dir="blocker/rejects")
    got: list[Batch] = []
    with pytest.raises(ConnectorError) as info:
        got.extend(conn.pull(None))
    assert got == []
    assert str(info.value).startswith("cannot write rejects file blocker/rejects/t.csv.rejects.csv: ")
    assert "set settings.rejects_dir to a folder the run can write in" in str(info.value)

    # a failure to put the file in place leaves neither it nor its temporary file
    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(connector_module.os, "replace", fail)
    with pytest.raises(ConnectorError, match="t.csv.rejects.csv: No space left on device"):
        list(make(tmp_path, touches="t.csv", rejects="quarantine").pull(None))
    assert list((tmp_path / "rejects/acme-files").iterdir()) == []


def test_rejects_file_mode_follows_the_umask(tmp_path: Path, umask: Any) -> None:
    bad_file(tmp_path, 1)
    umask(0o027)
    list(make(tmp_path, touches="t.csv", rejects="quarantine").pull(None))
    assert (tmp_path / "rejects/acme-files/t.csv.rejects.csv").stat().st_mode & 0o777 == 0o640


# -- repeated event ids -----------------------------------------------------------------------


def test_a_repeated_event_id_keeps_the_first_copy_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path / "t.csv",
        lines(
            HEADER,
            row(1),
            row(2),
            row(1),  # the same row again: harmless, no warning
            row(1, email="b@x.io"),  # line 5: same id, another contact
            row(2, at="2024-01-02T00:00:00Z"),  # line 6: same id, another time
        ),
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        touches = [t for b in make(tmp_path, touches="t.csv").pull(None) for t in b.touches]
    assert [(t.event_id, t.email, t.at) for t in touches] == [
        ("t1", "a@x.io", 1704067200),
        ("t2", "a@x.io", 1704067200),
        ("t1", "a@x.io", 1704067200),
    ]
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "t.csv:5: event id 't1' is already on line 2 with different content; line 2 is kept, line 5 is ignored",
        ),
        (
            logging.WARNING,
            "t.csv:6: event id 't2' is already on line 3 with different content; line 3 is kept, line 6 is ignored",
        ),
    ]


def test_repeated_event_ids_in_engagements_and_the_warning_limit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def event(i: int, kind: str) -> str:
        return json.dumps({"event_id": f"e{i}", "email": "a@x.io", "type": kind, "occurred_at": "2024-01-01"})

    write(tmp_path / "e.jsonl", lines(*[event(i, "open") for i in range(5)], *[event(i, "click") for i in range(5)]))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        batches = list(make(tmp_path, engagements="e.jsonl", bad_rows_reported=2).pull(None))
    assert [e.type for b in batches for e in b.engagements] == ["open"] * 5
    assert [r.getMessage() for r in caplog.records] == [
        "e.jsonl:6: event id 'e0' is already on line 1 with different content; line 1 is kept, line 6 is ignored",
        "e.jsonl:7: event id 'e1' is already on line 2 with different content; line 2 is kept, line 7 is ignored",
        "e.jsonl: and 3 more event ids repeated with different content (the first copy of each is kept)",
    ]


def test_the_ledger_keeps_only_the_first_copy_of_a_repeated_id(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", lines(HEADER, row(1), row(1, email="b@x.io")))
    cfg = workspace(tmp_path, {"touches": "t.csv", "batch_size": 1})
    acc = cfg.accounts[0]
    ledger = Ledger(":memory:")
    for b in FilesConnector.from_account(acc, cfg).pull(None):
        ledger.ingest(b, account=acc.name, default_brand=acc.brand)
    assert ledger.count("touches") == 1
    assert ledger.contact("b@x.io") is None
