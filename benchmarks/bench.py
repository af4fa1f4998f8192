"""Benchmark of the pressure ledger: ingest, suppression-list recompute, decide, reserve.

    python benchmarks/bench.py --touches 1000000 --json

Builds a synthetic ledger in a temporary folder (or ``--keep DIR``) and prints human
lines (phase timings, rows/s) followed by ONE JSON object as the last line::

    {"touches": N, "ingest_ratio": ..., "recompute_ratio": ..., "decide_p50_ms": ...,
     "decide_p99_ms": ..., "reserve_per_s": ..., "peak_rss_mb": ...}

Ratios compare the SDK with plain SQLite doing the same I/O in the same run, so they
say how much the SDK adds on top of the storage engine, whatever the machine:

* ``ingest_ratio``: ``Ledger.ingest`` of N touches / a raw ``executemany`` of the same
  rows into a bare table (no index) of another file in the same folder, same pragmas,
  same batches, one commit per batch. Data generation is outside both timings.
* ``recompute_ratio``: ``segments.compute_lists`` over every configured list / one raw
  ``SELECT contact_id, SUM(COALESCE(weight,1)) FROM touches WHERE at > ? AND at <= ?
  GROUP BY contact_id`` over the policy's lookback, on the same ledger connection.

With ``--ledger postgresql://…`` (or ``--start-postgres``) the same phases run against
a PostgreSQL ledger, with raw PostgreSQL as the baseline (``COPY`` into a bare table; the
same aggregate). With more than one backend, each runs in a process of its own and the
figures are printed side by side; the last line is then ``{"touches": N, "sqlite": {...},
"postgresql": {...}}``.

This is not a test and is not collected by pytest. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pressure_sdk.config import WorkspaceConfig, parse_config
from pressure_sdk.ledger import Ledger, LedgerAPI
from pressure_sdk.ledger.schema import BUCKET_SHIFT
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.policy import Policy
from pressure_sdk.segments import compute_lists
from pressure_sdk.workspace import Workspace

# A fixed instant so runs are comparable: Wednesday 2025-06-04 12:00 UTC.
NOW = int(datetime(2025, 6, 4, 12, 0, tzinfo=UTC).timestamp())
SPAN = 90 * 86400

BRANDS = ("alpha", "beta", "gamma")  # alpha and beta share the group "north"
ACCOUNT_OF = {"alpha": "alpha-esp", "beta": "beta-esp", "gamma": "gamma-esp"}
CHANNELS = (("email", 0.80), ("sms", 0.10), ("push", 0.10))
FAMILIES = (("marketing", 0.60), ("trigger", 0.25), ("transactional", 0.15))

TARGETS = {
    "ingest_ratio": ("<=", 1.5),
    "recompute_ratio": ("<=", 2.0),
    "decide_p99_ms": ("<=", 1.0),
    "reserve_per_s": (">=", 5000.0),
    "peak_rss_mb": ("<=", 500.0),
}

RAW_SCHEMA = """CREATE TABLE touches (
    event_id TEXT, email TEXT, channel TEXT, brand TEXT, family TEXT, sent_at INTEGER, weight REAL
)"""
RAW_INSERT = "INSERT INTO touches VALUES (?,?,?,?,?,?,?)"
PG_RAW_SCHEMA = """CREATE TABLE raw_touches (
    event_id text, email text, channel text, brand text, family text, sent_at bigint, weight double precision
)"""
RAW_AGGREGATE = "SELECT contact_id, SUM(COALESCE(weight,1)) FROM touches WHERE at > ? AND at <= ? GROUP BY contact_id"


def say(msg: str) -> None:
    print(msg, flush=True)


def bench_config(base_dir: Path) -> WorkspaceConfig:
    """A realistic three-brand workspace: 2 brands in a group, 5 rules, 3 accounts."""
    return parse_config(
        {
            "workspace": {"name": "bench", "ledger": "ledger.db", "timezone": "UTC", "week_start": "mon"},
            "families": {
                "transactional": {"priority": 100, "weight": 1, "exempt": True},
                "trigger": {"priority": 50, "weight": 1},
                "marketing": {"priority": 10, "weight": 1},
            },
            "brands": {
                "alpha": {"priority": 2, "group": "north"},
                "beta": {"priority": 1, "group": "north"},
                "gamma": {"priority": 0},
            },
            "rules": [
                {
                    "id": "marketing-email-7d",
                    "kind": "cap",
                    "channels": ["email"],
                    "families": ["marketing"],
                    "max": 3,
                    "window": "7d",
                    "scope": "brand",
                },
                {
                    "id": "group-week",
                    "kind": "cap",
                    "families": ["marketing", "trigger"],
                    "max": 6,
                    "calendar": "week",
                    "scope": "group",
                },
                {
                    "id": "tier-30d",
                    "kind": "cap",
                    "families": ["marketing"],
                    "max": {"new": 10, "engaged": 12, "active": 8, "dormant": 4, "inactive": 2, "default": 8},
                    "window": "30d",
                    "scope": "all",
                },
                {"id": "gap-1d", "kind": "gap", "families": ["marketing"], "min_gap": "1d", "scope": "brand"},
                {"id": "quiet-complaint", "kind": "quiet", "after": ["complaint"], "for": "30d"},
            ],
            "accounts": [
                {
                    "name": "alpha-esp",
                    "connector": "files",
                    "brand": "alpha",
                    "lists": [
                        {"name": "no-marketing-email"},
                        {"name": "no-marketing-sms", "channel": "sms"},
                    ],
                },
                {
                    "name": "beta-esp",
                    "connector": "files",
                    "brand": "beta",
                    "lists": [{"name": "no-marketing-email"}],
                },
                {
                    "name": "gamma-esp",
                    "connector": "files",
                    "brand": "gamma",
                    "lists": [
                        {"name": "no-marketing-email"},
                        {"name": "no-trigger-email", "family": "trigger"},
                    ],
                },
            ],
        },
        source="<bench>",
        base_dir=base_dir,
    )


# -- synthetic data ------------------------------------------------------------------


def _cum(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], list[float]]:
    names = tuple(n for n, _ in pairs)
    acc, out = 0.0, []
    for _, p in pairs:
        acc += p
        out.append(acc)
    return names, out


def email_of(idx: int) -> str:
    return f"c{idx:07d}@example.com"


def home_brand(idx: int) -> str:
    return BRANDS[idx % 3]


class Generator:
    """Deterministic, time-ordered touches (and engagements) in bounded batches.

    Touch ``i`` of ``n`` is at ``NOW - SPAN + 1 + i * SPAN // n``, so exports arrive in
    time order over 90 days ending at ``NOW``. A contact gets 85 % of its touches from
    its home brand and the rest from another, so some contacts belong to two accounts.
    About ``n / 20`` touches get an open or a click, and a few a complaint or an
    unsubscribe, so the quiet rule and consent have data.
    """

    def __init__(self, n: int, contacts: int, seed: int) -> None:
        self.n, self.contacts = n, contacts
        self.rng = random.Random(seed)
        self.ch_names, self.ch_cum = _cum(CHANNELS)
        self.fa_names, self.fa_cum = _cum(FAMILIES)

    def batches(self, size: int) -> Iterator[tuple[list[Touch], list[Engagement]]]:
        rng, n, contacts = self.rng, self.n, self.contacts
        rand, randrange = rng.random, rng.randrange
        ch_names, ch_cum, fa_names, fa_cum = self.ch_names, self.ch_cum, self.fa_names, self.fa_cum
        start = NOW - SPAN + 1
        eng_no = 0
        for lo in range(0, n, size):
            touches: list[Touch] = []
            engagements: list[Engagement] = []
            for i in range(lo, min(lo + size, n)):
                idx = randrange(contacts)
                brand = home_brand(idx) if rand() < 0.85 else BRANDS[randrange(3)]
                r = rand()
                channel = ch_names[0] if r < ch_cum[0] else ch_names[1] if r < ch_cum[1] else ch_names[2]
                r = rand()
                family = fa_names[0] if r < fa_cum[0] else fa_names[1] if r < fa_cum[1] else fa_names[2]
                weight = 2.0 if (channel == "sms" and rand() < 0.1) else None
                at = start + i * SPAN // n
                email = email_of(idx)
                touches.append(Touch(f"t{i:09d}", email, channel, brand, family, at, weight))
                r = rand()
                if r < 0.05:  # n/20 opens and clicks
                    typ = "open" if r < 0.035 else "click"
                elif r < 0.05 + 0.0002:  # a few complaints
                    typ = "complaint"
                elif r < 0.05 + 0.0006:  # and unsubscribes
                    typ = "unsubscribe"
                else:
                    continue
                e_at = min(at + randrange(60, 2 * 86400), NOW)
                engagements.append(Engagement(f"g{eng_no:09d}", email, typ, e_at, channel, brand))
                eng_no += 1
            yield touches, engagements


def by_account(items: list[Any]) -> list[tuple[str, list[Any]]]:
    groups: dict[str, list[Any]] = {}
    for x in items:
        groups.setdefault(ACCOUNT_OF[x.brand], []).append(x)
    return sorted(groups.items())


# -- helpers --------------------------------------------------------------------------


class Profiler:
    """cProfile around the SDK calls of the phases named by ``--profile``."""

    def __init__(self, phases: set[str]) -> None:
        self.phases = phases
        self.profiles: dict[str, cProfile.Profile] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        if phase not in self.phases:
            yield
            return
        prof = self.profiles.setdefault(phase, cProfile.Profile())
        prof.enable()
        try:
            yield
        finally:
            prof.disable()

    def report(self, top: int) -> None:
        for phase, prof in self.profiles.items():
            for sort in ("tottime", "cumulative"):
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(sort).print_stats(top)
                say(f"--- profile of {phase} by {sort} ---")
                say(buf.getvalue().rstrip())


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def raw_connection(path: Path, cache_mb: int) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
    conn.execute(RAW_SCHEMA)
    return conn


class SqliteSide:
    """The SQLite ledger and its baseline: a bare table in ``raw.db`` beside it."""

    name = "sqlite"

    def __init__(self, folder: Path, cfg: WorkspaceConfig) -> None:
        self.folder, self.path = folder, cfg.ledger_path
        self.ledger: Any = Ledger(cfg.ledger_path)
        self.raw = raw_connection(folder / "raw.db", cache_mb=64)

    def raw_insert(self, *groups: list[tuple[Any, ...]]) -> None:
        self.raw.execute("BEGIN")
        for rows in groups:
            self.raw.executemany(RAW_INSERT, rows)
        self.raw.execute("COMMIT")

    def close_raw(self) -> None:
        self.raw.close()

    def aggregate(self, sql: str, params: tuple[Any, ...]) -> int:
        # Every row is fetched into Python, one at a time: a list of ~N/10 tuples would
        # count against peak RSS, which is the SDK's figure, not the baseline's.
        return sum(1 for _ in self.ledger.conn.execute(sql, params))

    def sizes(self) -> str:
        return f"files ledger {file_mb(self.path):,.0f} MB, raw {file_mb(self.folder / 'raw.db'):,.0f} MB"

    def version(self) -> str:
        return f"sqlite {sqlite3.sqlite_version}"

    def finish(self, keep: bool) -> None:
        pass


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (other query options kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-c search_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class PostgresSide:
    """A PostgreSQL ledger in a schema of its own, and its baseline: ``COPY`` into a bare table."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        from pressure_sdk.ledger.postgres import PostgresLedger

        self.schema = f"pressure_bench_{os.getpid()}_{int(time.time())}"
        self.admin = psycopg.connect(url, autocommit=True)
        self.admin.execute(f"CREATE SCHEMA {self.schema}")
        self.url = schema_url(url, self.schema)
        self.ledger = PostgresLedger(self.url)
        self.raw = psycopg.connect(self.url, autocommit=True)
        self.raw.execute(PG_RAW_SCHEMA)

    def raw_insert(self, *groups: list[tuple[Any, ...]]) -> None:
        with self.raw.transaction(), self.raw.cursor() as cur:
            for rows in groups:
                with cur.copy("COPY raw_touches FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)

    def close_raw(self) -> None:
        self.raw.close()

    def aggregate(self, sql: str, params: tuple[Any, ...]) -> int:
        return sum(1 for _ in self.ledger.conn.execute(sql.replace("?", "%s"), params))

    def sizes(self) -> str:
        def mb(pattern: str) -> float:
            row = self.admin.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' "
                "AND c.relname LIKE %s",
                (self.schema, pattern),
            ).fetchone()
            return float(row[0]) / 1e6 if row else 0.0

        raw = mb("raw\\_%")
        return f"tables ledger {mb('%') - raw:,.0f} MB, raw {raw:,.0f} MB (schema {self.schema})"

    def version(self) -> str:
        import psycopg

        row = self.admin.execute("SHOW server_version").fetchone()
        return f"postgresql {row[0] if row else '?'}, psycopg {psycopg.__version__}"

    def finish(self, keep: bool) -> None:
        from pressure_sdk.ledger.postgres import close_pool

        close_pool(self.url)
        if keep:
            say(f"  kept schema {self.schema}")
        else:
            self.admin.execute(f"DROP SCHEMA {self.schema} CASCADE")
        self.admin.close()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def draw_candidate(rng: random.Random, contacts: int) -> tuple[str, str, str, str]:
    idx = rng.randrange(contacts)
    brand = home_brand(idx) if rng.random() < 0.85 else BRANDS[rng.randrange(3)]
    r = rng.random()
    channel = "email" if r < 0.8 else "sms" if r < 0.9 else "push"
    r = rng.random()
    family = "marketing" if r < 0.6 else "trigger" if r < 0.85 else "transactional"
    return email_of(idx), channel, brand, family


def file_mb(path: Path) -> float:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total / 1e6


# -- phases ---------------------------------------------------------------------------


def phase_ingest(
    side: SqliteSide | PostgresSide, gen: Generator, batch: int, prof: Profiler, one_commit: bool = False
) -> dict[str, float]:
    ledger = side.ledger
    sdk_s = raw_s = eng_s = sdk_cpu = raw_cpu = 0.0
    n_touches = n_eng = 0
    next_report = max(batch, gen.n // 10)
    t_wall = time.perf_counter()
    for touches, engagements in gen.batches(batch):
        groups = by_account(touches)
        raw_groups = [
            (acc, [(t.event_id, t.email, t.channel, t.brand, t.family, t.at, t.weight) for t in ts])
            for acc, ts in groups
        ]
        # The SDK and plain SQLite get the same rows, in the same sub-batches (one per
        # account, as a sync would page them), with one commit each; with --one-commit,
        # one commit for all the sub-batches of a generated batch, on both sides.
        with prof("ingest"):
            t0, c0 = time.perf_counter(), time.process_time()
            with ledger.transaction() if one_commit else contextlib.nullcontext():
                for acc, ts in groups:
                    ledger.ingest(Batch(touches=ts), account=acc)
            sdk_s += time.perf_counter() - t0
            sdk_cpu += time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        if one_commit:
            side.raw_insert(*(rows for _acc, rows in raw_groups))
        else:
            for _acc, rows in raw_groups:
                side.raw_insert(rows)
        raw_s += time.perf_counter() - t0
        raw_cpu += time.process_time() - c0
        n_touches += len(touches)
        # Engagements are ingested too (quiet rules, consent) but not part of the ratio.
        for acc, es in by_account(engagements):
            t0 = time.perf_counter()
            ledger.ingest(Batch(engagements=es), account=acc)
            eng_s += time.perf_counter() - t0
        n_eng += len(engagements)
        if n_touches >= next_report:
            next_report += max(batch, gen.n // 10)
            say(
                f"  ingest {n_touches:>11,} touches  sdk {sdk_s:7.1f}s ({n_touches / sdk_s:>9,.0f}/s)  "
                f"raw {raw_s:6.1f}s ({n_touches / raw_s:>9,.0f}/s)  ratio {sdk_s / raw_s:5.2f}  "
                f"rss {rss_mb():6.0f} MB  wall {time.perf_counter() - t_wall:6.0f}s"
            )
    return {
        "sdk_s": sdk_s,
        "raw_s": raw_s,
        "sdk_cpu": sdk_cpu,
        "raw_cpu": raw_cpu,
        "eng_s": eng_s,
        "touches": n_touches,
        "engagements": n_eng,
    }


def source_version() -> str:
    """Package version and, from a git checkout, the commit (``+dirty`` with local changes)."""
    import subprocess

    import pressure_sdk

    out = getattr(pressure_sdk, "__version__", "?")
    src = Path(pressure_sdk.__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return out
    return f"{out} (git {sha}{'+dirty' if dirty else ''})" if sha else out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SIDE_BY_SIDE = (
    ("ingest_ratio", "{:.2f}"),
    ("ingest_rows_per_s", "{:,.0f}"),
    ("raw_rows_per_s", "{:,.0f}"),
    ("recompute_ratio", "{:.2f}"),
    ("recompute_s", "{:.2f}"),
    ("decide_p50_ms", "{:.3f}"),
    ("decide_p99_ms", "{:.3f}"),
    ("reserve_per_s", "{:,.0f}"),
    ("peak_rss_mb", "{:,.0f}"),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--touches", type=int, default=1_000_000, help="touches to ingest (default 1,000,000)")
    ap.add_argument("--contacts", type=int, default=None, help="distinct contacts (default touches/10)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch", type=int, default=50_000, help="touches per generated batch (default 50,000)")
    ap.add_argument("--decides", type=int, default=2_000, help="decide() calls to time (default 2,000)")
    ap.add_argument("--reserves", type=int, default=5_000, help="reserve() calls to time (default 5,000)")
    ap.add_argument(
        "--one-commit",
        action="store_true",
        help="commit once per generated batch (all its accounts' sub-batches), on both sides, "
        "instead of once per sub-batch",
    )
    ap.add_argument("--json", action="store_true", help="print only human lines and the JSON line (no target table)")
    ap.add_argument("--keep", metavar="DIR", help="build the files in DIR and keep them (and a PostgreSQL schema)")
    ap.add_argument(
        "--ledger",
        action="append",
        metavar="TARGET",
        help="backend to measure: 'sqlite' (the default) or a postgresql:// URL (the run makes a schema "
        "of its own there and drops it at the end); repeat it to compare backends side by side",
    )
    ap.add_argument(
        "--start-postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server from the system's binaries and measure it too",
    )
    ap.add_argument(
        "--profile",
        default="",
        metavar="PHASES",
        help="comma-separated phases to run under cProfile: ingest,recompute,decide,reserve "
        "(timings of profiled phases are inflated; use for where-time-goes only)",
    )
    ap.add_argument("--profile-top", type=int, default=25, help="rows per profile table (default 25)")
    args = ap.parse_args(argv)

    n = args.touches
    contacts = args.contacts or max(1, n // 10)
    if n < 1 or contacts < 1:
        ap.error("--touches and --contacts must be positive")
    targets = list(args.ledger or [] if args.start_postgres else args.ledger or ["sqlite"])
    for t in targets:
        if t != "sqlite" and not t.startswith(("postgresql://", "postgres://")):
            ap.error(f"--ledger {t!r}: expected 'sqlite' or a postgresql:// URL")
    if args.start_postgres:
        from pgserver import TempPostgres  # type: ignore[import-not-found]

        server = TempPostgres()
        say(f"started a throwaway PostgreSQL server: {server.url}")
        try:
            return main_targets(args, argv or sys.argv[1:], [*(targets or ["sqlite"]), server.url], n, contacts)
        finally:
            server.stop()
    return main_targets(args, argv or sys.argv[1:], targets, n, contacts)


def main_targets(args: argparse.Namespace, argv: list[str], targets: list[str], n: int, contacts: int) -> int:
    if len(targets) > 1:
        return side_by_side(args, argv, targets, n)
    target = targets[0]
    prof = Profiler({p.strip() for p in args.profile.split(",") if p.strip()})

    if args.keep:
        folder = Path(args.keep)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("ledger.db", "raw.db"):
            if target == "sqlite" and (folder / name).exists():
                raise SystemExit(f"{folder / name} exists; --keep needs a folder without a previous run")
    else:
        folder = Path(tempfile.mkdtemp(prefix="pressure-bench-"))

    say(
        f"pressure-sdk bench: {n:,} touches, {contacts:,} contacts, seed {args.seed}, "
        f"batch {args.batch:,}, folder {folder}"
    )
    try:
        result = run(args, folder, target, n, contacts, prof)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    prof.report(args.profile_top)

    if not args.json:
        say("targets:")
        for key, (op, limit) in TARGETS.items():
            v = result[key]
            ok = v <= limit if op == "<=" else v >= limit
            say(f"  {key:<16} {v:>10.3f}  target {op} {limit:g}  {'ok' if ok else 'MISSED'}")
    print(json.dumps(result), flush=True)
    return 0


def side_by_side(args: argparse.Namespace, argv: list[str], targets: list[str], n: int) -> int:
    """Each backend in a process of its own (its own peak RSS), then the figures side by side."""
    base: list[str] = []
    skip = False
    for a in argv:  # the child gets the same options but one backend and no server to start
        if skip:
            skip = False
            continue
        if a in ("--ledger", "--start-postgres"):
            skip = a == "--ledger"
            continue
        if a.startswith("--ledger="):
            continue
        base.append(a)
    results: dict[str, dict[str, Any]] = {}
    for target in targets:
        kind = "sqlite" if target == "sqlite" else "postgresql"
        say(f"=== {kind} ===")
        cmd = [sys.executable, str(Path(__file__).resolve()), *base, "--ledger", target, "--json"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        last = ""
        for line in proc.stdout:
            last = line
            say(f"  [{kind}] {line.rstrip()}")
        if proc.wait() != 0:
            say(f"  [{kind}] exited {proc.returncode}")
            continue
        results[kind] = json.loads(last)
    kinds = list(results)
    say("side by side:")
    say(f"  {'figure':<20}" + "".join(f"{k:>16}" for k in kinds) + "   target")
    for key, fmt in SIDE_BY_SIDE:
        target_text = " ".join(str(x) for x in TARGETS[key]) if key in TARGETS else ""
        say(
            f"  {key:<20}"
            + "".join(f"{fmt.format(results[k][key]) if key in results[k] else '-':>16}" for k in kinds)
            + f"   {target_text}"
        )
    print(json.dumps({"touches": n, **results}), flush=True)
    return 0 if len(results) == len(targets) else 1


def run(args: argparse.Namespace, folder: Path, target: str, n: int, contacts: int, prof: Profiler) -> dict[str, Any]:
    cfg = bench_config(folder)
    policy = Policy(cfg)
    side: SqliteSide | PostgresSide = SqliteSide(folder, cfg) if target == "sqlite" else PostgresSide(target)
    ledger: LedgerAPI = side.ledger
    say(f"  {side.version()}, python {sys.version.split()[0]}, pressure-sdk {source_version()}")
    try:
        return measure(args, side, ledger, cfg, policy, n, contacts, prof)
    finally:
        side.finish(bool(args.keep))


def measure(
    args: argparse.Namespace,
    side: SqliteSide | PostgresSide,
    ledger: LedgerAPI,
    cfg: WorkspaceConfig,
    policy: Policy,
    n: int,
    contacts: int,
    prof: Profiler,
) -> dict[str, Any]:
    # 1. ingest ---------------------------------------------------------------------
    say(
        f"phase 1: ingest (SDK ingest vs raw {'executemany' if side.name == 'sqlite' else 'COPY'}, same batches; "
        f"one commit per {'generated batch' if args.one_commit else 'sub-batch'})"
    )
    gen = Generator(n, contacts, args.seed)
    t_wall = time.perf_counter()
    ing = phase_ingest(side, gen, args.batch, prof, args.one_commit)
    wall = time.perf_counter() - t_wall
    side.close_raw()
    ingest_ratio = ing["sdk_s"] / ing["raw_s"]
    say(
        f"  touches: sdk {ing['sdk_s']:.2f}s ({n / ing['sdk_s']:,.0f} rows/s), "
        f"raw {ing['raw_s']:.2f}s ({n / ing['raw_s']:,.0f} rows/s) -> ratio {ingest_ratio:.2f}"
    )
    # CPU time of this process: steadier than wall time on a busy machine, but it leaves
    # out the PostgreSQL server's work, so it only says something for SQLite
    say(
        f"  this process's CPU: sdk {ing['sdk_cpu']:.2f}s, raw {ing['raw_cpu']:.2f}s "
        f"-> ratio {ing['sdk_cpu'] / max(ing['raw_cpu'], 1e-9):.2f}"
    )
    say(
        f"  engagements: {ing['engagements']:,} in {ing['eng_s']:.2f}s (not in the ratio); "
        f"phase wall {wall:.1f}s incl. generation"
    )
    say(
        f"  ledger: {ledger.count('contacts'):,} contacts, {ledger.count('identities'):,} identities, "
        f"{ledger.count('touches'):,} touches, {ledger.count('engagements'):,} engagements; {side.sizes()}"
    )
    say(f"  rss so far {rss_mb():.0f} MB")
    gc.collect()

    # 2. recompute ------------------------------------------------------------------
    since = NOW - policy.lookback
    say(
        f"phase 2: recompute every list ({sum(len(a.lists) for a in cfg.accounts)} lists) "
        f"vs one raw aggregate over the lookback ({policy.lookback // 86400}d)"
    )

    def raw_aggregate() -> int:
        return side.aggregate(RAW_AGGREGATE, (since, NOW))

    raw_aggregate()  # untimed warm-up: both sides then read a warm file
    raw1, groups = timed(raw_aggregate)
    with prof("recompute"):
        sdk_rc, lists = timed(lambda: compute_lists(ledger, policy, cfg.accounts, NOW))
    raw2, _ = timed(raw_aggregate)
    raw_rc = (raw1 + raw2) / 2
    recompute_ratio = sdk_rc / raw_rc
    say(
        f"  compute_lists {sdk_rc:.2f}s; raw aggregate {raw1:.2f}s / {raw2:.2f}s "
        f"(mean {raw_rc:.2f}s, {groups:,} contacts) -> ratio {recompute_ratio:.2f}"
    )
    for key, members in sorted(lists.items(), key=lambda kv: (kv[0].account, kv[0].list)):
        say(f"    {key.account}/{key.list}: {len(members):,} suppressed")
    if side.name == "sqlite":
        # For reference: the same aggregate bounded on the clustered key (what the ledger's
        # own window scans use); not part of the ratio.
        bucketed, _ = timed(
            lambda: side.aggregate(
                "SELECT contact_id, SUM(COALESCE(weight,1)) FROM touches WHERE bucket >= ? AND bucket <= ? "
                "AND at > ? AND at <= ? GROUP BY contact_id",
                (since >> BUCKET_SHIFT, NOW >> BUCKET_SHIFT, since, NOW),
            )
        )
        say(f"  (reference: the aggregate bounded on bucket takes {bucketed:.2f}s)")
    del lists
    say(f"  rss so far {rss_mb():.0f} MB")
    gc.collect()

    # 3. decide ---------------------------------------------------------------------
    ws = Workspace(cfg, ledger)
    rng = random.Random(args.seed + 1)
    for _ in range(50):  # untimed: warm the statement cache and the zone cache
        ws.decide(*draw_candidate(rng, contacts), at=NOW)
    calls = [draw_candidate(rng, contacts) for _ in range(args.decides)]
    lat: list[float] = []
    blocked = 0
    say(f"phase 3: decide() x {len(calls):,} random existing contacts at now")
    with prof("decide"):
        for email, channel, brand, family in calls:
            t0 = time.perf_counter()
            d = ws.decide(email, channel, brand, family, at=NOW)
            lat.append(time.perf_counter() - t0)
            blocked += not d.allowed
    lat.sort()
    p50, p99 = percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3
    say(
        f"  p50 {p50:.3f} ms, p90 {percentile(lat, 90) * 1e3:.3f} ms, p99 {p99:.3f} ms, "
        f"max {lat[-1] * 1e3:.3f} ms, mean {statistics.fmean(lat) * 1e3:.3f} ms; {blocked:,} blocked"
    )

    # 4. reserve --------------------------------------------------------------------
    say(f"phase 4: reserve() x {args.reserves:,} random existing contacts at now (single process)")
    rng = random.Random(args.seed + 2)
    calls = [draw_candidate(rng, contacts) for _ in range(args.reserves)]
    allowed = 0
    with prof("reserve"):
        t0, c0 = time.perf_counter(), time.process_time()
        for email, channel, brand, family in calls:
            allowed += ws.reserve(email, channel, brand, family, at=NOW).allowed
        reserve_s = time.perf_counter() - t0
        reserve_cpu = time.process_time() - c0
    reserve_per_s = len(calls) / reserve_s if reserve_s > 0 else float("inf")
    say(
        f"  {reserve_s:.2f}s -> {reserve_per_s:,.0f} reserves/s ({len(calls) / max(reserve_cpu, 1e-9):,.0f} per "
        f"CPU second of this process); {allowed:,} allowed and recorded"
    )

    ledger.close()
    peak = rss_mb()
    say(f"peak rss {peak:.0f} MB")
    return {
        "backend": side.name,
        "touches": n,
        "ingest_ratio": round(ingest_ratio, 3),
        "ingest_rows_per_s": round(n / ing["sdk_s"]),
        "raw_rows_per_s": round(n / ing["raw_s"]),
        "recompute_ratio": round(recompute_ratio, 3),
        "recompute_s": round(sdk_rc, 3),
        "decide_p50_ms": round(p50, 4),
        "decide_p99_ms": round(p99, 4),
        "reserve_per_s": round(reserve_per_s, 1),
        "peak_rss_mb": round(peak, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
