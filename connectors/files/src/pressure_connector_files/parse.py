"""Reading export files and validating their rows against the column contract.

A file is read as a stream of records, each ``(line number, row, problem)``, whatever its
format, so the connector can validate a file in one pass and import it in a second without
holding it in memory. A bad record does not stop the stream: every one is reported (as a
:class:`BadRow`) and the caller decides what a bad row does to the file. Row parsers raise
:class:`RowError` naming the column; the caller adds the file and line, which only it knows.
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
    Opposition,
    Touch,
    normalize_email,
)
from pressure_sdk.phones import normalize_phone
from pressure_sdk.timeutil import parse_instant, zone

Row = Mapping[str, Any]

TOUCH_REQUIRED = ("event_id", "channel", "brand", "family", "sent_at")
TOUCH_OPTIONAL = ("weight", "campaign", "product")
ENGAGEMENT_REQUIRED = ("event_id", "type", "occurred_at")
ENGAGEMENT_OPTIONAL = ("channel", "brand", "product")
CONTACT_REQUIRED: tuple[str, ...] = ()
CONTACT_OPTIONAL = ("timezone", "paused_until", "external_id")
#: who a row is about: touches, engagements and contacts need one of these columns (or both)
IDENTITY = ("email", "phone")
OPPOSITION_REQUIRED = ("phone",)

SUFFIXES = (".csv", ".jsonl", ".csv.gz", ".jsonl.gz")
#: opposition-list answers may also be plain text, one number per line
OPPOSITION_SUFFIXES = (*SUFFIXES, ".txt")
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


def _phone(raw: str, region: str | None) -> str:
    try:
        return normalize_phone(raw, region)
    except ValueError as exc:
        raise RowError("phone", str(exc)) from None


def _who(row: Row, region: str | None, *, many: bool = False) -> tuple[str, tuple[str, ...]]:
    """(email or '', E.164 numbers) of a row: an email, a phone, or both; never neither.

    With ``many``, ``phone`` may hold several numbers separated by ``;``.
    """
    if "phone" not in row:
        return _email(row), ()  # an email-only file: the email is required as before
    email = _email(row) if _text(row, "email") is not None else ""
    raw = _text(row, "phone")
    parts = [p for p in (raw.split(";") if many and raw else [raw]) if p and p.strip()]
    phones = tuple(dict.fromkeys(_phone(p, region) for p in parts))
    if not email and not phones:
        raise RowError("phone", "an email or a phone is required, got empty values")
    return email, phones


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


def parse_touch(row: Row, *, timezone: str, default_brand: str | None, phone_region: str | None = None) -> Touch:
    """One touch row; an empty ``brand`` takes ``default_brand``; ``email``, ``phone`` or both name the contact."""
    event_id = _required(row, "event_id")
    email, phones = _who(row, phone_region)
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
        phone=phones[0] if phones else None,
    )


def parse_engagement(
    row: Row, *, timezone: str, phone_region: str | None = None, types: frozenset[str] = ENGAGEMENT_TYPES
) -> Engagement:
    """One engagement row; ``type`` must be one of ``types``: the built-in engagement types
    and the relationship types the workspace declares (``[value] relationship``); ``email``,
    ``phone`` or both name the contact."""
    event_id = _required(row, "event_id")
    email, phones = _who(row, phone_region)
    kind = _required(row, "type")
    if kind not in types:
        hint = " (the workspace may declare other relationship types under [value] relationship)"
        raise RowError("type", f"expected one of {', '.join(sorted(types))}, got {kind!r}{hint}")
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
        amount=_amount(row),
        currency=_currency(row),
        phone=phones[0] if phones else None,
    )


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _amount(row: Row) -> float | None:
    v = row.get("amount")
    if isinstance(v, bool):
        raise RowError("amount", f"expected a number, got {json.dumps(v)}")
    if isinstance(v, int | float):
        a = float(v)
    else:
        s = _text(row, "amount")
        if s is None:
            return None
        try:
            a = float(s)
        except ValueError:
            raise RowError("amount", f"expected a number such as 42.50, got {s!r}") from None
    if not math.isfinite(a):
        raise RowError("amount", f"expected a finite number, got {v!r}")
    return a


def _currency(row: Row) -> str | None:
    c = _text(row, "currency")
    if c is None:
        return None
    if not _CURRENCY.match(c):
        raise RowError("currency", f"expected an ISO 4217 code such as EUR, got {c!r}")
    if _text(row, "amount") is None and not isinstance(row.get("amount"), int | float):
        raise RowError("currency", "a currency needs an amount")
    return c


#: attributes of the fr-telemarketing preset checked at import: a consent needs its proof
_CONSENT_AT, _CONSENT_SOURCE = "call_consent_at", "call_consent_source"


def parse_contact(row: Row, *, timezone: str, phone_region: str | None = None) -> ContactUpdate:
    """One contact row; every column outside the contract becomes an attribute.

    ``phone`` holds one or more numbers (``;`` between them). An express consent to calls
    (``call_consent_at``, a date) needs its source (``call_consent_source``): a consent the
    professional cannot prove is refused with the row.
    """
    email, phones = _who(row, phone_region, many=True)
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
        and key not in IDENTITY
        and key not in CONTACT_OPTIONAL
        and value is not None
        and not (isinstance(value, str) and not value.strip())
    }
    if _CONSENT_AT in attributes:
        _instant(row, _CONSENT_AT, timezone, required=True)
        if _CONSENT_SOURCE not in attributes:
            raise RowError(_CONSENT_SOURCE, f"required with {_CONSENT_AT}: where the consent was given (its proof)")
    return ContactUpdate(
        email=email,
        timezone=tz,
        paused_until=_instant(row, "paused_until", timezone, required=False),
        attributes=attributes,
        external_id=_text(row, "external_id"),
        phones=phones,
    )


def parse_opposition(row: Row, *, phone_region: str | None, at: int, source: str) -> Opposition:
    """One number of an opposition-list answer, listed from the answer file's date ``at``."""
    return Opposition(_phone(_required(row, "phone"), phone_region), at, source)


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of export file: its columns and its row parser."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    #: columns of which the header needs at least one
    one_of: tuple[str, ...] = IDENTITY

    def parser(
        self,
        *,
        timezone: str,
        default_brand: str | None,
        phone_region: str | None = None,
        file_date: int | None = None,
        source: str = "",
        types: frozenset[str] = ENGAGEMENT_TYPES,
    ) -> Callable[[Row], Any]:
        if self.name == "touches":
            return lambda row: parse_touch(
                row, timezone=timezone, default_brand=default_brand, phone_region=phone_region
            )
        if self.name == "engagements":
            return lambda row: parse_engagement(row, timezone=timezone, phone_region=phone_region, types=types)
        if self.name == "oppositions":
            assert file_date is not None, "an opposition file's date is read from its name first"
            return lambda row: parse_opposition(row, phone_region=phone_region, at=file_date, source=source)
        return lambda row: parse_contact(row, timezone=timezone, phone_region=phone_region)

    @property
    def columns(self) -> str:
        """The columns a file of this kind needs, as people read them."""
        need = list(self.required)
        if self.one_of:
            need.append(" or ".join(self.one_of))
        return ", ".join(need)


KINDS: dict[str, Kind] = {
    "contacts": Kind("contacts", CONTACT_REQUIRED, CONTACT_OPTIONAL),
    "oppositions": Kind("oppositions", OPPOSITION_REQUIRED, (), ()),
    "touches": Kind("touches", TOUCH_REQUIRED, TOUCH_OPTIONAL),
    "engagements": Kind("engagements", ENGAGEMENT_REQUIRED, ENGAGEMENT_OPTIONAL),
}


# -- files --------------------------------------------------------------------------


def file_format(path: Path, display: str | None = None, kind: Kind | None = None) -> tuple[str, bool]:
    """``('csv' | 'jsonl' | 'txt', gzipped)`` from the file name; InputError for anything else.

    ``txt`` (one number per line, no header) is for opposition-list answers only.
    """
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name.removesuffix(".gz")
    opposition = kind is not None and kind.name == "oppositions"
    for fmt in ("csv", "jsonl", "txt") if opposition else ("csv", "jsonl"):
        if base.endswith("." + fmt) and not (fmt == "txt" and gz):
            return fmt, gz
    suffixes = OPPOSITION_SUFFIXES if opposition else SUFFIXES
    msg = f"{display or path}: unsupported file type; expected a name ending in {', '.join(suffixes)}"
    raise InputError(msg)


_FILE_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def file_date(path: Path, display: str, timezone: str) -> int:
    """The date an opposition-list answer file names (``bloctel-2026-11-02.csv``), at midnight in ``timezone``.

    The answer holds for the numbers as of that date; InputError when the name carries none.
    """
    m = _FILE_DATE.search(path.name)
    if m:
        try:
            return parse_instant(f"{m[1]}-{m[2]}-{m[3]}T00:00:00", timezone)
        except ValueError:
            pass
    msg = (
        f"{display}: an opposition-list answer's name must carry its date (YYYY-MM-DD, e.g. "
        "bloctel-2026-11-02.csv): the numbers are opposed from that date; rename the file"
    )
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


@dataclass(frozen=True, slots=True)
class BadRow:
    """A record that breaks the column contract: its line, the column (None: the whole row), why."""

    line: int
    column: str | None
    message: str

    @property
    def reason(self) -> str:
        """What is wrong, without the file and line: ``column: why``."""
        return f"{self.column}: {self.message}" if self.column is not None else self.message

    def describe(self, display: str) -> str:
        """``file:line: column: why``, as errors and warnings print it."""
        return f"{display}:{self.line}: {self.reason}"


#: one record of a file: its first line, the row when it could be read, what is wrong otherwise
Record = tuple[int, Row | None, BadRow | None]

#: the physical lines of a chunk that holds a lone carriage return (old spreadsheet exports)
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_BOM = b"\xef\xbb\xbf"


class _Lines:
    """The physical lines of a byte stream, decoded one at a time and counted.

    A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``. Decoding line by line is what makes
    line numbers exact: a byte that is not UTF-8 is charged to its own line, not to the
    last line a decoder read ahead of. Such a line is decoded with ``surrogateescape``
    (so a CSV parser keeps its place) and recorded in :attr:`bad`. :attr:`taken` holds the
    lines read since the caller last cleared it: the text of the current record.
    """

    def __init__(self, binary: IO[bytes]) -> None:
        self._binary = binary
        #: physical lines read so far
        self.count = 0
        self.taken: list[str] = []
        self.bad: BadRow | None = None

    def __iter__(self) -> Iterator[str]:
        taken = self.taken
        first = True
        for chunk in self._binary:  # split on \n only
            if first:
                # spreadsheet exports often start with a byte-order mark
                chunk = chunk.removeprefix(_BOM)
                first = False
            if b"\r" in chunk and (chunk.count(b"\r") > 1 or not chunk.endswith(b"\r\n")):
                for piece in _LINE.findall(chunk):
                    text = self._decode(piece)
                    taken.append(text)
                    yield text
                continue
            self.count += 1
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = self._undecodable(chunk, exc)
            taken.append(text)
            yield text

    def _decode(self, piece: bytes) -> str:
        self.count += 1
        try:
            return piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._undecodable(piece, exc)

    def _undecodable(self, piece: bytes, exc: UnicodeDecodeError) -> str:
        """The line decoded anyway (bad bytes kept as surrogates); the record's first such line is noted."""
        if self.bad is None:
            why = f"not valid UTF-8 text (byte 0x{piece[exc.start]:02x} at byte {exc.start + 1} of the line)"
            self.bad = BadRow(self.count, None, why)
        return piece.decode("utf-8", "surrogateescape")

    def start_record(self) -> None:
        self.taken.clear()
        self.bad = None


def _csv_records(src: _Lines, display: str, kind: Kind) -> Iterator[Record]:
    reader = csv.reader(iter(src))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{display}:1: not valid CSV: {exc}") from None
    if src.bad is not None:
        raise InputError(f"{display}:{src.bad.line}: header: {src.bad.message}")
    if header is None:
        msg = f"{display}: empty file; expected a header line with the columns {kind.columns}"
        raise InputError(msg)
    named = [h for h in header if h]
    dupes = sorted({h for h in named if named.count(h) > 1})
    if dupes:
        raise InputError(f"{display}:1: duplicate column(s) {', '.join(dupes)} in the header")
    missing = [c for c in kind.required if c not in header]
    if kind.one_of and not any(c in header for c in kind.one_of):
        missing.append(" or ".join(kind.one_of))
    if missing:
        msg = (
            f"{display}:1: missing required column(s) {', '.join(missing)}; "
            f"the header has {', '.join(header) or '(nothing)'}; "
            f"{kind.name} files need {kind.columns}"
        )
        raise InputError(msg)
    width = len(header)
    while True:
        src.start_record()
        # a quoted field may span lines: the row starts on the line after the last one read
        line = src.count + 1
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            yield line, None, BadRow(line, None, f"not valid CSV: {exc}")
            continue
        if fields is None:
            return
        if src.bad is not None:
            yield line, None, src.bad
        elif not fields:
            continue
        elif len(fields) != width:
            yield line, None, BadRow(line, None, f"expected {width} fields as in the header, got {len(fields)}")
        else:
            yield line, dict(zip(header, fields, strict=True)), None


def _txt_records(src: _Lines) -> Iterator[Record]:
    """One number per line, no header (an opposition-list answer as the service returns it)."""
    for raw in src:
        line = src.count
        if src.bad is not None:
            bad, src.bad = src.bad, None
            src.taken.clear()
            yield line, None, bad
            continue
        text = raw.strip()
        src.taken.clear()
        src.taken.append(raw)
        if text:
            yield line, {"phone": text.split(";")[0].split(",")[0].strip()}, None


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _jsonl_records(src: _Lines) -> Iterator[Record]:
    lines = iter(src)
    while True:
        src.start_record()
        raw = next(lines, None)
        if raw is None:
            return
        line = src.count
        if src.bad is not None:
            yield line, None, src.bad
            continue
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:
            yield line, None, BadRow(line, None, f"expected a JSON object, got invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            yield line, None, BadRow(line, None, f"expected a JSON object, got {type(obj).__name__}")
            continue
        yield line, obj, None


class ExportReader:
    """The records of one export file, streamed, with the text of the record last read.

    Iterating yields ``(line, row, None)`` for each record that could be read and
    ``(line, None, BadRow)`` for one that could not (not UTF-8, not CSV or JSON, the wrong
    number of fields); blank lines are skipped. Line numbers count physical lines,
    whatever the compression, and a quoted CSV field spanning lines counts each of them.
    Problems of the whole file (no header, missing columns, not gzip) raise InputError.
    ``digest`` receives the file's raw bytes as they are read; once the iteration ends
    it has seen the whole file.
    """

    def __init__(self, path: Path, display: str, kind: Kind, digest: _Digest | None = None) -> None:
        self.path = path
        self.display = display
        self.kind = kind
        self.digest = digest
        self.format, self.gzipped = file_format(path, display, kind)
        self._src: _Lines | None = None

    def __iter__(self) -> Generator[Record, None, None]:
        with open(self.path, "rb", buffering=0) as f:
            raw = _HashingReader(f, self.digest)
            binary: IO[bytes] = io.BufferedReader(raw, _CHUNK)
            if self.gzipped:
                # buffered again so that lines are split in C, not by GzipFile.readline
                unzipped = gzip.GzipFile(fileobj=binary, mode="rb")
                binary = io.BufferedReader(cast(io.RawIOBase, unzipped), _CHUNK)
            src = self._src = _Lines(binary)
            if self.format == "csv":
                records = _csv_records(src, self.display, self.kind)
            elif self.format == "txt":
                records = _txt_records(src)
            else:
                records = _jsonl_records(src)
            try:
                yield from records
            except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                msg = f"{self.display}: not a valid gzip file ({exc or 'truncated'}), after line {src.count}"
                raise InputError(msg) from None

    def text(self) -> str:
        """The text of the record last yielded, as in the file but for its last line break.

        Bytes that are not UTF-8 are written ``\\xff``, so the text is valid UTF-8.
        """
        if self._src is None:
            return ""
        text = "".join(self._src.taken)
        text = text.removesuffix("\n").removesuffix("\r")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # the bytes a line held that were not UTF-8, decoded with surrogateescape
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return text


def parse_records(
    reader: ExportReader,
    *,
    timezone: str,
    default_brand: str | None,
    phone_region: str | None = None,
    file_date: int | None = None,
    types: frozenset[str] = ENGAGEMENT_TYPES,
) -> Iterator[tuple[int, Any, BadRow | None]]:
    """``(line, parsed row, None)`` for each good record, ``(line, None, BadRow)`` for each bad one.

    ``types`` are the engagement types the workspace accepts (built-in and declared).
    """
    parse = reader.kind.parser(
        timezone=timezone,
        default_brand=default_brand,
        phone_region=phone_region,
        file_date=file_date,
        source=reader.display,
        types=types,
    )
    for line, row, bad in reader:
        if row is None:
            yield line, None, bad
            continue
        try:
            item = parse(row)
        except RowError as exc:
            yield line, None, BadRow(line, exc.column, exc.message)
            continue
        yield line, item, None


def probe(path: Path, display: str, kind: Kind) -> None:
    """Open a file and read its first record: catches unreadable, non-gzip or headerless files."""
    records = ExportReader(path, display, kind).__iter__()
    try:
        next(records, None)
    finally:
        records.close()


__all__ = [
    "KINDS",
    "SUFFIXES",
    "BadRow",
    "ExportReader",
    "Kind",
    "Record",
    "RowError",
    "attribute_value",
    "file_date",
    "file_format",
    "parse_contact",
    "parse_engagement",
    "parse_opposition",
    "parse_records",
    "parse_touch",
    "probe",
    "sha256_file",
]
