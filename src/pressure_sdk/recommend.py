"""Monthly recommendation (DESIGN §8): per tier, the cap the evidence supports, with that evidence.

The method, and what it assumes:

- **Which cap.** One weekly cap rule whose ``max`` is (or becomes) a table per tier: by
  default the workspace's first cap rule with a 7-day window or a weekly calendar period
  and a per-tier table (``--rule`` names another). Its counter is compared with the
  *pressure level* of DESIGN §8 (every touch of the client in the 7 days before a send,
  the send included): exact for a rule of scope ``all`` counting every family, an
  approximation otherwise, and the recommendation says which rule it is about.
- **Objective.** ``clicks``: clicks minus ``unsubscribe_cost`` clicks per unsubscribe and
  ``complaint_cost`` per complaint; ``revenue``: revenue minus the same costs in the
  client's currency. Opens never count.
- **Observational evidence** (the fatigue curve of :mod:`pressure_sdk.measure`): a cap ``C``
  would have suppressed the tier's measured messages sent above level ``C``. The expected
  change is minus what those messages brought (their clicks, revenue) plus what they cost
  (their unsubscribes, complaints), per 1,000 of the tier's contacts per month. This counts
  only the suppressed sends' own outcomes: whether the remaining sends would do better at a
  lower pressure is not credited, so a cut is never oversold. Observation can only judge
  caps up to the highest level that was sent.
- **Randomized evidence** (:mod:`pressure_sdk.experiments`): an experiment of the client
  whose arm changes this rule's ``max`` gives the arm's effect per 1,000 contacts on each
  metric, CUPED-adjusted; it wins over observation for the tiers the arm changes.
- **Intervals.** 95 %. Counts are Poisson (variance = count); revenue from the per-level
  normal intervals of :class:`~pressure_sdk.measure.PerThousand`; the objective's interval
  adds the components' variances (independence assumed; for experiments the metrics of one
  contact are correlated, which this ignores).
- **Withheld** when the objective's interval is wider than the effect itself: its margin
  of error (half the interval) is at least the estimate, so "no change" lies within it
  (``(high - low) / 2 >= |estimate|``). **Not enough data** below ``min_messages`` messages in the
  tier, **burnout** when most of the tier's contacts of the last month reached its
  saturation level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .config import CapRule, WorkspaceConfig
from .errors import ConfigError

if TYPE_CHECKING:
    from .experiments import ExperimentReport
    from .measure import FatigueCurve, Measurement

Objective = Literal["clicks", "revenue"]
OBJECTIVES: tuple[str, ...] = ("clicks", "revenue")
METRICS: tuple[str, ...] = ("clicks", "unsubscribes", "complaints", "revenue")

#: messages a tier needs before its curve can support a recommendation
MIN_MESSAGES = 1000
_WEEK = 7 * 86400


@dataclass(slots=True, frozen=True)
class Estimate:
    """An expected change with its 95 % interval."""

    estimate: float
    low: float
    high: float

    @property
    def width(self) -> float:
        """How wide the interval is."""
        return self.high - self.low

    def to_dict(self) -> dict[str, float]:
        """Plain JSON-ready fields."""
        return asdict(self)


@dataclass(slots=True, frozen=True)
class Objectives:
    """What the user wants more of, and what an opt-out costs in its unit."""

    objective: Objective = "clicks"
    unsubscribe_cost: float = 10.0
    complaint_cost: float = 50.0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            msg = f"objective {self.objective!r}: expected one of {', '.join(OBJECTIVES)}"
            raise ConfigError(msg)
        for name in ("unsubscribe_cost", "complaint_cost"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                msg = f"{name.replace('_', '-')}: expected a number >= 0, got {v!r}"
                raise ConfigError(msg)

    def weights(self) -> dict[str, float]:
        """Each metric's weight in the objective."""
        gain = "clicks" if self.objective == "clicks" else "revenue"
        return {gain: 1.0, "unsubscribes": -self.unsubscribe_cost, "complaints": -self.complaint_cost}


@dataclass(slots=True)
class TierRecommendation:
    """One tier's proposal and its evidence (changes are per 1,000 of the tier's contacts per month)."""

    client: str
    tier: str
    rule: str
    current: float | None
    #: the cap the evidence supports; None unless ``status`` is ``change``
    proposed: int | None
    #: ``change``, ``keep``, ``withheld`` (interval wider than the effect) or ``not enough data``
    status: str
    #: ``observational`` or ``randomized: <experiment> (arm <name>)``
    source: str
    reason: str
    effects: dict[str, Estimate] = field(default_factory=dict)
    objective: Estimate | None = None
    #: sends the proposed cap would have suppressed, and the revenue they brought
    suppressed_sends: float = 0.0
    suppressed_value: Estimate | None = None
    messages: int = 0
    contacts_per_month: float = 0.0
    saturation_level: int | None = None
    above_saturation: float | None = None
    burnout: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        out = asdict(self)
        out["effects"] = {k: v.to_dict() for k, v in self.effects.items()}
        return out


@dataclass(slots=True, frozen=True)
class LevelOutcomes:
    """What a tier's messages at one whole pressure level brought, pooled over the measured months."""

    level: int
    messages: int
    clicks: int
    unsubscribes: int
    complaints: int
    revenue: float
    #: standard error of ``revenue`` (the sum over these messages)
    revenue_se: float


def _z() -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.975))


def suppressed(levels: Sequence[LevelOutcomes], cap: int) -> LevelOutcomes:
    """The pooled outcomes of the messages sent above ``cap``: what the cap would have suppressed."""
    above = [x for x in levels if x.level > cap]
    return LevelOutcomes(
        level=cap,
        messages=sum(x.messages for x in above),
        clicks=sum(x.clicks for x in above),
        unsubscribes=sum(x.unsubscribes for x in above),
        complaints=sum(x.complaints for x in above),
        revenue=sum(x.revenue for x in above),
        revenue_se=math.sqrt(sum(x.revenue_se**2 for x in above)),
    )


def cut_effects(gone: LevelOutcomes, contact_months: float) -> dict[str, tuple[float, float]]:
    """Metric -> (expected change, its variance) per 1,000 contact-months, when ``gone`` is suppressed.

    Counts are Poisson (variance = count); the change is minus what the suppressed sends brought.
    """
    k = 1000.0 / contact_months
    return {
        "clicks": (-gone.clicks * k, gone.clicks * k * k),
        "unsubscribes": (-gone.unsubscribes * k, gone.unsubscribes * k * k),
        "complaints": (-gone.complaints * k, gone.complaints * k * k),
        "revenue": (-gone.revenue * k, (gone.revenue_se * k) ** 2),
    }


def combine(parts: dict[str, tuple[float, float]], weights: dict[str, float]) -> Estimate:
    """The objective: the weighted sum of the metrics' changes, variances added."""
    z = _z()
    est = sum(w * parts[m][0] for m, w in weights.items())
    var = sum(w * w * parts[m][1] for m, w in weights.items())
    half = z * math.sqrt(var)
    return Estimate(est, est - half, est + half)


def _estimates(parts: dict[str, tuple[float, float]]) -> dict[str, Estimate]:
    z = _z()
    out = {}
    for m, (est, var) in parts.items():
        half = z * math.sqrt(var)
        out[m] = Estimate(est, est - half, est + half)
    return out


# -- the rule a recommendation is about --------------------------------------------------------


def _weekly(rule: CapRule) -> bool:
    return rule.window == _WEEK or (rule.window is None and rule.calendar == "week")


def target_rule(cfg: WorkspaceConfig, rule_id: str | None, client: str) -> CapRule:
    """The weekly cap rule the recommendation proposes a ``max`` table for.

    By default the first weekly cap rule of the client (or of every client) with a per-tier
    ``max`` table, else the first with a number. ConfigError names what to pass otherwise.
    """
    caps = [r for r in cfg.rules if isinstance(r, CapRule) and getattr(r, "client", None) in (None, client)]
    if rule_id is not None:
        for r in caps:
            if r.id == rule_id:
                if not _weekly(r):
                    msg = (
                        f'--rule {rule_id}: a recommendation is about a weekly cap (window = "7d" or calendar = "week")'
                    )
                    raise ConfigError(msg)
                if not isinstance(r.max, int | float | dict):
                    msg = f"--rule {rule_id}: its max comes from a contact attribute; a recommendation cannot change it"
                    raise ConfigError(msg)
                return r
        msg = f"--rule {rule_id}: no cap rule of client {client!r} has this id; known: {sorted(r.id for r in caps)}"
        raise ConfigError(msg)
    weekly = [r for r in caps if _weekly(r)]
    for r in weekly:
        if isinstance(r.max, dict):
            return r
    for r in weekly:
        if isinstance(r.max, int | float):
            return r
    msg = f"client {client!r} has no weekly cap rule with a number or a per-tier max: name one with --rule"
    raise ConfigError(msg)


def cap_for(rule_max: Any, tier: str) -> float | None:
    """The cap a ``max`` (number or per-tier table) gives a tier."""
    if isinstance(rule_max, dict):
        return rule_max.get(tier, rule_max.get("default"))
    if isinstance(rule_max, int | float):
        return float(rule_max)
    return None


# -- one tier ----------------------------------------------------------------------------------


def observe(
    levels: Sequence[LevelOutcomes],
    contact_months: float,
    current: float | None,
    objectives: Objectives,
) -> tuple[int | None, dict[str, Estimate], Estimate | None, LevelOutcomes | None]:
    """The observational best cut: (cap, metric changes, objective change, what it suppresses).

    Caps below the current one (or below the highest level sent, without one) are weighed;
    the cap is None when no cut is possible.
    """
    top = max((x.level for x in levels if x.messages), default=0)
    limit = top if current is None else min(top, math.ceil(current))
    weights = objectives.weights()
    best: tuple[int, dict[str, tuple[float, float]], Estimate, LevelOutcomes] | None = None
    for cap in range(1, limit):
        gone = suppressed(levels, cap)
        if not gone.messages:
            continue
        parts = cut_effects(gone, contact_months)
        obj = combine(parts, weights)
        if best is None or obj.estimate > best[2].estimate:
            best = (cap, parts, obj, gone)
    if best is None:
        return None, {}, None, None
    cap, parts, obj, gone = best
    return cap, _estimates(parts), obj, gone


def _conclusive(obj: Estimate) -> bool:
    """Whether "no change" lies outside the estimate's margin of error (half its interval)."""
    return obj.width / 2 < abs(obj.estimate)


def _verdict(obj: Estimate) -> str:
    """``change`` when the gain is sure, ``withheld`` when "no change" lies within its margin of
    error (half the interval), ``keep`` when the change would not gain."""
    if obj.estimate <= 0:
        return "keep"
    return "change" if _conclusive(obj) else "withheld"


def _fmt(e: Estimate, unit: str = "") -> str:
    return f"{e.estimate:+.2f}{unit} [{e.low:+.2f}, {e.high:+.2f}]"


def levels_of(curve: FatigueCurve) -> list[LevelOutcomes]:
    """A fatigue curve's points as pooled outcomes per level."""
    z = _z()
    out = []
    for p in curve.points:
        rev = p.revenue_per_1000
        # the sum's standard error from the per-message mean's interval (its upper half: the lower is clipped at 0)
        se = 0.0 if rev.high is None or rev.value is None else (rev.high - rev.value) / 1000 / z * p.messages
        out.append(
            LevelOutcomes(
                level=p.level,
                messages=p.messages,
                clicks=p.click.count,
                unsubscribes=p.unsubscribe.count,
                complaints=p.complaint.count,
                revenue=rev.total,
                revenue_se=se,
            )
        )
    return out


def _randomized(
    reports: Sequence[ExperimentReport], client: str, rule: CapRule, tier: str, current: float | None, obj: Objectives
) -> tuple[str, float, dict[str, Estimate], Estimate] | None:
    """The conclusive-or-not randomized evidence on this tier's cap: (source, arm cap, effects, objective)."""
    z = _z()
    found: list[tuple[str, float, dict[str, Estimate], Estimate]] = []
    for rep in reports:
        if rep.client != client or rep.days <= 0:
            continue
        per_month = 30.4375 / rep.days
        for arm in rep.arms:
            change = arm.overrides.get(rule.id, {})
            if "max" not in change or not arm.effects:
                continue
            cap = cap_for(change["max"], tier)
            if cap is None or cap == current:
                continue
            parts: dict[str, tuple[float, float]] = {}
            for m in METRICS:
                e = arm.effects.get(m)
                if e is None:
                    continue
                iv = e.per_1000.scaled(per_month)
                parts[m] = (iv.estimate, ((iv.high - iv.low) / (2 * z)) ** 2)
            weights = {m: w for m, w in obj.weights().items() if m in parts}
            if not weights:
                continue
            found.append(
                (
                    f"randomized: {rep.id} (arm {arm.name} vs {rep.control})",
                    cap,
                    _estimates(parts),
                    combine(parts, weights),
                )
            )
    if not found:
        return None
    # the most conclusive arm: its objective's interval narrowest relative to its effect
    return min(found, key=lambda f: f[3].width / max(abs(f[3].estimate), 1e-12))


def recommend_tier(
    m: Measurement,
    cfg: WorkspaceConfig,
    client: str,
    tier: str,
    rule: CapRule,
    objectives: Objectives,
    experiments: Sequence[ExperimentReport] = (),
    min_messages: int = MIN_MESSAGES,
) -> TierRecommendation:
    """One tier's recommendation: randomized evidence first when conclusive, else observation."""
    current = cap_for(rule.max, tier)
    curve = m.curve(client, tier)
    contact_months = float(
        sum(c.contacts for cells in m.contact_cells.values() for c in cells if c.client == client and c.tier == tier)
    )
    rec = TierRecommendation(
        client=client,
        tier=tier,
        rule=rule.id,
        current=current,
        proposed=None,
        status="not enough data",
        source="observational",
        reason="",
    )
    if curve is not None:
        rec.messages = sum(p.messages for p in curve.points)
        rec.saturation_level = curve.saturation_level
        if curve.above_saturation is not None and curve.above_saturation.value is not None:
            rec.above_saturation = curve.above_saturation.value
            rec.burnout = curve.above_saturation.value > 0.5
    rec.contacts_per_month = contact_months / max(len(m.months), 1)
    test = _randomized(experiments, client, rule, tier, current, objectives)
    if test is not None:
        t_source, t_cap, t_effects, t_obj = test
        if _conclusive(t_obj):
            verdict = _verdict(t_obj)
            rec.source, rec.effects, rec.objective = t_source, t_effects, t_obj
            rec.status = verdict
            rec.proposed = int(t_cap) if verdict == "change" else None
            better = "gains" if t_obj.estimate > 0 else "loses"
            rec.reason = f"cap {t_cap:g} {better} {_fmt(t_obj)} on the objective per 1,000 contacts a month"
            return rec
    if curve is None or rec.messages < min_messages or contact_months <= 0:
        rec.reason = f"{rec.messages} measured messages; at least {min_messages} are needed"
        return rec
    cap, effects, obj, gone = observe(levels_of(curve), contact_months, current, objectives)
    tested = f"; randomized test {test[0].split(': ', 1)[1]} inconclusive" if test else ""
    if cap is None or obj is None or gone is None:
        rec.status = "keep"
        rec.reason = f"no message was sent above a lower cap: observation cannot judge a change{tested}"
        return rec
    k = 1000.0 / contact_months
    rec.effects, rec.objective = effects, obj
    rec.suppressed_sends = gone.messages * k
    rec.suppressed_value = Estimate(
        gone.revenue * k, (gone.revenue - _z() * gone.revenue_se) * k, (gone.revenue + _z() * gone.revenue_se) * k
    )
    rec.status = _verdict(obj)
    if rec.status == "change":
        rec.proposed = cap
        rec.reason = f"a cap of {cap} gains {_fmt(obj)} on the objective per 1,000 contacts a month{tested}"
    elif rec.status == "keep":
        rec.reason = f"the best lower cap ({cap}) would lose {_fmt(obj)} on the objective{tested}"
    else:
        rec.reason = f"a cap of {cap}: {_fmt(obj)} on the objective, an interval wider than the effect{tested}"
    return rec


@dataclass(slots=True)
class Recommendation:
    """The month's proposal for one client: one line per tier, and the rule it changes."""

    client: str
    months: list[str]
    rule: str
    objectives: Objectives
    tiers: list[TierRecommendation]
    current_max: Any

    def proposed_max(self) -> Any:
        """The rule's ``max`` with the proposed changes (a per-tier table)."""
        table = dict(self.current_max) if isinstance(self.current_max, dict) else {"default": self.current_max}
        for t in self.tiers:
            if t.status == "change" and t.proposed is not None:
                table[t.tier] = t.proposed
        return table

    def changes(self) -> list[TierRecommendation]:
        """The tiers whose cap the evidence says to change."""
        return [t for t in self.tiers if t.status == "change"]

    def snippet(self) -> str:
        """The proposal as a TOML fragment for review: the rule's new ``max`` line, evidence in comments."""
        lines = [
            f"# Proposed by pressure-sync recommend for client {self.client}, months {', '.join(self.months)};",
            f"# objective {self.objectives.objective} (an unsubscribe costs {self.objectives.unsubscribe_cost:g},"
            f" a complaint {self.objectives.complaint_cost:g}). Review, then replace the `max` of rule",
            f"# {self.rule!r} in the workspace file with the line below.",
        ]
        for t in self.tiers:
            now = "-" if t.current is None else f"{t.current:g}"
            new = f"{t.proposed}" if t.status == "change" else now
            lines.append(f"#   {t.tier}: {now} -> {new} ({t.status}, {t.source}): {t.reason}")
        table = ", ".join(f"{_key(k)} = {_num(v)}" for k, v in self.proposed_max().items())
        lines.append(f"max = {{ {table} }}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """The report's section: one row per tier, escaped."""
        from html import escape

        def est(e: Estimate | None) -> str:
            return "–" if e is None else f"{e.estimate:+.1f} [{e.low:+.1f}, {e.high:+.1f}]"

        rows = []
        for t in self.tiers:
            now = "–" if t.current is None else f"{t.current:g}"
            new = str(t.proposed) if t.proposed is not None else now
            burnout = " <b class=warn>burnout</b>" if t.burnout else ""
            clicks = est(t.effects.get("clicks"))
            unsubs = est(t.effects.get("unsubscribes"))
            rows.append(
                f"<tr><td class=l>{escape(t.tier)}{burnout}</td><td>{escape(now)}</td><td>{escape(new)}</td>"
                f"<td class=l>{escape(t.status)}</td><td class=l>{escape(t.source)}</td>"
                f"<td>{escape(est(t.objective))}</td><td>{escape(clicks)}</td><td>{escape(unsubs)}</td></tr>"
            )
        head = (
            "<tr><th class=l>tier</th><th>cap now</th><th>proposed</th><th class=l>status</th>"
            "<th class=l>evidence</th><th>objective</th><th>clicks</th><th>unsubscribes</th></tr>"
        )
        o = self.objectives
        note = (
            f"<p>Client {escape(self.client)}, rule <code>{escape(self.rule)}</code>, months "
            f"{escape(', '.join(self.months))}; objective {escape(o.objective)} (an unsubscribe costs "
            f"{o.unsubscribe_cost:g}, a complaint {o.complaint_cost:g}); changes per 1,000 contacts a month, "
            "95 % intervals.</p>"
        )
        return f"{note}<table>{head}{''.join(rows)}</table>"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "client": self.client,
            "months": self.months,
            "rule": self.rule,
            "objective": asdict(self.objectives),
            "current_max": self.current_max,
            "proposed_max": self.proposed_max(),
            "tiers": [t.to_dict() for t in self.tiers],
        }


def _key(k: str) -> str:
    return k if k.replace("-", "").replace("_", "").isalnum() else f'"{k}"'


def _num(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() else f"{v:g}"


def recommend(
    m: Measurement,
    cfg: WorkspaceConfig,
    client: str,
    *,
    rule_id: str | None = None,
    objectives: Objectives | None = None,
    experiments: Sequence[ExperimentReport] = (),
    min_messages: int = MIN_MESSAGES,
) -> Recommendation:
    """Per tier of ``client``, the weekly cap the measured months and the experiments support."""
    objectives = objectives or Objectives()
    rule = target_rule(cfg, rule_id, client)
    tiers = [recommend_tier(m, cfg, client, t.name, rule, objectives, experiments, min_messages) for t in cfg.tiers]
    return Recommendation(client, list(m.months), rule.id, objectives, tiers, rule.max)
