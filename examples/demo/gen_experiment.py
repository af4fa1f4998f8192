"""The demo's planted experiment: a known effect the report must recover.

``pressure.toml`` declares the experiment ``maison-cap2`` on client maison from
2026-10-19 (four weeks before the exports end): half of maison's contacts, by the same
stable hash the SDK uses (SHA-256 of experiment id, salt and lower-cased email), are in
the arm ``cap2``. The generator's history cannot follow the arm's lists (they decide
future sends), so the effect is planted directly: from the start, each click of a
``cap2`` contact at maison is kept with probability ``CLICK_KEEP``. Everything else is
untouched, so the arm's clicks per contact are, in expectation, exactly ``CLICK_KEEP``
times the control's: a relative effect of ``CLICK_KEEP - 1`` (-20 %). Its own seeded
random stream leaves the rest of the data as it was.

Standard library only; called from ``generate.py`` after the simulation.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

EXPERIMENT = "maison-cap2"
SALT = "demo"
#: midnight, Paris time, as the workspace reads ``start = 2026-10-19``
START = int(datetime(2026, 10, 19, tzinfo=ZoneInfo("Europe/Paris")).timestamp())
ARMS = (("control", 0.5), ("cap2", 0.5))
BRANDS = ("maison-paris", "maison-outlet")
#: the planted effect: the share of cap2's clicks kept after the start
CLICK_KEEP = 0.8
PLANTED_RELATIVE_EFFECT = CLICK_KEEP - 1


def arm_of(email: str) -> str:
    """The contact's arm, as ``pressure_sdk.arms`` computes it."""
    key = email.strip().lower()
    u = int.from_bytes(hashlib.sha256(f"{EXPERIMENT}\x1f{SALT}\x1f{key}".encode()).digest()[:8], "big") / 2**64
    acc = 0.0
    for name, share in ARMS:
        acc += share
        if u < acc:
            return name
    return ARMS[-1][0]


def plant(gen: Any, seed: int) -> int:
    """Thin cap2's clicks at maison after the start; returns how many were removed."""
    rng = random.Random(seed ^ 0x5EED)
    removed = 0
    for brand in BRANDS:
        kept = []
        for row in gen.engagements[brand]:
            at, _seq, email, etype = row[0], row[1], row[2], row[3]
            if etype == "click" and at >= START and arm_of(email) == "cap2" and rng.random() >= CLICK_KEEP:
                removed += 1
                continue
            kept.append(row)
        gen.engagements[brand] = kept
    return removed
