"""KPIs and fatigue curves (DESIGN §8): what the pressure does to performance, with intervals.

Definitions (normative in DESIGN §8; the choices DESIGN leaves open are stated here):

- **Pressure level** of a message: the weighted count of the contact's touches in
  ``(at - 7d, at]``, every brand and channel of its client, exempt families included, the
  message itself included (a contact's first message of a quiet week is at level 1).
  KPI rows floor it to a whole level and cap it (``level_cap``, shown as ``10+``);
  regressions use the exact weighted level.
- **Response**: a click or a purchase by that contact on that brand within 7 days after
  the message (``(at, at + 7d]``). Opens are reported, never used to decide.
- **Per-message rates** (open, click, unsubscribe, complaint, purchases, revenue): each
  event is credited to the contact's last message of the event's brand in the 7 days
  before it, so each event counts once. Revenue is the sum of purchase amounts as recorded
  (a client with several currencies has its amounts added as they are: see ``currencies``).
- **Tier at send time**: the tier as of the start of the message's calendar month (local
  midnight of the 1st, in the workspace's time zone), computed by :func:`tiers.score_all`
  from the ledger as it stands; scores are never stored.
- **Attrition** of a month's contacts (contacts who received a measured message in it):
  those who unsubscribed or complained during the month, or who fell to the last tier by
  the month's end from another tier. **Retention**: those who did neither and are not in
  the last tier at the month's end. Both need the month's end to be past: otherwise None.
  Per pressure level, a contact counts at its highest level of the month.
- **Intervals**: 95 %. Proportions: Wilson score interval
  (``statsmodels.stats.proportion.proportion_confint``). Purchases and revenue per 1,000
  messages: normal interval of the mean of per-message values (from their sum and sum of
  squares, computed in the ledger), times 1,000. Fatigue slopes: logistic regression of
  the outcome on the exact level (``statsmodels`` GLM, binomial on the grouped counts),
  widened by a quasi-binomial scale (Pearson chi² / degrees of freedom over whole levels)
  when the binomial fit is rejected at 5 %: contacts differ more than a binomial allows.

statsmodels and scipy are imported inside the functions that need them, so commands that
do not measure do not pay their import time.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .config import WorkspaceConfig
from .errors import ConfigError
from .ledger import LedgerAPI
from .ledger.lists import TouchFilter
from .ledger.measure import ContactCell, FitCell, MessageCell
from .tiers import score_all
from .timeutil import calendar_period, to_iso, zone

#: whole levels shown in KPI rows and curves; higher levels join the last one (``10+``)
LEVEL_CAP = 10
#: messages a level needs before it can be a fatigue curve's reference or saturation level
MIN_MESSAGES = 100


# -- intervals -----------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Rate:
    """A proportion ``count / n`` with its 95 % Wilson interval (None when ``n`` is 0)."""

    count: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, count: int, n: int) -> Rate:
        """The rate of ``count`` events among ``n`` with its Wilson interval."""
        if n <= 0:
            return cls(count, n, None, None, None)
        from statsmodels.stats.proportion import proportion_confint

        low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
        return cls(count, n, count / n, float(low), float(high))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass(slots=True, frozen=True)
class PerThousand:
    """Events (or amounts) per 1,000 messages, with a 95 % normal interval of the per-message mean
    (clipped at 0; None with fewer than two messages)."""

    total: float
    n: int
    value: float | None
    low: float | None
    high: float | None
    method: str = "normal interval of the mean of per-message values"

    @classmethod
    def of(cls, total: float, total_sq: float, n: int) -> PerThousand:
        """From the sum and the sum of squares of per-message values over ``n`` messages."""
        if n <= 0:
            return cls(total, n, None, None, None)
        mean = total / n
        if n < 2:
            return cls(total, n, 1000 * mean, None, None)
        from scipy.stats import norm

        var = max(total_sq / n - mean * mean, 0.0) * n / (n - 1)
        se = (var / n) ** 0.5
        half = float(norm.ppf(0.975)) * se
        # counts and amounts are not negative: the interval stops at 0
        return cls(total, n, 1000 * mean, max(0.0, 1000 * (mean - half)), 1000 * (mean + half))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass(slots=True, frozen=True)
class Slope:
    """A fitted fatigue slope: change of the outcome's log-odds per level, with its 95 % interval."""

    outcome: str
    estimate: float
    low: float
    high: float
    intercept: float
    messages: int
    events: int
    #: dispersion used for the interval: 1 (binomial), or the quasi-binomial scale when the
    #: binomial fit is rejected (chi² over whole levels at 5 %)
    scale: float
    method: str = "logistic regression on the exact pressure level (GLM binomial, grouped counts)"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)


def fit_slope(
    levels: Sequence[float], events: Sequence[int], messages: Sequence[int], *, outcome: str = "response"
) -> Slope | None:
    """Logistic regression of an outcome on the pressure level, from grouped counts.

    ``events[i]`` of ``messages[i]`` messages at level ``levels[i]`` had the outcome.
    Returns None when there is nothing to fit: fewer than two distinct levels, or no
    event, or nothing but events.
    """
    rows = [(float(lv), int(e), int(n)) for lv, e, n in zip(levels, events, messages, strict=True) if n > 0]
    total = sum(n for _, _, n in rows)
    hits = sum(e for _, e, _ in rows)
    if len({lv for lv, _, _ in rows}) < 2 or hits == 0 or hits == total:
        return None
    import numpy as np
    import statsmodels.api as sm

    x = sm.add_constant(np.array([lv for lv, _, _ in rows]), has_constant="add")
    y = np.array([[e, n - e] for _, e, n in rows], dtype=float)
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    model = sm.GLM(y, x, family=sm.families.Binomial())
    with warnings.catch_warnings():
        # separated data (e.g. every event at one level) has no finite slope: say so with None
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            res = model.fit()
            scale = _dispersion(rows, res.predict(x))
            if scale > 1.0:
                res = model.fit(scale=scale)
        except PerfectSeparationWarning:
            return None
    low, high = res.conf_int(alpha=0.05)[1]
    return Slope(
        outcome=outcome,
        estimate=float(res.params[1]),
        low=float(low),
        high=float(high),
        intercept=float(res.params[0]),
        messages=total,
        events=hits,
        scale=scale,
    )


def _dispersion(rows: Sequence[tuple[float, int, int]], fitted: Any) -> float:
    """The quasi-binomial scale: Pearson chi² / df over whole levels, when the binomial fit is rejected.

    Exact weighted levels make sparse cells, whose Pearson terms mean nothing; whole levels
    pool them, and levels with fewer than 5 expected events (or non-events) are left out.
    The scale applies only when the lack of fit is significant (chi² test at 5 %),
    so a well-specified model keeps its binomial interval.
    """
    from scipy.stats import chi2

    bins: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for (lv, e, n), p in zip(rows, fitted, strict=True):
        acc = bins[int(lv)]
        acc[0] += e
        acc[1] += n * p
        acc[2] += n * p * (1 - p)
        acc[3] += n
    # the usual rule for a chi² test: at least 5 expected events and 5 expected non-events
    used = [(o, m, v) for o, m, v, n in bins.values() if m >= 5 and n - m >= 5]
    df = len(used) - 2
    if df < 1:
        return 1.0
    x2 = sum((o - m) ** 2 / v for o, m, v in used)
    if chi2.sf(x2, df) >= 0.05:
        return 1.0
    return max(1.0, float(x2 / df))


# -- results -------------------------------------------------------------------------------


def level_label(level: int, cap: int = LEVEL_CAP) -> str:
    """A whole level for people: ``3``, or ``10+`` for the cap."""
    return f"{level}+" if level >= cap else str(level)


@dataclass(slots=True, frozen=True)
class KpiRow:
    """KPIs of one client, month, tier (at the month's start) and pressure level (DESIGN §8)."""

    client: str
    month: str
    tier: str
    #: whole pressure level at send time; the cap means "cap or more"
    level: int
    messages: int
    #: distinct contacts who received these messages
    contacts: int
    open_rate: Rate
    click_rate: Rate
    response_rate: Rate
    unsubscribe_rate: Rate
    complaint_rate: Rate
    purchases_per_1000: PerThousand
    revenue_per_1000: PerThousand
    #: over contacts whose highest level of the month is this one; None before the month's end
    attrition: Rate | None
    retention: Rate | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            out[name] = v.to_dict() if hasattr(v, "to_dict") else v
        out["level_label"] = level_label(self.level)
        return out


@dataclass(slots=True, frozen=True)
class FatiguePoint:
    """One whole pressure level of a tier's fatigue curve."""

    level: int
    messages: int
    response: Rate
    click: Rate
    unsubscribe: Rate
    complaint: Rate
    revenue_per_1000: PerThousand
    purchases_per_1000: PerThousand

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        out: dict[str, Any] = {"level": self.level, "level_label": level_label(self.level), "messages": self.messages}
        for name in ("response", "click", "unsubscribe", "complaint", "revenue_per_1000", "purchases_per_1000"):
            out[name] = getattr(self, name).to_dict()
        return out


@dataclass(slots=True, frozen=True)
class FatigueCurve:
    """A tier's fatigue curve for one client over the measured months, and what it implies.

    ``reference_level``: the tier's lowest level with at least :data:`MIN_MESSAGES`
    messages (the least pressure it is seen under). ``saturation_level``: the lowest level
    above it, with as many messages, whose response rate is significantly lower (its
    interval lies wholly below the reference's); None when no level is.
    ``above_saturation``: the tier's contacts of the last measured month whose highest
    level reached the saturation level, among the tier's contacts of that month.
    """

    client: str
    tier: str
    points: list[FatiguePoint]
    #: logistic slopes on the exact level: response, click, unsubscribe, complaint (None: nothing to fit)
    slopes: dict[str, Slope | None]
    reference_level: int | None
    saturation_level: int | None
    above_saturation: Rate | None

    def point(self, level: int) -> FatiguePoint | None:
        """The curve's point at a whole level, if it has one."""
        return next((p for p in self.points if p.level == level), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "client": self.client,
            "tier": self.tier,
            "points": [p.to_dict() for p in self.points],
            "slopes": {k: None if v is None else v.to_dict() for k, v in self.slopes.items()},
            "reference_level": self.reference_level,
            "saturation_level": self.saturation_level,
            "above_saturation": None if self.above_saturation is None else self.above_saturation.to_dict(),
        }


@dataclass(slots=True)
class Measurement:
    """KPIs and fatigue curves of the measured months (:func:`measure`)."""

    as_of: int
    months: list[str]
    clients: list[str]
    families: list[str] | None
    channels: list[str] | None
    kpis: list[KpiRow] = field(default_factory=list)
    curves: list[FatigueCurve] = field(default_factory=list)
    #: month -> whether its messages' 7-day follow-up and its end are past ``as_of``
    complete: dict[str, bool] = field(default_factory=dict)
    #: the raw cells, for callers that regroup them (e.g. recommendations)
    fit_cells: list[FitCell] = field(default_factory=list)
    contact_cells: dict[str, list[ContactCell]] = field(default_factory=dict)

    def curve(self, client: str, tier: str) -> FatigueCurve | None:
        """The fatigue curve of one client's tier, if it had messages."""
        return next((c for c in self.curves if c.client == client and c.tier == tier), None)

    def share_at_or_above(self, client: str, tier: str, level: int, month: str | None = None) -> Rate:
        """Share of a tier's contacts of ``month`` (default: the last measured) whose highest
        pressure level that month reached ``level``, with its Wilson interval."""
        cells = [
            c for c in self.contact_cells.get(month or self.months[-1], []) if c.client == client and c.tier == tier
        ]
        return Rate.of(sum(c.contacts for c in cells if c.level >= level), sum(c.contacts for c in cells))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (times in ISO 8601)."""
        return {
            "as_of": to_iso(self.as_of),
            "months": self.months,
            "complete": self.complete,
            "clients": self.clients,
            "families": self.families,
            "channels": self.channels,
            "kpis": [k.to_dict() for k in self.kpis],
            "fatigue": [c.to_dict() for c in self.curves],
        }


# -- months ----------------------------------------------------------------------------------


def month_bounds(month: str, tz: str) -> tuple[int, int]:
    """``[start, end)`` of a ``YYYY-MM`` month in the time zone ``tz``."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=zone(tz))
    except ValueError:
        msg = f"month {month!r}: expected YYYY-MM, e.g. 2026-10"
        raise ConfigError(msg) from None
    return calendar_period(int(first.timestamp()) + 3600 * 12, "month", tz)


def month_of(ts: int, tz: str) -> str:
    """The ``YYYY-MM`` month containing ``ts`` in ``tz``."""
    return datetime.fromtimestamp(ts, zone(tz)).strftime("%Y-%m")


def last_complete_month(now: int, tz: str) -> str:
    """The latest month whose messages' 7-day follow-up is over at ``now``."""
    start, _ = calendar_period(now - 7 * 86400, "month", tz)
    return month_of(start - 1, tz)


def months_ending(month: str, count: int, tz: str) -> list[str]:
    """``count`` consecutive months ending with ``month``, oldest first."""
    out = [month]
    start, _ = month_bounds(month, tz)
    for _ in range(count - 1):
        start, _ = calendar_period(start - 1, "month", tz)
        out.insert(0, month_of(start, tz))
    return out


# -- measurement -----------------------------------------------------------------------------


def default_families(cfg: WorkspaceConfig) -> list[str]:
    """The families the rules can block (not exempt): what KPIs and fatigue curves measure by default."""
    return sorted(name for name, f in cfg.families.items() if not f.exempt)


def measure(
    ledger: LedgerAPI,
    cfg: WorkspaceConfig,
    *,
    months: Sequence[str],
    now: int,
    client: str | None = None,
    families: Iterable[str] | None = None,
    channels: Iterable[str] | None = None,
    level_cap: int = LEVEL_CAP,
) -> Measurement:
    """KPIs per client, month, tier and pressure level, and fatigue curves per client and tier.

    ``months`` are consecutive ``YYYY-MM`` months in the workspace's time zone. Messages
    of ``families`` (default: the non-exempt ones) on ``channels`` (default: all) are
    measured; the pressure level always counts every touch. Leaves the ledger's score
    table as of the last month's end (or start, if its end is after ``now``).
    """
    tz = cfg.workspace.timezone
    fams = sorted(set(families)) if families is not None else default_families(cfg)
    chans = sorted(set(channels)) if channels is not None else None
    counts = TouchFilter(
        channels=frozenset(chans) if chans is not None else None, families=frozenset(fams) if fams else None
    )
    weights = {k: f.weight for k, f in cfg.families.items()}
    last_tier = cfg.tiers[-1].name
    months = sorted(set(months))
    out = Measurement(as_of=now, months=list(months), clients=[], families=fams, channels=chans)
    msg_cells: dict[str, list[MessageCell]] = {}
    fit_cells: list[FitCell] = []
    scored_at: int | None = None
    for month in months:
        start, end = month_bounds(month, tz)
        if start > now:
            msg = f"month {month} starts after the measurement's instant {to_iso(now, tz)}: nothing to measure yet"
            raise ConfigError(msg)
        if scored_at != start:
            score_all(ledger, start, cfg.tiers, cfg.scoring, cfg.tolerance)
        ledger.keep_scores()
        end_scored = end <= now
        if end_scored:
            score_all(ledger, end, cfg.tiers, cfg.scoring, cfg.tolerance)
            scored_at = end
        else:
            scored_at = start
        cells = ledger.measure_month(
            since=start,
            until=end,
            weights=weights,
            counts=counts,
            level_cap=level_cap,
            last_tier=last_tier,
            end_scored=end_scored,
        )
        if client is not None:
            cells.messages[:] = [c for c in cells.messages if c.client == client]
            cells.fit[:] = [c for c in cells.fit if c.client == client]
            cells.contacts[:] = [c for c in cells.contacts if c.client == client]
        out.complete[month] = end + 7 * 86400 <= now
        msg_cells[month] = cells.messages
        fit_cells.extend(cells.fit)
        out.contact_cells[month] = cells.contacts
        out.kpis.extend(_kpi_rows(month, cells.messages, cells.contacts))
    out.fit_cells = fit_cells
    out.clients = sorted({k.client for k in out.kpis})
    last = out.contact_cells.get(months[-1], []) if months else []
    out.curves = _curves([c for cs in msg_cells.values() for c in cs], fit_cells, last)
    return out


def _kpi_rows(month: str, cells: list[MessageCell], contacts: list[ContactCell]) -> list[KpiRow]:
    by_contact = {(c.client, c.tier, c.level): c for c in contacts}
    rows = []
    for c in cells:
        cc = by_contact.get((c.client, c.tier, c.level))
        attrition = retention = None
        if cc is not None and cc.fell is not None and cc.retained is not None:
            attrition = Rate.of(cc.opted_out + cc.fell, cc.contacts)
            retention = Rate.of(cc.retained, cc.contacts)
        rows.append(
            KpiRow(
                client=c.client,
                month=month,
                tier=c.tier,
                level=c.level,
                messages=c.messages,
                contacts=c.contacts,
                open_rate=Rate.of(c.opened, c.messages),
                click_rate=Rate.of(c.clicked, c.messages),
                response_rate=Rate.of(c.responded, c.messages),
                unsubscribe_rate=Rate.of(c.unsubscribed, c.messages),
                complaint_rate=Rate.of(c.complained, c.messages),
                purchases_per_1000=PerThousand.of(c.purchases, c.purchases_sq, c.messages),
                revenue_per_1000=PerThousand.of(c.revenue, c.revenue_sq, c.messages),
                attrition=attrition,
                retention=retention,
            )
        )
    return rows


def _curves(cells: list[MessageCell], fit: list[FitCell], last_contacts: list[ContactCell]) -> list[FatigueCurve]:
    sums: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0] * 10))
    for c in cells:
        acc = sums[c.client, c.tier][c.level]
        for i, v in enumerate(
            (
                c.messages,
                c.responded,
                c.clicked,
                c.unsubscribed,
                c.complained,
                c.revenue,
                c.revenue_sq,
                c.purchases,
                c.purchases_sq,
                0,
            )
        ):
            acc[i] += v
    grouped: dict[tuple[str, str], list[FitCell]] = defaultdict(list)
    for f in fit:
        grouped[f.client, f.tier].append(f)
    curves = []
    for (client, tier), levels in sorted(sums.items()):
        points = [
            FatiguePoint(
                level=lv,
                messages=int(a[0]),
                response=Rate.of(int(a[1]), int(a[0])),
                click=Rate.of(int(a[2]), int(a[0])),
                unsubscribe=Rate.of(int(a[3]), int(a[0])),
                complaint=Rate.of(int(a[4]), int(a[0])),
                revenue_per_1000=PerThousand.of(a[5], a[6], int(a[0])),
                purchases_per_1000=PerThousand.of(a[7], a[8], int(a[0])),
            )
            for lv, a in sorted(levels.items())
        ]
        slopes = fatigue_slopes(grouped[client, tier])
        reference, saturation = saturation_of(points)
        above = None
        tier_contacts = [c for c in last_contacts if c.client == client and c.tier == tier]
        if saturation is not None and tier_contacts:
            above = Rate.of(
                sum(c.contacts for c in tier_contacts if c.level >= saturation), sum(c.contacts for c in tier_contacts)
            )
        curves.append(FatigueCurve(client, tier, points, slopes, reference, saturation, above))
    return curves


def fatigue_slopes(cells: Sequence[FitCell]) -> dict[str, Slope | None]:
    """Logistic slopes on the exact level of response, click, unsubscribe and complaint, pooling ``cells``."""
    merged: dict[float, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for f in cells:
        acc = merged[f.level]
        acc[0] += f.messages
        acc[1] += f.responded
        acc[2] += f.clicked
        acc[3] += f.unsubscribed
        acc[4] += f.complained
    levels = sorted(merged)
    n = [merged[lv][0] for lv in levels]
    return {
        name: fit_slope(levels, [merged[lv][i] for lv in levels], n, outcome=name)
        for i, name in ((1, "response"), (2, "click"), (3, "unsubscribe"), (4, "complaint"))
    }


def saturation_of(points: Sequence[FatiguePoint], min_messages: int = MIN_MESSAGES) -> tuple[int | None, int | None]:
    """(reference level, saturation level) of a curve's points (see :class:`FatigueCurve`)."""
    usable = [p for p in points if p.messages >= min_messages and p.response.value is not None]
    if not usable:
        return None, None
    ref = min(usable, key=lambda p: p.level)
    floor = ref.response.low
    for p in usable:
        if p.level > ref.level and p.response.high is not None and floor is not None and p.response.high < floor:
            return ref.level, p.level
    return ref.level, None


__all__ = [
    "LEVEL_CAP",
    "FatigueCurve",
    "FatiguePoint",
    "KpiRow",
    "Measurement",
    "PerThousand",
    "Rate",
    "Slope",
    "default_families",
    "fatigue_slopes",
    "fit_slope",
    "last_complete_month",
    "level_label",
    "measure",
    "month_bounds",
    "months_ending",
]
