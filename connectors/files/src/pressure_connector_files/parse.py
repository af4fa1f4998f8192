"""Reading export files and validating their rows against the column contract.

A file is read as a stream of ``(line number, row)`` pairs, whatever its format, so the
connector can validate a file in one pass and import it in a second without holding it
in memory. Row parsers raise :class:`RowError` naming the column; the caller adds the file
and line, which only it knows.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, cast

from pressure_sdk.errors import InputError
from pressure_sdk.models import (
    ENGAGEMENT_TYPES,
    ContactUpdate,
    Engagement,
    Touch,
    normalize_email,
)
from pressure_sdk.timeutil import parse_instant, zone

Row = Mapping[str, Any]

TOUCH_REQUIRED = ("event_id", "email", "channel", "brand", "family", "sent_at")
TOUCH_OPTIONAL = ("weight", "campaign", "product")
ENGAGEMENT_REQUIRED = ("event_id", "email", "type", "occurred_at")
ENGAGEMENT_OPTIONAL = ("channel", "brand", "product")
CONTACT_REQUIRED = ("email",)
CONTACT_OPTIONAL = ("timezone", "paused_until", "external_id")

SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz")
_CHUNK = 1 << 16


class RowError(ValueError):
    """A value that breaks the column contract; ``column`` is None for whole-row problems."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


class _Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


# -- values -------------------------------------------------------------------------


def _text(row: Row, column: str) -> str | None:
    """The value as trimmed text; None when absent, null or blank."""
    v = row.get(column)
    if type(v) is str:  # the CSV case, on the hot path: skip the checks below
        return v.strip() or None
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        # JSON true/false/objects are never what a text column means
        raise RowError(column, f"expected text, got {json.dumps(v)}")
    s = v.strip() if isinstance(v, str) else str(v)
    return s or None


def _required(row: Row, column: str) -> str:
    s = _text(row, column)
    if s is None:
        if column not in row:
            raise RowError(column, "required, but the row has no such key")
        raise RowError(column, "required, got an empty value")
    return s


_SPACE = re.compile(r"\s")


def _email(row: Row) -> str:
    raw = _required(row, "email")
    email = normalize_email(raw)
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or _SPACE.search(email):
        raise RowError("email", f"expected an email address, got {raw!r}")
    return email


def _instant(row: Row, column: str, timezone: str, *, required: bool) -> int | None:
    v = row.get(column)
    if not isinstance(v, str) and v is not None:
        # a JSON number is not a timestamp in this contract (seconds? milliseconds?)
        raise RowError(column, f"expected an ISO 8601 timestamp, got {json.dumps(v)}")
    s = _required(row, column) if required else _text(row, column)
    if s is None:
        return None
    try:
        return parse_instant(s, timezone)
    except (ValueError, OverflowError, OSError):
        raise RowError(column, f"expected an ISO 8601 timestamp, got {s!r}") from None


def _weight(row: Row) -> float | None:
    v = row.get("weight")
    if isinstance(v, bool):
        raise RowError("weight", f"expected a number >= 0, got {json.dumps(v)}")
    if isinstance(v, int | float):
        w = float(v)
    else:
        s = _text(row, "weight")
        if s is None:
            return None
        try:
            w = float(s)
        except ValueError:
            raise RowError("weight", f"expected a number >= 0, got {s!r}") from None
    if not math.isfinite(w) or w < 0:
        raise RowError("weight", f"expected a number >= 0, got {v!r}")
    return w


_INT = re.compile(r"-?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def attribute_value(v: Any) -> Any:
    """A contact attribute from text: an int, else a float, else the string.

    Only plain decimal numbers convert: ``'007'`` (a postal code) and ``'nan'`` stay text,
    so no value changes meaning or becomes invalid JSON in the ledger.
    """
    if not isinstance(v, str):
        return v
    s = v.strip()
    if _INT.fullmatch(s):
        return int(s)
    if _FLOAT.fullmatch(s):
        f = float(s)
        return f if math.isfinite(f) else s
    return s


# -- rows ---------------------------------------------------------------------------


def parse_touch(row: Row, *, timezone: str, default_brand: str | None) -> Touch:
    """One touch row; an empty ``brand`` takes ``default_brand``."""
    event_id = _required(row, "event_id")
    email = _email(row)
    channel = _required(row, "channel")
    brand = _text(row, "brand") or default_brand
    if brand is None:
        raise RowError("brand", "required (the account has no default brand), got empty value")
    family = _required(row, "family")
    at = _instant(row, "sent_at", timezone, required=True)
    assert at is not None  # required=True never returns None
    return Touch(
        event_id=event_id,
        email=email,
        channel=channel,
        brand=brand,
        family=family,
        at=at,
        weight=_weight(row),
        campaign=_text(row, "campaign"),
        product=_text(row, "product"),
    )


def parse_engagement(row: Row, *, timezone: str) -> Engagement:
    """One engagement row; ``type`` must be a known engagement type."""
    event_id = _required(row, "event_id")
    email = _email(row)
    kind = _required(row, "type")
    if kind not in ENGAGEMENT_TYPES:
        raise RowError("type", f"expected one of {', '.join(sorted(ENGAGEMENT_TYPES))}, got {kind!r}")
    at = _instant(row, "occurred_at", timezone, required=True)
    assert at is not None
    return Engagement(
        event_id=event_id,
        email=email,
        type=kind,
        at=at,
        channel=_text(row, "channel"),
        brand=_text(row, "brand"),
        product=_text(row, "product"),
    )


def parse_contact(row: Row, *, timezone: str) -> ContactUpdate:
    """One contact row; every column outside the contract becomes an attribute."""
    email = _email(row)
    tz = _text(row, "timezone")
    if tz is not None:
        try:
            zone(tz)
        except ValueError as exc:
            raise RowError("timezone", str(exc)) from None
    attributes = {
        key: attribute_value(value)
        for key, value in row.items()
        if key
        and key not in CONTACT_REQUIRED
        and key not in CONTACT_OPTIONAL
        and value is not None
        and not (isinstance(value, str) and not value.strip())
    }
    return ContactUpdate(
        email=email,
        timezone=tz,
        paused_until=_instant(row, "paused_until", timezone, required=False),
        attributes=attributes,
        external_id=_text(row, "external_id"),
    )


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of export file: its columns and its row parser."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]

    def parser(self, *, timezone: str, default_brand: str | None) -> Callable[[Row], Any]:
        if self.name == "touches":
            return lambda row: parse_touch(row, timezone=timezone, default_brand=default_brand)
        if self.name == "engagements":
            return lambda row: parse_engagement(row, timezone=timezone)
        return lambda row: parse_contact(row, timezone=timezone)


KINDS: dict[str, Kind] = {
    "contacts": Kind("contacts", CONTACT_REQUIRED, CONTACT_OPTIONAL),
    "touches": Kind("touches", TOUCH_REQUIRED, TOUCH_OPTIONAL),
    "engagements": Kind("engagements", ENGAGEMENT_REQUIRED, ENGAGEMENT_OPTIONAL),
}


# -- files --------------------------------------------------------------------------


def file_format(path: Path, display: str | None = None) -> tuple[str, bool]:
    """``('csv' | 'jsonl', gzipped)`` from the file name; InputError for anything else."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name.removesuffix(".gz")
    for fmt in ("csv", "jsonl"):
        if base.endswith("." + fmt):
            return fmt, gz
    msg = f"{display or path}: unsupported file type; expected a name ending in {', '.join(SUFFIXES)}"
    raise InputError(msg)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class _HashingReader(io.RawIOBase):
    """Feeds every byte read to a digest, so the hash covers exactly what was parsed."""

    def __init__(self, f: io.FileIO, digest: _Digest | None) -> None:
        self._f = f
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b) or 0
        if n and self._digest is not None:
            self._digest.update(memoryview(b)[:n])
        return n


def _csv_rows(text: IO[str], display: str, kind: Kind) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{display}:1: not valid CSV: {exc}") from None
    if header is None:
        msg = f"{display}: empty file; expected a header line with the columns {', '.join(kind.required)}"
        raise InputError(msg)
    named = [h for h in header if h]
    dupes = sorted({h for h in named if named.count(h) > 1})
    if dupes:
        raise InputError(f"{display}:1: duplicate column(s) {', '.join(dupes)} in the header")
    missing = [c for c in kind.required if c not in header]
    if missing:
        msg = (
            f"{display}:1: missing required column(s) {', '.join(missing)}; "
            f"the header has {', '.join(header) or '(nothing)'}; "
            f"{kind.name} files need {', '.join(kind.required)}"
        )
        raise InputError(msg)
    width = len(header)
    while True:
        # a quoted field may span lines: the row starts on the line after the last one read
        line = reader.line_num + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            raise InputError(f"{display}:{line}: not valid CSV: {exc}") from None
        if fields is None:
            return
        if not fields:
            continue
        if len(fields) != width:
            msg = f"{display}:{line}: expected {width} fields as in the header, got {len(fields)}"
            raise InputError(msg)
        yield line, dict(zip(header, fields, strict=True))


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _jsonl_rows(text: IO[str], display: str) -> Iterator[tuple[int, Row]]:
    for line, raw in enumerate(text, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:
            raise InputError(f"{display}:{line}: expected a JSON object, got invalid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{display}:{line}: expected a JSON object, got {type(obj).__name__}")
        yield line, obj


def iter_rows(
    path: Path, display: str, kind: Kind, digest: _Digest | None = None
) -> Generator[tuple[int, Row], None, None]:
    """``(line, row)`` of every record of an export file, streamed.

    ``digest`` receives the file's raw bytes as they are read; once the iterator is
    exhausted it has seen the whole file. Malformed files raise InputError naming
    ``display`` and the line.
    """
    fmt, gz = file_format(path, display)
    line = 0
    with open(path, "rb", buffering=0) as f:
        raw = _HashingReader(f, digest)
        binary: IO[bytes] = io.BufferedReader(raw, _CHUNK)
        if gz:
            binary = cast(IO[bytes], gzip.GzipFile(fileobj=binary, mode="rb"))
        # utf-8-sig: spreadsheet exports often start with a byte-order mark
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        rows = _csv_rows(text, display, kind) if fmt == "csv" else _jsonl_rows(text, display)
        try:
            for line, row in rows:
                yield line, row
        except UnicodeDecodeError:
            raise InputError(f"{display}:{line + 1}: not valid UTF-8 text") from None
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise InputError(f"{display}: not a valid gzip file ({exc or 'truncated'})") from None


def parse_file(
    path: Path,
    display: str,
    kind: Kind,
    *,
    timezone: str,
    default_brand: str | None,
    digest: _Digest | None = None,
) -> Iterator[Any]:
    """Parsed rows of one export file; a bad row raises InputError ``file:line: column: why``."""
    parse = kind.parser(timezone=timezone, default_brand=default_brand)
    for line, row in iter_rows(path, display, kind, digest):
        try:
            yield parse(row)
        except RowError as exc:
            where = f"{display}:{line}: "
            if exc.column is not None:
                where += f"{exc.column}: "
            raise InputError(where + exc.message) from None


def probe(path: Path, display: str, kind: Kind) -> None:
    """Open a file and read its first record: catches unreadable, non-gzip or headerless files."""
    rows = iter_rows(path, display, kind)
    try:
        next(rows, None)
    finally:
        rows.close()


__all__ = [
    "KINDS",
    "SUFFIXES",
    "Kind",
    "RowError",
    "attribute_value",
    "file_format",
    "iter_rows",
    "parse_contact",
    "parse_engagement",
    "parse_file",
    "parse_touch",
    "probe",
    "sha256_file",
]
