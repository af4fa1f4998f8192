"""Benchmark of the measurement (DESIGN §8): KPIs and fatigue curves of one month.

    python benchmarks/bench_kpi.py --touches 1000000 --json
    python benchmarks/bench_kpi.py --touches 1000000 --ledger postgresql://user@host/db --json

Builds a synthetic ledger (a temporary SQLite file, or the given PostgreSQL database, which
must be empty) of N touches over 90 days with opens, clicks, purchases with amounts and
unsubscribes, then times ``pressure_sdk.measure.measure`` for the last complete month and,
in the same run on the same connection, a raw aggregate over the same rows. Prints human
lines and then ONE JSON object as the last line::

    {"backend": "sqlite", "touches": N, "month_messages": ..., "kpi_s": ..., "ledger_s": ...,
     "raw_s": ..., "kpi_ratio": ..., "ledger_ratio": ..., "peak_rss_mb": ...}

* ``kpi_ratio``: the whole ``measure()`` call (tiers at the month's start and end, the
  month's windowed pass, KPI, fitting and contact cells, intervals and slopes in Python)
  / the raw aggregate.
* ``ledger_ratio``: the ledger's ``measure_month`` alone / the raw aggregate.
* the raw aggregate: ``SELECT contact_id, COUNT(*), SUM(COALESCE(weight, 1)) FROM touches``
  over the touches the month's pass reads (``(start - 7d, end + 7d)``) grouped by contact,
  plus ``SELECT contact_id, COUNT(*) FROM engagements`` over its engagements
  (``(start, end + 7d]``), bounded by bucket on SQLite like the ledger's own reads.

This is not a test and is not collected by pytest. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import open_ledger
from pressure_sdk.ledger.lists import TouchFilter
from pressure_sdk.ledger.schema import BUCKET_SHIFT
from pressure_sdk.measure import last_complete_month, measure, month_bounds
from pressure_sdk.models import Batch, Engagement, Touch
from pressure_sdk.tiers import score_all

# A fixed instant so runs are comparable: Wednesday 2025-06-04 12:00 UTC.
NOW = int(datetime(2025, 6, 4, 12, 0, tzinfo=UTC).timestamp())
SPAN = 90 * 86400
WEEK = 7 * 86400
BRANDS = ("alpha", "beta", "gamma")
CHANNELS = (("email", 0.80), ("sms", 0.10), ("push", 0.10))
FAMILIES = (("marketing", 0.60), ("trigger", 0.25), ("transactional", 0.15))
CONFIG = {
    "brands": {b: {} for b in BRANDS},
    "families": {
        "marketing": {"priority": 10},
        "trigger": {"priority": 50},
        "transactional": {"priority": 100, "exempt": True},
    },
}


def say(msg: str) -> None:
    print(msg, flush=True)


def pick(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    r, acc = rng.random(), 0.0
    for name, p in pairs:
        acc += p
        if r < acc:
            return name
    return pairs[-1][0]


def batches(n: int, contacts: int, seed: int, size: int) -> Any:
    """Touches spread over the span; each may bring an open, a click (and a purchase) or an unsubscribe."""
    rng = random.Random(seed)
    for start in range(0, n, size):
        touches, engs = [], []
        for i in range(start, min(n, start + size)):
            email = f"c{rng.randrange(contacts)}@example.com"
            at = NOW - SPAN + rng.randrange(SPAN)
            brand = rng.choice(BRANDS)
            touches.append(Touch(f"t{i}", email, pick(rng, CHANNELS), brand, pick(rng, FAMILIES), at))
            r = rng.random()
            if r < 0.20:
                engs.append(Engagement(f"o{i}", email, "open", at + rng.randrange(1, 86400), "email", brand))
            if r < 0.03:
                engs.append(Engagement(f"c{i}", email, "click", at + rng.randrange(60, 7200), "email", brand))
                if r < 0.004:
                    amount = round(rng.uniform(10, 200), 2)
                    engs.append(Engagement(f"p{i}", email, "purchase", at + 7300, "email", brand, amount=amount))
            elif r > 0.999:
                engs.append(Engagement(f"u{i}", email, "unsubscribe", at + rng.randrange(60, 86400), "email", brand))
        yield Batch(touches=touches, engagements=engs)


def raw_aggregate(led: Any, start: int, end: int, postgres: bool) -> float:
    """Seconds of the baseline: a plain grouped count and sum over the rows the month's pass reads."""
    t_lo, t_hi, e_lo, e_hi = start - WEEK + 1, end + WEEK - 1, start + 1, end + WEEK
    began = time.perf_counter()
    if postgres:
        led.conn.execute(
            "SELECT contact_id, COUNT(*), SUM(COALESCE(weight, 1)) FROM touches WHERE at >= %s AND at <= %s "
            "GROUP BY contact_id",
            (t_lo, t_hi),
        ).fetchall()
        led.conn.execute(
            "SELECT contact_id, COUNT(*) FROM engagements WHERE at >= %s AND at <= %s GROUP BY contact_id",
            (e_lo, e_hi),
        ).fetchall()
    else:
        led.conn.execute(
            "SELECT contact_id, COUNT(*), SUM(COALESCE(weight, 1)) FROM touches "
            "WHERE bucket >= ? AND bucket <= ? AND at >= ? AND at <= ? GROUP BY contact_id",
            (t_lo >> BUCKET_SHIFT, t_hi >> BUCKET_SHIFT, t_lo, t_hi),
        ).fetchall()
        led.conn.execute(
            "SELECT contact_id, COUNT(*) FROM engagements "
            "WHERE bucket >= ? AND bucket <= ? AND at >= ? AND at <= ? GROUP BY contact_id",
            (e_lo >> BUCKET_SHIFT, e_hi >> BUCKET_SHIFT, e_lo, e_hi),
        ).fetchall()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--touches", type=int, default=1_000_000)
    ap.add_argument("--contacts", type=int, default=None, help="distinct contacts (default: touches / 10)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--ledger", default=None, help="an empty PostgreSQL database (postgresql://...); default SQLite")
    ap.add_argument("--keep", type=Path, default=None, help="build the SQLite ledger in this folder and keep it")
    ap.add_argument("--json", action="store_true", help="(kept for symmetry with bench.py) JSON is the last line")
    args = ap.parse_args(argv)
    contacts = args.contacts or max(1, args.touches // 10)
    cfg = parse_config(CONFIG)
    postgres = args.ledger is not None
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-kpi-"))
    folder.mkdir(parents=True, exist_ok=True)
    target = args.ledger if postgres else str(folder / "ledger.db")
    led = open_ledger(target)
    if led.count("touches"):
        say(f"{target}: the ledger is not empty; give an empty database or folder")
        return 2
    where = "PostgreSQL" if postgres else target
    say(f"building {args.touches:,} touches to {contacts:,} contacts over 90 days ({where})")
    began = time.perf_counter()
    for b in batches(args.touches, contacts, args.seed, args.batch):
        led.ingest(b, account="bench")
    say(f"  ingested in {time.perf_counter() - began:.1f} s ({led.count('engagements'):,} engagements)")

    month = last_complete_month(NOW, "UTC")
    start, end = month_bounds(month, "UTC")
    raw = min(raw_aggregate(led, start, end, postgres) for _ in range(2))
    say(f"raw aggregate over the month's rows: {raw:.2f} s (best of 2)")

    # the statistics libraries' one-time import (a few seconds) is not the measurement's cost
    import statsmodels.api  # noqa: F401
    from statsmodels.stats.proportion import proportion_confint  # noqa: F401

    began = time.perf_counter()
    m = measure(led, cfg, months=[month], now=NOW)
    kpi = time.perf_counter() - began
    messages = sum(k.messages for k in m.kpis)
    say(f"measure() of {month}: {kpi:.2f} s, {messages:,} messages in {len(m.kpis)} KPI rows, {len(m.curves)} curves")

    # the ledger's pass alone, tiers ready
    score_all(led, start, cfg.tiers, cfg.scoring, cfg.tolerance)
    led.keep_scores()
    began = time.perf_counter()
    led.measure_month(
        since=start,
        until=end,
        weights={k: f.weight for k, f in cfg.families.items()},
        counts=TouchFilter(families=frozenset({"marketing", "trigger"})),
        level_cap=10,
        last_tier=cfg.tiers[-1].name,
        end_scored=False,
    )
    ledger_s = time.perf_counter() - began
    say(f"ledger measure_month alone: {ledger_s:.2f} s")
    led.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "backend": "postgresql" if postgres else "sqlite",
        "touches": args.touches,
        "month_messages": messages,
        "kpi_s": round(kpi, 3),
        "ledger_s": round(ledger_s, 3),
        "raw_s": round(raw, 3),
        "kpi_ratio": round(kpi / raw, 2),
        "ledger_ratio": round(ledger_s / raw, 2),
        "peak_rss_mb": round(rss),
    }
    if args.keep is None and not postgres:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
