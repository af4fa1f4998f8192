"""Benchmark of the value computation: the ledger's per-contact facts, then RFM, CLV, segments.

Builds a SQLite ledger of one client with purchases (with amounts) and relationship
events, then times :meth:`Ledger.value_facts` (the set-wise query), the whole
:func:`~pressure_sdk.value.compute_values` (query + RFM quintiles + the BG/NBD and
Gamma-Gamma fits), and, as the baseline, a raw aggregate over the same engagements
(``GROUP BY contact_id`` with count, sum and max) on the same file. Not a test.

    python benchmarks/bench_value.py --engagements 1000000

The last line is one JSON object with the timings and the ratios to the raw aggregate.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Engagement
from pressure_sdk.value import compute_values, value_types

DAY = 86400
NOW = 1_790_000_000


def build(led: Ledger, n: int, contacts: int, seed: int) -> None:
    """``n`` engagements over ``contacts`` contacts: 70 % purchases, the rest relationship events."""
    rng = random.Random(seed)
    batch: list[Engagement] = []
    for i in range(n):
        c = int(contacts * rng.random() ** 2)  # a few heavy buyers, many occasional ones
        at = NOW - int(rng.random() * 730 * DAY)
        r = rng.random()
        if r < 0.7:
            e = Engagement(
                f"e{i}",
                f"c{c}@x.com",
                "purchase",
                at,
                None,
                "a" if r < 0.5 else "b",
                None,
                round(rng.lognormvariate(3.5, 0.8), 2),
                "EUR",
            )
        else:
            e = Engagement(f"e{i}", f"c{c}@x.com", rng.choice(["review", "referral", "recommendation"]), at, None, "a")
        batch.append(e)
        if len(batch) >= 50_000:
            led.ingest(Batch(engagements=batch), account="shop")
            batch = []
    led.ingest(Batch(engagements=batch), account="shop")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print human lines and the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engagements", type=int, default=1_000_000)
    ap.add_argument("--contacts", type=int, default=None, help="distinct contacts (default engagements / 5)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    n = args.engagements
    contacts = args.contacts or max(n // 5, 10)
    cfg = parse_config({"brands": {"a": {}, "b": {}}})
    with tempfile.TemporaryDirectory() as tmp:
        led = Ledger(Path(tmp) / "ledger.db")
        t0 = time.perf_counter()
        build(led, n, contacts, args.seed)
        print(f"built {n:,} engagements for {contacts:,} contacts in {time.perf_counter() - t0:.1f}s", flush=True)
        types = sorted(value_types(cfg))
        marks = ",".join("?" * len(types))
        t0 = time.perf_counter()
        raw = led.conn.execute(
            "SELECT contact_id, type, COUNT(*), SUM(amount), MAX(at) FROM engagements "
            f"WHERE type IN ({marks}) GROUP BY contact_id, type",
            types,
        ).fetchall()
        t_raw = time.perf_counter() - t0
        t0 = time.perf_counter()
        facts = list(led.value_facts("default", NOW, types))
        t_facts = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = compute_values(led, cfg, "default", NOW)
        t_all = time.perf_counter() - t0
        print(f"raw aggregate {t_raw:.2f}s ({len(raw):,} rows); value_facts {t_facts:.2f}s ({len(facts):,} rows)")
        print(f"compute_values {t_all:.2f}s: {len(table.contacts):,} contacts, CLV by {table.model.method}")
        print(f"segments: {table.segment_sizes()}")
        out = {
            "engagements": n,
            "contacts": contacts,
            "raw_s": round(t_raw, 3),
            "facts_s": round(t_facts, 3),
            "compute_values_s": round(t_all, 3),
            "facts_ratio": round(t_facts / t_raw, 2),
            "compute_ratio": round(t_all / t_raw, 2),
            "clv_method": table.model.method,
        }
        led.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
