"""Value data of the demo: what each purchase was worth, and relationship events.

Called by ``generate.py`` once the simulation has run (:func:`enrich`). It draws from a
random stream of its own, seeded from the simulation's, so the messages, opens, clicks and
purchases stay exactly what the simulation made; it only adds:

* an amount in EUR to every purchase: the product's list price (fixed per brand and
  product) times a basket factor; the outlet sells the maison catalogue 30 to 50 % off;
* reviews (``review``) some days after about one purchase in seven, mostly of the
  product bought; referrals (``referral``) from about one repeat buyer in six, and
  recommendations (``recommendation``, e.g. a share on social media) from some clickers.

The workspace declares these relationship types and their weights under ``[value]`` in
``pressure.toml``. Standard library only.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

DAY = 86400
CURRENCY = "EUR"
#: list price range per brand, in EUR
PRICE_RANGE = {"maison-paris": (45, 420), "maison-outlet": (45, 420), "velo": (12, 150)}
#: what costs more than the brand's range: bikes
BIKES = {"gravel-g2": (1400, 2400), "velo-electrique-e5": (1900, 3200), "velo-ville-c3": (550, 900)}
OUTLET_DISCOUNT = (0.5, 0.7)


def list_price(brand: str, product: str) -> float:
    """The product's list price at the brand: the same on every run (seeded by the name)."""
    lo, hi = BIKES.get(product, PRICE_RANGE[brand])
    # log-uniform: many small articles, a few expensive ones (bikes, coats)
    x = random.Random(f"price:{'maison' if brand.startswith('maison') else brand}:{product}").random()
    return round(lo * (hi / lo) ** x, 0)


def enrich(gen: Any) -> None:
    """Give ``gen``'s purchases an amount and add relationship events, deterministically.

    Sets ``gen.amounts`` (engagement sequence number → (amount, currency)), which the
    writer puts in the ``amount`` and ``currency`` columns.
    """
    rng = random.Random(gen.rng.getrandbits(64))
    amounts: dict[int, tuple[str, str]] = {}
    bought: dict[tuple[str, str], list[int]] = defaultdict(list)
    clicked: dict[tuple[str, str], list[int]] = defaultdict(list)
    extra: dict[str, list[tuple]] = defaultdict(list)
    for brand, rows in gen.engagements.items():
        for ts, seq, email, etype, _ch, product in rows:
            if etype == "click":
                clicked[brand, email].append(ts)
            if etype != "purchase":
                continue
            price = list_price(brand, product) if product else rng.uniform(*PRICE_RANGE[brand])
            if brand == "maison-outlet":
                price *= rng.uniform(*OUTLET_DISCOUNT)
            # a basket: the article, sometimes with a second one
            amount = price * (1 + (rng.random() < 0.25) * rng.uniform(0.2, 0.8))
            amounts[seq] = (f"{amount:.2f}", CURRENCY)
            bought[brand, email].append(ts)
            if rng.random() < 0.14:
                extra[brand].append((ts + rng.uniform(4, 20) * DAY, email, "review", product))
    for (brand, email), times in bought.items():
        if len(times) >= 2 and rng.random() < 0.18:
            extra[brand].append((max(times) + rng.uniform(1, 30) * DAY, email, "referral", ""))
    for (brand, email), times in clicked.items():
        if rng.random() < 0.02 * min(len(times), 5):
            extra[brand].append((rng.choice(times) + rng.uniform(0, 2) * DAY, email, "recommendation", ""))
    for brand, rows in extra.items():
        for at, email, etype, product in sorted(rows):
            if gen.start <= at < gen.end:
                gen.seq += 1
                gen.engagements[brand].append((int(at), gen.seq, email, etype, "", product))
    gen.amounts = amounts


__all__ = ["CURRENCY", "enrich", "list_price"]
