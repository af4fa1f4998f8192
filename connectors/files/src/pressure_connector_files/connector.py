"""The ``files`` connector: export files in, suppression lists out as CSV files.

Pull imports CSV/JSONL exports (optionally gzipped) that another tool drops in a folder.
Its watermark is the SHA-256 of each file already imported, so an unchanged file is
skipped and a changed one is imported again (the ledger dedupes by event id).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import logging
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from pressure_sdk.config import ListConfig
from pressure_sdk.connectors.base import Connector, PushBatch, RemoteList, RemoteMember
from pressure_sdk.errors import ConnectorError, InputError
from pressure_sdk.ledger.store import Member
from pressure_sdk.models import Batch

from .parse import KINDS, BadRow, ExportReader, Kind, file_date, file_format, parse_records, probe, sha256_file
from .settings import FilesSettings

#: order of import: contacts first so their time zones, ids and numbers exist before their events
KIND_ORDER = ("contacts", "oppositions", "touches", "engagements")
#: header of every list file a push writes
LIST_HEADER = ("email", "external_id")
#: what happens to a list file that is deleted or moved away (the sync repairs it)
REWRITE = "the next run writes it again"
#: header of a rejects file: the bad row's line in its source, what is wrong, its text
REJECTS_HEADER = ("line", "reason", "record")
#: a source's rejects file is named after it: ``<rejects_dir>/<source path>.rejects.csv``
REJECTS_SUFFIX = ".rejects.csv"

log = logging.getLogger(__name__)


@dataclass
class _Scan:
    """What the first read of a file found."""

    #: rows that parsed
    rows: int = 0
    #: bad rows, and the first of them to show
    bad: int = 0
    shown: list[BadRow] = field(default_factory=list)
    #: event ids found on more than one line, with the line of their first copy
    repeated: dict[str, int] = field(default_factory=dict)
    #: the rejects file when bad rows are quarantined
    rejects: Path | None = None


class FilesConnector(Connector):
    """Reads touch, engagement and contact exports; writes each pushed list as CSV files."""

    name: ClassVar[str] = "files"
    settings_model: ClassVar[type[FilesSettings]] = FilesSettings
    # Writing a file has no size limit: take every change in one push.
    max_batch: ClassVar[int] = sys.maxsize

    settings: FilesSettings

    # -- paths ----------------------------------------------------------------------

    @property
    def out_dir(self) -> Path:
        """Absolute folder the pushed lists are written to."""
        return self.resolve(self.settings.out_dir or f"out/{self.account.name}")

    @property
    def rejects_dir(self) -> Path:
        """Absolute folder of the rejects files (used with ``rejects = "quarantine"``)."""
        return self.resolve(self.settings.rejects_dir or f"rejects/{self.account.name}")

    def rejects_file(self, source: Path) -> Path:
        """Where the bad rows of ``source`` go: its path under the rejects folder, plus ``.rejects.csv``.

        The source's whole path (relative to the workspace folder when inside it) is kept,
        so two exports of the same name in different folders never share a rejects file.
        """
        rel = Path(self.display(source))
        if rel.is_absolute():
            rel = rel.relative_to(rel.anchor)
        return self.rejects_dir / rel.parent / f"{rel.name}{REJECTS_SUFFIX}"

    def display(self, path: Path) -> str:
        """A path as the user wrote it: relative to the config folder when inside it."""
        try:
            return path.relative_to(self.base_dir).as_posix()
        except ValueError:
            return str(path)

    def _glob(self, pattern: str) -> list[Path]:
        if Path(pattern).is_absolute():
            hits = [Path(h) for h in glob.glob(pattern, recursive=True)]
        else:
            # root_dir keeps glob characters in the config folder's own name literal
            hits = [self.resolve(h) for h in glob.glob(pattern, root_dir=self.base_dir, recursive=True)]
        # rejects files are CSV too: a broad pattern must not import them as exports
        return [h for h in hits if h.is_file() and not h.name.endswith(REJECTS_SUFFIX)]

    def _sources(self) -> list[tuple[Kind, Path]]:
        """Every matched file with its kind, in import order; errors for empty patterns."""
        owner: dict[Path, str] = {}
        out: list[tuple[Kind, Path]] = []
        for kind_name in KIND_ORDER:
            found: set[Path] = set()
            for pattern in getattr(self.settings, kind_name):
                hits = self._glob(pattern)
                if not hits:
                    msg = (
                        f"account {self.account.name!r}: settings.{kind_name} pattern {pattern!r} "
                        f"matches no file under {self.base_dir}; fix the pattern "
                        "(relative to the folder of the workspace file) or export the files first"
                    )
                    raise ConnectorError(msg, connector=self.name)
                found.update(hits)
            for path in sorted(found, key=self.display):
                other = owner.setdefault(path, kind_name)
                if other != kind_name:
                    # the watermark is per file: one file cannot be imported as two kinds
                    msg = (
                        f"account {self.account.name!r}: {self.display(path)} matches both the "
                        f"settings.{other} and settings.{kind_name} patterns; make the patterns disjoint"
                    )
                    raise ConnectorError(msg, connector=self.name)
                out.append((KINDS[kind_name], path))
        return out

    # -- hooks ----------------------------------------------------------------------

    def check(self) -> str:
        """Every pattern matches readable files of a known type, and the out dir is writable."""
        sources = self._sources()
        for kind, path in sources:
            try:
                if kind.name == "oppositions":
                    file_date(path, self.display(path), self.timezone)
                probe(path, self.display(path), kind)
            except InputError as exc:
                raise ConnectorError(str(exc), connector=self.name) from None
            except OSError as exc:
                msg = f"{self.display(path)}: cannot read: {exc.strerror or exc}"
                raise ConnectorError(msg, connector=self.name) from None
        self._check_writable(self.out_dir)
        n = len(sources)
        files = f"{n} export file{'' if n == 1 else 's'} readable" if n else "no export files configured"
        said = f"{files}, out dir {self.display(self.out_dir)} writable"
        if self.settings.rejects == "quarantine":
            self._check_writable(self.rejects_dir, "rejects dir", "rejects_dir")
            said += f", rejects dir {self.display(self.rejects_dir)} writable"
        return said

    def _check_writable(self, folder: Path, what: str = "out dir", key: str = "out_dir") -> None:
        # Probe the folder, or the nearest existing parent it would be created in,
        # without creating anything that outlives the check.
        target = folder
        while not target.exists() and target.parent != target:
            target = target.parent
        where = self.display(folder)
        if not target.is_dir():
            msg = f"{what} {where}: {self.display(target)} exists and is not a folder; set settings.{key}"
            raise ConnectorError(msg, connector=self.name)
        try:
            with tempfile.TemporaryFile(dir=target):
                pass
        except OSError as exc:
            msg = f"{what} {where}: cannot write in {self.display(target)}: {exc.strerror or exc}"
            raise ConnectorError(msg, connector=self.name) from None

    def pull(self, state: dict[str, Any] | None) -> Iterator[Batch]:
        """Import new or changed files; each file's last batch records its hash in the state.

        A file is read twice: a scan finds its bad rows and repeated event ids, then the
        import yields its rows. With ``rejects = "fail"`` a file with a bad row raises
        before any of it is yielded; with ``"quarantine"`` its bad rows go to a rejects file
        and the state's ``rejects`` entry names that file and counts them.
        """
        current: dict[str, Any] = dict(state or {})
        seen: dict[str, str] = dict(current.get("files") or {})
        for kind, path in self._sources():
            rel = self.display(path)
            try:
                file_format(path, rel, kind)
                if kind.name == "oppositions":
                    file_date(path, rel, self.timezone)
                digest = sha256_file(path)
            except OSError as exc:
                msg = f"{rel}: cannot read: {exc.strerror or exc}"
                raise ConnectorError(msg, connector=self.name) from None
            if seen.get(rel) == digest:
                continue
            seen = {**seen, rel: digest}
            current = {**current, "files": seen}
            try:
                # All or nothing per file (but for quarantined rows): the scan must finish
                # before any of the file is yielded.
                scan = self._scan(kind, path, rel, digest)
                current = self._note_rejects(current, rel, scan)
                yield from self._batches(kind, path, rel, digest, current, scan)
            except OSError as exc:
                # e.g. the export tool deleted or rotated the file between the passes
                msg = f"{rel}: cannot read: {exc.strerror or exc}"
                raise ConnectorError(msg, connector=self.name) from None

    def _records(self, kind: Kind, path: Path, rel: str, digest: Any) -> tuple[ExportReader, Iterator[Any]]:
        reader = ExportReader(path, rel, kind, digest)
        when = file_date(path, rel, self.timezone) if kind.name == "oppositions" else None
        return reader, parse_records(
            reader,
            timezone=self.timezone,
            default_brand=self.account.brand,
            phone_region=self.settings.phone_region,
            file_date=when,
            types=self.engagement_types,
        )

    def _same_file(self, rel: str, expected: str, digest: Any) -> None:
        if digest.hexdigest() != expected:
            msg = f"{rel}: the file changed while it was being read; run again once the export is complete"
            raise InputError(msg)

    def _scan(self, kind: Kind, path: Path, rel: str, expected: str) -> _Scan:
        """Read a file through once: count its rows, find its bad rows and repeated event ids.

        Quarantined bad rows are written to the rejects file as they are found; it replaces
        the previous one only once the whole file was read (a file without bad rows removes
        it). Raises InputError listing the bad rows when they are not quarantined.
        """
        quarantine = self.settings.rejects == "quarantine"
        limit = self.settings.bad_rows_reported
        digest = hashlib.sha256()
        scan = _Scan(rejects=self.rejects_file(path) if quarantine else None)
        # event id -> line of its first copy; the import compares the later copies with it
        firsts: dict[str, int] = {}
        events = kind.name in ("touches", "engagements")
        rejects: _AtomicFile | None = None
        out: Any = None
        try:
            reader, records = self._records(kind, path, rel, digest)
            for line, item, bad in records:
                if bad is not None:
                    scan.bad += 1
                    if len(scan.shown) < limit:
                        scan.shown.append(bad)
                    if scan.rejects is not None:
                        try:
                            if rejects is None:
                                rejects = _AtomicFile(scan.rejects)
                                out = csv.writer(rejects.file)
                                out.writerow(REJECTS_HEADER)
                            out.writerow((bad.line, bad.reason, reader.text()))
                        except OSError as exc:
                            raise self._rejects_error(scan.rejects, exc) from None
                    continue
                scan.rows += 1
                if events:
                    first = firsts.setdefault(item.event_id, line)
                    if first != line:
                        scan.repeated[item.event_id] = first
            # the rejects file (if any) is put in place only for the bytes the hash names
            self._same_file(rel, expected, digest)
            if rejects is not None:
                try:
                    rejects.commit()
                except OSError as exc:
                    raise self._rejects_error(rejects.path, exc) from None
        finally:
            if rejects is not None:
                rejects.discard()
        if scan.bad and scan.rejects is None:
            raise InputError(self._bad_rows_message(rel, scan, "nothing of the file was imported"))
        if scan.rejects is not None and not scan.bad:
            self._remove_rejects(scan.rejects)  # written for an earlier version of the file
        if scan.bad:
            where = self.display(scan.rejects) if scan.rejects is not None else ""
            log.warning(
                "%s", self._bad_rows_message(rel, scan, f"set aside in {where}, the other {scan.rows} imported")
            )
        return scan

    def _rejects_error(self, path: Path, exc: OSError) -> ConnectorError:
        msg = (
            f"cannot write rejects file {self.display(path)}: {exc.strerror or exc}; "
            "set settings.rejects_dir to a folder the run can write in"
        )
        return ConnectorError(msg, connector=self.name)

    def _bad_rows_message(self, rel: str, scan: _Scan, outcome: str) -> str:
        """One bad row as ``file:line: column: why``; several as a count, then the first ones."""
        if scan.bad == 1 and scan.rejects is None:
            return scan.shown[0].describe(rel)
        rows = "1 bad row" if scan.bad == 1 else f"{scan.bad} bad rows"
        lines = [f"{rel}: {rows}, {outcome}:", *(f"    {b.describe(rel)}" for b in scan.shown)]
        if scan.bad > len(scan.shown):
            lines.append(f"    and {scan.bad - len(scan.shown)} more")
        return "\n".join(lines)

    def _note_rejects(self, state: dict[str, Any], rel: str, scan: _Scan) -> dict[str, Any]:
        """The state with the file's entry under ``rejects``: its rejects file and count, or none."""
        rejects: dict[str, Any] = dict(state.get("rejects") or {})
        old = rejects.pop(rel, None)
        if scan.bad and scan.rejects is not None:
            rejects[rel] = {"rows": scan.bad, "file": self.display(scan.rejects)}
        elif isinstance(old, dict) and isinstance(old.get("file"), str):
            # the file is clean now: its rejects, wherever they were written, are stale
            self._remove_rejects(self.resolve(old["file"]))
        if not rejects:
            return {k: v for k, v in state.items() if k != "rejects"}
        return {**state, "rejects": rejects}

    def _remove_rejects(self, path: Path) -> None:
        if not path.name.endswith(REJECTS_SUFFIX):
            return  # never delete what this connector did not write
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: cannot remove stale rejects file: %s", self.display(path), exc.strerror or exc)

    def _batches(
        self, kind: Kind, path: Path, rel: str, expected: str, state: dict[str, Any], scan: _Scan
    ) -> Iterator[Batch]:
        size = self.settings.batch_size
        digest = hashlib.sha256()
        chunk: list[Any] = []
        # the first copy of each repeated event id, to compare the later ones with
        kept: dict[str, Any] = {}
        conflicts = 0
        limit = self.settings.bad_rows_reported
        _, records = self._records(kind, path, rel, digest)
        for line, item, _bad in records:
            if item is None:
                continue  # quarantined by the scan (or it raised)
            if scan.repeated and (first := scan.repeated.get(item.event_id)) is not None:
                if line == first:
                    kept[item.event_id] = item
                elif item != kept[item.event_id]:
                    # the ledger keeps one copy of an event id: the file's first one
                    conflicts += 1
                    if conflicts <= limit:
                        log.warning(
                            "%s:%d: event id %r is already on line %d with different content; "
                            "line %d is kept, line %d is ignored",
                            rel, line, item.event_id, first, first, line,
                        )  # fmt: skip
                    continue
            # Hold a full chunk until the next row shows it is not the last one:
            # only the last batch of a file may carry the state.
            if len(chunk) == size:
                yield self._batch(kind, chunk, None)
                chunk = []
            chunk.append(item)
        # The watermark must describe the bytes that were imported, not a newer version.
        self._same_file(rel, expected, digest)
        if conflicts > limit:
            log.warning(
                "%s: and %d more event ids repeated with different content (the first copy of each is kept)",
                rel, conflicts - limit,
            )  # fmt: skip
        yield self._batch(kind, chunk, state)

    @staticmethod
    def _batch(kind: Kind, rows: list[Any], state: dict[str, Any] | None) -> Batch:
        if kind.name == "touches":
            return Batch(touches=rows, state=state)
        if kind.name == "engagements":
            return Batch(engagements=rows, state=state)
        if kind.name == "oppositions":
            return Batch(oppositions=rows, state=state)
        return Batch(contacts=rows, state=state)

    def list_file(self, lst: ListConfig) -> Path:
        """The file holding the whole list: ``<out_dir>/<list>.csv``."""
        name = lst.name
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            msg = f"list name {name!r} cannot be used as a file name in {self.display(self.out_dir)}"
            raise ConnectorError(msg, connector=self.name)
        return self.out_dir / f"{name}.csv"

    def push(
        self,
        lst: ListConfig,
        adds: Sequence[Member],
        removes: Sequence[Member],
        members: Sequence[Member],
    ) -> Iterator[PushBatch]:
        """Write ``<list>.csv``, ``<list>.adds.csv`` and ``<list>.removes.csv``, each atomically."""
        path = self.list_file(lst)
        folder, name = path.parent, lst.name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _remove_leftovers(folder, (f"{name}.adds.csv", f"{name}.removes.csv", path.name))
            # the full list last: it is what a reader of the folder trusts
            _write_members(folder / f"{name}.adds.csv", adds)
            _write_members(folder / f"{name}.removes.csv", removes)
            _write_members(path, members)
        except OSError as exc:
            msg = f"cannot write list {name!r} in {self.display(folder)}: {exc.strerror or exc}"
            raise ConnectorError(msg, connector=self.name) from None
        yield PushBatch(added=[m.contact_id for m in adds], removed=[m.contact_id for m in removes])

    def inspect_list(self, lst: ListConfig, *, full: bool = False) -> RemoteList:
        """Read ``<list>.csv`` back: gone, or its rows and members.

        The file is read whole either way (counting its rows is reading it), so the cheap
        look returns the members too: an edit that keeps the size is seen every run, and a
        file that is not a list file is reported.
        """
        path = self.list_file(lst)
        rel = self.display(path)
        try:
            # utf-8-sig: a list opened and saved again in a spreadsheet gains a BOM
            with path.open(encoding="utf-8-sig", newline="") as f:
                members = self._read_members(f, rel)
        except FileNotFoundError:
            return RemoteList(exists=False)
        except IsADirectoryError:
            msg = f"{rel}: is a folder, not the file of list {lst.name!r}; move it away and {REWRITE}"
            raise ConnectorError(msg, connector=self.name) from None
        except OSError as exc:
            msg = (
                f"{rel}: cannot read list {lst.name!r}: {exc.strerror or exc}; give the user running "
                f"pressure-sync read access to it, or delete it and {REWRITE}"
            )
            raise ConnectorError(msg, connector=self.name) from None
        except (UnicodeDecodeError, csv.Error) as exc:
            msg = f"{rel}: not a list file ({exc}); delete it or move it away and {REWRITE}"
            raise ConnectorError(msg, connector=self.name) from None
        return RemoteList(exists=True, size=len(members), members=members)

    def _read_members(self, f: Any, rel: str) -> list[RemoteMember]:
        """Rows of a list file, emails normalized as the ledger keeps them; blank lines skipped."""
        expected = ",".join(LIST_HEADER)
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header) != LIST_HEADER:
            found = "the file is empty" if header is None else f"its header is {','.join(header)!r}"
            msg = f"{rel}: not a list file: {found}, expected {expected!r}; delete it or move it away and {REWRITE}"
            raise ConnectorError(msg, connector=self.name)
        members: list[RemoteMember] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(LIST_HEADER):
                msg = (
                    f"{rel}:{reader.line_num}: {len(row)} columns, expected {expected!r}; "
                    f"fix the line, or delete it and {REWRITE}"
                )
                raise ConnectorError(msg, connector=self.name)
            email = row[0].strip().lower() or None
            external_id = (row[1].strip() if len(row) > 1 else "") or None
            members.append(RemoteMember(email=email, external_id=external_id))
        return members


def _write_members(path: Path, members: Sequence[Member]) -> None:
    """Write ``email,external_id`` rows sorted by email; readers never see a partial file."""
    with _atomic_text(path) as f:
        w = csv.writer(f)
        w.writerow(("email", "external_id"))
        for m in sorted(members, key=lambda m: (m.email, m.contact_id)):
            w.writerow((m.email, m.external_id or ""))


class _AtomicFile:
    """A UTF-8 text file that replaces ``path`` whole on :meth:`commit`, and never partly.

    It is written under a temporary name in the same folder (created if needed), synced,
    then renamed over ``path``; :meth:`discard` removes it if it was not committed, and
    ``path`` is left as it was. Its mode is 0666 less the process umask, as for any file
    the process creates (so a umask of 022 lets an upload agent of another user read it).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        fd, tmp = _create_temp(path)
        self._tmp: Path | None = tmp
        try:
            self.file: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except BaseException:
            os.close(fd)
            self.discard()
            raise

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        assert self._tmp is not None, "committed twice"
        os.replace(self._tmp, self.path)
        self._tmp = None
        _fsync_dir(self.path.parent)

    def discard(self) -> None:
        if self._tmp is None:
            return
        if hasattr(self, "file"):
            self.file.close()
        self._tmp.unlink(missing_ok=True)
        self._tmp = None


@contextlib.contextmanager
def _atomic_text(path: Path) -> Iterator[IO[str]]:
    """An :class:`_AtomicFile` committed when the block ends without error."""
    f = _AtomicFile(path)
    try:
        yield f.file
        f.commit()
    finally:
        f.discard()


def _remove_leftovers(folder: Path, names: Sequence[str]) -> None:
    """Temporary files a killed run left behind while writing these files.

    One run per workspace holds the lock, so no other writer's temporary file can be here.
    """
    for name in names:
        for tmp in folder.glob(f".{glob.escape(name)}.*.tmp"):
            if re.fullmatch(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}\.tmp", tmp.name):
                tmp.unlink(missing_ok=True)


def _create_temp(path: Path) -> tuple[int, Path]:
    # Not tempfile.mkstemp: it creates files 0600 whatever the umask. The kernel applies
    # the umask to the mode given here; O_EXCL makes the name ours alone.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    msg = f"cannot create a temporary file next to {path}"
    raise FileExistsError(errno.EEXIST, msg)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
