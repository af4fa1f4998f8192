"""What contacts are worth (DESIGN §8, Value): RFM scores, lifetime value, relationship value.

Everything is computed per client, set-wise, from one aggregate of the ledger
(:meth:`~pressure_sdk.ledger.LedgerAPI.value_facts`) as of an evaluation time: nothing is
stored, so a value is a function of the ledger and that time, like tiers and capital.

- **RFM**: recency (last purchase), frequency (days with a purchase, per brand) and
  monetary value (net spend: refunds, negative amounts, subtract) of each customer, each
  scored 1 to 5 by quintile *within the client* (5 is best: most recent, most frequent,
  biggest spender); contacts without a purchase score 0 and are ``prospect``. Segments:
  ``champions`` R≥4 F≥4 M≥4; ``loyal`` R≥3 F≥4; ``new`` R≥4 with one purchase day;
  ``at_risk`` R≤2 F≥3; ``hibernating`` R≤2; ``potential`` everyone else who bought.
- **CLV**: expected spend over ``[value] horizon`` (default a year, undiscounted), as the
  expected number of purchase days (BG/NBD, Fader, Hardie & Lee 2005) times the expected
  spend per purchase day (Gamma-Gamma, Fader & Hardie 2013), both fitted by maximum
  likelihood on the client's customers with scipy. The ``lifetimes`` library implements
  the same models but is unmaintained (last release 2020, broken on current pandas and
  scipy) and ``pymc-marketing`` pulls in a whole probabilistic-programming stack: the two
  likelihoods are a few lines over ``scipy.special``. Assumptions: a customer buys at a
  steady Poisson rate while "alive" and may drop out after any purchase; spend per
  purchase is independent of how often they buy; time in weeks. With fewer than
  :data:`MIN_CUSTOMERS` customers or :data:`MIN_REPEAT` repeat customers, or a fit that
  does not converge, the estimate falls back to each customer's historical rate (purchase
  days per week since their first purchase, times their mean spend, times the horizon)
  and says so (:attr:`ClvModel.method`).
- **Relationship value**: points of the relationship events the workspace declares
  (``[value] relationship``: reviews, referrals, recommendations…), each event worth its
  type's weight.
- **Value score**: CLV plus relationship points times ``[value] point_value``, in the
  client's currency. Per brand: the CLV shared by the brand's part of the spend, plus the
  points earned at the brand; arbitration uses it (``[value] arbitration``).

Currencies: amounts are measured in the client's currency (``[value] currency`` or
``client_currency``); an amount without a currency is taken to be in it; an amount in
another currency is converted by ``[value] rates`` and, without a rate, left out of the
value (counted in :attr:`ValueTable.left_out`, so reports can say so).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import ValueConfig, WorkspaceConfig
from .ledger import LedgerAPI
from .ledger.facts import DAY, ValueFact

#: fewer customers than this, or fewer repeat customers than :data:`MIN_REPEAT`: no model fit
MIN_CUSTOMERS = 20
MIN_REPEAT = 5
#: the segment of contacts who never bought
PROSPECT = "prospect"
_WEEK = 7 * DAY
#: the search for each model parameter, in logs: a parameter at a bound means the data
#: cannot tell it apart from the limit (e.g. every customer buying at the same rate)
_BOUNDS = (-10.0, 10.0)


@dataclass(slots=True, frozen=True)
class ClvModel:
    """How lifetime values were estimated for one client: the method, its fitted parameters.

    ``method`` is ``bg-nbd+gamma-gamma`` (both fitted), ``bg-nbd+mean-spend`` (too few repeat
    spenders for Gamma-Gamma: each customer's own mean spend), ``historical-rate`` (no fit:
    see the module's docstring) or ``none`` (a table for segments only); ``note`` says why
    when it is not the first.
    """

    method: str
    params: dict[str, float]
    customers: int
    repeat_customers: int
    horizon_days: float
    note: str = ""


@dataclass(slots=True, frozen=True)
class ContactValue:
    """One contact's value as of the table's time, in the client's currency."""

    contact_id: int
    #: days since the last purchase (None without one)
    recency_days: float | None
    #: days with a purchase (per brand)
    frequency: int
    #: net spend, refunds subtracted, in the client's currency
    monetary: float
    #: quintile scores within the client, 1 (worst) to 5 (best); 0 without a purchase
    r: int
    f: int
    m: int
    segment: str
    #: expected spend over the horizon
    clv: float
    #: relationship points (declared events times their weights)
    relationship: float
    #: count of each relationship event type
    events: dict[str, int]
    #: CLV + relationship points × point value
    score: float
    #: the value score at each brand
    by_brand: dict[str, float]

    @property
    def rfm(self) -> str:
        """The three scores as one code, e.g. ``'545'``."""
        return f"{self.r}{self.f}{self.m}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "recency_days": None if self.recency_days is None else round(self.recency_days, 2),
            "frequency": self.frequency,
            "monetary": round(self.monetary, 2),
            "rfm": self.rfm,
            "segment": self.segment,
            "clv": round(self.clv, 2),
            "relationship": self.relationship,
            "events": dict(self.events),
            "score": round(self.score, 2),
            "by_brand": {b: round(v, 2) for b, v in sorted(self.by_brand.items())},
        }


@dataclass(slots=True)
class ValueTable:
    """Every valued contact of one client at one time; contacts it lacks are prospects worth 0."""

    client: str
    at: int
    currency: str
    contacts: dict[int, ContactValue]
    model: ClvModel
    #: amounts left out for want of a rate, per currency
    left_out: dict[str, int] = field(default_factory=dict)

    def segment_of(self, contact_id: int) -> str:
        """The contact's value segment (``prospect`` when it never bought)."""
        v = self.contacts.get(contact_id)
        return v.segment if v is not None else PROSPECT

    def score_of(self, contact_id: int) -> float:
        """The contact's value score (0 when it has no value event)."""
        v = self.contacts.get(contact_id)
        return v.score if v is not None else 0.0

    def brand_value(self, contact_id: int, brand: str) -> float:
        """The contact's value score at ``brand``."""
        v = self.contacts.get(contact_id)
        return v.by_brand.get(brand, 0.0) if v is not None else 0.0

    def segment_sizes(self) -> dict[str, int]:
        """Valued contacts per segment (prospects without any value event are not counted)."""
        out: dict[str, int] = defaultdict(int)
        for v in self.contacts.values():
            out[v.segment] += 1
        return dict(out)


@dataclass(slots=True)
class _Acc:
    first_seen: int | None = None
    days: int = 0
    first_buy: int | None = None
    last_buy: int | None = None
    spend: float = 0.0
    spend_by_brand: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    points_by_brand: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    points: float = 0.0


def value_types(cfg: WorkspaceConfig) -> frozenset[str]:
    """The engagement types value is made of: purchases and the declared relationship types."""
    return frozenset({"purchase", *cfg.value.relationship})


def compute_values(ledger: LedgerAPI, cfg: WorkspaceConfig, client: str, at: int, *, clv: bool = True) -> ValueTable:
    """The value of every contact of ``client`` with a purchase or relationship event at or before ``at``.

    With ``clv=False`` the lifetime values are left at 0 and no model is fitted: enough for
    segments (RFM), which is what rules and lists need, at a fraction of the cost.
    """
    vc = cfg.value
    currency = vc.currency_of(client)
    accs: dict[int, _Acc] = {}
    left_out: dict[str, int] = defaultdict(int)
    for f in ledger.value_facts(client, at, value_types(cfg)):
        a = accs.get(f.contact_id)
        if a is None:
            a = accs[f.contact_id] = _Acc(first_seen=f.first_seen)
        _add(a, f, vc, currency, left_out)
    customers = [cid for cid, a in accs.items() if a.days > 0]
    scores = _rfm(accs, customers, at)
    if clv:
        model, clvs = _clv([(cid, accs[cid]) for cid in customers], at, vc.horizon)
    else:
        repeat = sum(1 for cid in customers if accs[cid].days > 1)
        model, clvs = ClvModel("none", {}, len(customers), repeat, vc.horizon / DAY, "not computed"), {}
    out: dict[int, ContactValue] = {}
    for cid, a in accs.items():
        r, f_, m = scores.get(cid, (0, 0, 0))
        c = clvs.get(cid, 0.0)
        shares = {b: s / a.spend for b, s in a.spend_by_brand.items()} if a.spend > 0 else {}
        by_brand = {
            b: c * shares.get(b, 0.0) + a.points_by_brand.get(b, 0.0) * vc.point_value
            for b in set(shares) | set(a.points_by_brand)
        }
        out[cid] = ContactValue(
            contact_id=cid,
            recency_days=None if a.last_buy is None or a.days == 0 else (at - a.last_buy) / DAY,
            frequency=a.days,
            monetary=a.spend,
            r=r,
            f=f_,
            m=m,
            segment=segment(r, f_, m, a.days),
            clv=c,
            relationship=a.points,
            events=dict(a.events),
            score=c + a.points * vc.point_value,
            by_brand=by_brand,
        )
    return ValueTable(client, at, currency, out, model, dict(left_out))


def _add(a: _Acc, f: ValueFact, vc: ValueConfig, currency: str, left_out: dict[str, int]) -> None:
    brand = f.brand or ""
    if f.type != "purchase":
        weight = vc.relationship.get(f.type, 0.0)
        a.events[f.type] += f.count + f.refunds
        a.points += weight * (f.count + f.refunds)
        a.points_by_brand[brand] += weight * (f.count + f.refunds)
        return
    a.days += f.days
    if f.count:
        a.first_buy = f.first_at if a.first_buy is None else min(a.first_buy, f.first_at)
        a.last_buy = f.last_at if a.last_buy is None else max(a.last_buy, f.last_at)
    if f.amounts == 0:
        return
    if f.currency is None or f.currency == currency:
        rate: float | None = 1.0
    else:
        rate = vc.rates.get(f.currency)
    if rate is None:
        left_out[f.currency or "?"] += f.amounts
        return
    a.spend += f.amount * rate
    a.spend_by_brand[brand] += f.amount * rate


def segment(r: int, f: int, m: int, days: int) -> str:
    """The value segment of RFM scores (see the module's docstring)."""
    if days == 0:
        return PROSPECT
    if r >= 4 and f >= 4 and m >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal"
    if r >= 4 and days == 1:
        return "new"
    if r <= 2 and f >= 3:
        return "at_risk"
    if r <= 2:
        return "hibernating"
    return "potential"


def quintiles(values: Sequence[float]) -> list[int]:
    """1 to 5 by quintile of rank (ties share their average rank); higher values score higher."""
    if not values:
        return []
    import numpy as np

    # average ranks of ties, as scipy.stats.rankdata(method="average") gives them, without
    # importing scipy.stats (a second of start-up for one function)
    a = np.asarray(values, dtype=float)
    n = len(a)
    order = np.argsort(a, kind="mergesort")
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    ordered = a[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = first.cumsum()[inverse]
    bounds = np.r_[np.nonzero(first)[0], n]
    ranks = 0.5 * (bounds[dense] + bounds[dense - 1] + 1)
    return np.clip(np.ceil(5 * ranks / n), 1, 5).astype(int).tolist()


def _rfm(accs: dict[int, _Acc], customers: list[int], at: int) -> dict[int, tuple[int, int, int]]:
    # recency ranks the last purchase's time (later is better), so scores do not move with
    # the evaluation time between purchases
    r = quintiles([float(accs[c].last_buy or 0) for c in customers])
    f = quintiles([float(accs[c].days) for c in customers])
    m = quintiles([accs[c].spend for c in customers])
    return {c: (r[i], f[i], m[i]) for i, c in enumerate(customers)}


# -- lifetime value ----------------------------------------------------------------------


def _clv(customers: list[tuple[int, _Acc]], at: int, horizon: int) -> tuple[ClvModel, dict[int, float]]:
    """Each customer's expected spend over ``horizon`` seconds, and how it was estimated."""
    import numpy as np

    h = horizon / _WEEK
    days = horizon / DAY
    if not customers:
        return ClvModel("historical-rate", {}, 0, 0, days, "no customer"), {}
    ids = [cid for cid, _ in customers]
    x = np.array([a.days - 1 for _, a in customers], dtype=float)  # repeat purchase days
    first = np.array([a.first_buy or at for _, a in customers], dtype=float)
    last = np.array([a.last_buy or at for _, a in customers], dtype=float)
    T = np.maximum((at - first) / _WEEK, 1 / 7)
    tx = np.clip((last - first) / _WEEK, 0, T)
    spend = np.array([a.spend for _, a in customers], dtype=float)
    mean_spend = np.maximum(spend / np.maximum(x + 1, 1), 0.0)
    repeat = int((x > 0).sum())
    n = len(customers)
    rate = (x + 1) / np.maximum(T, 4.0)

    def fallback(note: str) -> tuple[ClvModel, dict[int, float]]:
        values = rate * h * mean_spend
        return ClvModel("historical-rate", {}, n, repeat, days, note), dict(zip(ids, values.tolist(), strict=True))

    if n < MIN_CUSTOMERS or repeat < MIN_REPEAT:
        return fallback(f"{n} customers, {repeat} repeat: too few to fit (need {MIN_CUSTOMERS} and {MIN_REPEAT})")
    bg = _fit_bgnbd(x, tx, T)
    if bg is None:
        return fallback("the BG/NBD fit did not converge")
    expected = _expected_purchases(bg, x, tx, T, h)
    if not np.all(np.isfinite(expected)):
        return fallback("the BG/NBD expectation is not finite for some customers")
    params = dict(zip(("r", "alpha", "a", "b"), bg, strict=True))
    spenders = (x > 0) & (mean_spend > 0)
    gg = _fit_gamma_gamma(x[spenders], mean_spend[spenders]) if int(spenders.sum()) >= MIN_REPEAT else None
    if gg is None:
        per_day = mean_spend
        method, note = "bg-nbd+mean-spend", "too few repeat spenders for Gamma-Gamma: each customer's mean spend"
    else:
        p, q, v = gg
        params.update(p=p, q=q, v=v)
        per_day = np.where(x > 0, p * (v + x * mean_spend) / (p * x + q - 1), p * v / (q - 1))
        method, note = "bg-nbd+gamma-gamma", ""
    bounded = [k for k, val in params.items() if abs(math.log(val)) > _BOUNDS[1] - 0.01]
    if bounded:
        limit = f"parameter(s) {', '.join(bounded)} at the bound of the search: the data cannot tell them apart"
        note = f"{note}; {limit}" if note else limit
    values = np.maximum(expected * per_day, 0.0)
    return ClvModel(method, params, n, repeat, days, note), dict(zip(ids, values.tolist(), strict=True))


def _fit_bgnbd(x: Any, tx: Any, T: Any) -> tuple[float, float, float, float] | None:
    """Maximum-likelihood (r, alpha, a, b) of the BG/NBD model, or None."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import gammaln

    def nll(logp: Any) -> float:
        r, alpha, a, b = np.exp(logp)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx), -np.inf)
        ll = a1 + a2 + np.logaddexp(a3, a4)
        total = float(ll.sum())
        return -total if math.isfinite(total) else 1e300

    scale = float(np.mean(T)) or 1.0
    res = minimize(nll, np.log([1.0, scale, 1.0, 1.0]), method="L-BFGS-B", bounds=[_BOUNDS] * 4)
    r, alpha, a, b = (float(v) for v in np.exp(res.x))
    if not res.success or not all(math.isfinite(v) for v in (r, alpha, a, b)):
        return None
    return r, alpha, a, b


def _expected_purchases(params: tuple[float, float, float, float], x: Any, tx: Any, T: Any, t: float) -> Any:
    """Expected purchase days in the next ``t`` weeks given each customer's history (BG/NBD)."""
    import numpy as np
    from scipy.special import hyp2f1

    r, alpha, a, b = params
    first = (a + b + x - 1) / (a - 1)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    second = 1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x)
    with np.errstate(divide="ignore", invalid="ignore"):
        alive = np.where(x > 0, (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
    return first * second / (1 + alive)


def _fit_gamma_gamma(x: Any, m: Any) -> tuple[float, float, float] | None:
    """Maximum-likelihood (p, q, v) of the Gamma-Gamma spend model, or None."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import gammaln

    def nll(logp: Any) -> float:
        p, q, v = np.exp(logp)
        ll = (
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(v)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(x * m + v)
        )
        total = float(ll.sum())
        return -total if math.isfinite(total) else 1e300

    start = np.log([1.0, 2.0, float(np.mean(m)) or 1.0])
    res = minimize(nll, start, method="L-BFGS-B", bounds=[_BOUNDS] * 3)
    p, q, v = (float(val) for val in np.exp(res.x))
    if not res.success or q <= 1 or not all(math.isfinite(val) for val in (p, q, v)):
        return None
    return p, q, v


def tables_for(ledger: LedgerAPI, cfg: WorkspaceConfig, clients: Iterable[str], at: int) -> dict[str, ValueTable]:
    """A value table per client."""
    return {c: compute_values(ledger, cfg, c, at) for c in dict.fromkeys(clients)}


__all__ = [
    "MIN_CUSTOMERS",
    "MIN_REPEAT",
    "PROSPECT",
    "ClvModel",
    "ContactValue",
    "ValueTable",
    "compute_values",
    "quintiles",
    "segment",
    "tables_for",
    "value_types",
]
