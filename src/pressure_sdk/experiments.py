"""Holdout tests of policies: plan (minimum detectable effect), report, automatic stop (DESIGN §8).

The unit is the contact: every contact of the experiment's client is in one arm (a
stable hash, :mod:`pressure_sdk.arms`), and its outcomes from the start date to the
report's date come from one set-wise ledger read
(:meth:`~pressure_sdk.ledger.LedgerAPI.experiment_outcomes`). Per arm and metric the
report gives the mean per contact; per arm other than the control, the difference with
the control and its 95 % interval three ways:

* **fixed horizon**: Welch's difference of means (statsmodels ``CompareMeans``), valid
  when looked at once, at a horizon chosen in advance;
* **CUPED**: the same after removing what the pre-period engagement of the same contacts
  predicts (``y - θ (x - mean x)``, θ pooled over the two arms); narrower by the share of
  variance it removes, which is reported;
* **always valid**: a normal-mixture confidence sequence (the mixture sequential
  probability ratio test of Johari et al., 2017, "Peeking at A/B tests"; Howard et al.,
  2021), valid however often it is looked at. It is written here (a few lines) because
  no well-kept library provides it: ``confseq`` has had no release since 2023 and
  needs a C++ build. The mixing variance τ² is the variance the difference had over
  the pre-period (the same contacts, the same metric, ``pre_period`` long): it is fixed
  before the start, as the method requires, and makes the interval tightest when the
  test has run about as long as the pre-period. Without pre-period data, the current
  variance stands in (the interval is then the estimate ± about 3.7 standard errors).

Metrics (opens never decide): ``clicks`` per contact, ``unsubscribes`` and
``complaints`` as the share of contacts with at least one, ``revenue`` per contact
(purchase amounts; one currency per client is assumed), and ``purchases`` per contact.
The sample-ratio-mismatch alarm is a chi-square test of the arms' sizes against their
shares (scipy); it fires below p = 0.001.

scipy, statsmodels and numpy are imported inside the functions that need them, so
commands that do not measure do not pay their import time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .arms import Experiment, experiments_of
from .errors import ConfigError
from .ledger import ArmStop, ContactOutcome, LedgerAPI

if TYPE_CHECKING:
    import numpy as np

    from .config import WorkspaceConfig

#: metrics of the report, in display order; the first four are the effects ``recommend`` reads
REPORT_METRICS: tuple[str, ...] = ("clicks", "unsubscribes", "complaints", "revenue", "purchases")
#: the p-value below which the sample-ratio-mismatch alarm fires
SRM_ALPHA = 0.001
_DAY = 86400


@dataclass(slots=True, frozen=True)
class Interval:
    """An estimate and its two-sided interval (95 % unless said otherwise)."""

    estimate: float
    low: float
    high: float

    def scaled(self, k: float) -> Interval:
        """The same interval multiplied by ``k`` (e.g. 1,000 for a figure per 1,000 contacts)."""
        return Interval(self.estimate * k, self.low * k, self.high * k)

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of zero."""
        return self.low > 0 or self.high < 0


@dataclass(slots=True, frozen=True)
class Effect:
    """The difference (arm minus control) of one metric, per contact.

    ``diff`` is the fixed-horizon interval, ``cuped`` the one after variance reduction
    (``variance_reduction`` is the share of the variance the pre-period removed),
    ``sequential`` the always-valid interval. ``significant`` is judged on the
    always-valid interval, the one that stays honest under daily looks.
    """

    metric: str
    control: float
    arm: float
    diff: Interval
    p_value: float
    cuped: Interval
    variance_reduction: float
    sequential: Interval

    @property
    def significant(self) -> bool:
        """Whether the always-valid interval excludes zero."""
        return self.sequential.excludes_zero()

    @property
    def per_1000(self) -> Interval:
        """The change per 1,000 contacts, from the CUPED interval (the narrowest valid one)."""
        return self.cuped.scaled(1000)


@dataclass(slots=True)
class ArmResult:
    """One arm of a report: its size, rule overrides, means per contact and effects."""

    name: str
    share: float
    contacts: int
    expected: float
    #: rule id -> the fields this arm changes (empty: the workspace's rules)
    overrides: dict[str, dict[str, Any]]
    #: mean per contact of each metric of :data:`REPORT_METRICS`
    means: dict[str, float]
    messages_per_contact: float
    #: metric -> difference with the control (empty for the control itself)
    effects: dict[str, Effect] = field(default_factory=dict)
    stop: ArmStop | None = None


@dataclass(slots=True)
class ExperimentReport:
    """Everything ``pressure-sync experiment report`` shows about one experiment."""

    id: str
    client: str
    start: int
    end: int | None
    as_of: int
    control: str
    metric: str
    contacts: int
    arms: list[ArmResult]
    srm_p: float
    srm_alarm: bool
    complaint_stop: float | None
    pre_period: int

    @property
    def days(self) -> float:
        """Days of data so far."""
        stop = self.as_of if self.end is None else min(self.as_of, self.end)
        return max(0.0, (stop - self.start) / _DAY)

    def arm(self, name: str) -> ArmResult:
        """The arm called ``name``."""
        for a in self.arms:
            if a.name == name:
                return a
        msg = f"no arm {name!r} in experiment {self.id!r}"
        raise KeyError(msg)

    def to_html(self) -> str:
        """The report's section: the primary metric per arm as bars, then each arm's effects, escaped."""
        from html import escape

        from .report_html import bar_chart

        chart = bar_chart(
            [(a.name, 1000 * a.means.get(self.metric, 0.0)) for a in self.arms],
            title=f"{self.metric} per 1,000 contacts, per arm",
        )
        srm = "sample-ratio alarm" if self.srm_alarm else "sample ratio ok"
        head = (
            f"<p>Experiment <code>{escape(self.id)}</code> (client {escape(self.client)}), {self.days:.1f} days, "
            f"{self.contacts:,} contacts; {srm} (p = {self.srm_p:.3g}).</p>"
        )
        rows = []
        for a in self.arms:
            stop = f" <b class=warn>stopped: {escape(a.stop.reason)}</b>" if a.stop is not None else ""
            change = ", ".join(f"{r} {v}" for r, v in a.overrides.items()) or "the workspace's rules"
            for m, e in a.effects.items():
                iv, sq = e.per_1000, e.sequential.scaled(1000)
                sig = "yes" if e.significant else "no"
                rows.append(
                    f"<tr><td class=l>{escape(a.name)}{stop}</td><td class=l>{escape(change)}</td>"
                    f"<td class=l>{escape(m)}</td><td>{iv.estimate:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]</td>"
                    f"<td>[{sq.low:+.2f}, {sq.high:+.2f}]</td><td>{e.variance_reduction:.0%}</td><td>{sig}</td></tr>"
                )
        table = (
            "<table><tr><th class=l>arm</th><th class=l>rules</th><th class=l>metric</th>"
            "<th>change per 1,000 contacts (CUPED)</th><th>always-valid</th><th>variance removed</th>"
            f"<th>significant</th></tr>{''.join(rows)}</table>"
        )
        return head + chart + table

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        out = asdict(self)
        out["days"] = self.days
        for a, arm in zip(out["arms"], self.arms, strict=True):
            for m, e in arm.effects.items():
                a["effects"][m]["significant"] = e.significant
                a["effects"][m]["per_1000"] = asdict(e.per_1000)
        return out


# -- estimators (pure) -----------------------------------------------------------------


def _welch(y1: np.ndarray, y0: np.ndarray, alpha: float) -> tuple[Interval, float]:
    """Difference of means y1 - y0 with its Welch interval and p-value (statsmodels)."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    d = float(y1.mean() - y0.mean())
    if len(y1) < 2 or len(y0) < 2:
        return Interval(d, -math.inf, math.inf), 1.0
    if float(y1.var()) == 0 and float(y0.var()) == 0:
        return Interval(d, d, d), (1.0 if d == 0 else 0.0)
    cm = CompareMeans(DescrStatsW(y1), DescrStatsW(y0))
    low, high = cm.zconfint_diff(alpha=alpha, usevar="unequal")
    _, p = cm.ztest_ind(usevar="unequal")
    return Interval(d, float(low), float(high)), float(p)


def mixture_halfwidth(variance: float, tau2: float, alpha: float = 0.05) -> float:
    """Half-width of the normal-mixture always-valid interval for an estimate of ``variance``.

    The mixture likelihood ratio of the estimate's Gaussian path, mixed over effects
    N(0, τ²), stays below 1/α with probability 1 - α at every look (Ville's inequality);
    inverting it gives ``sqrt(V (V + τ²) / τ² · (2 log(1/α) + log((V + τ²) / V)))``.
    """
    if variance <= 0:
        return 0.0
    if not math.isfinite(variance):
        return math.inf
    v = variance
    return math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))


def estimate(
    metric: str,
    y_arm: Sequence[float] | np.ndarray,
    y_control: Sequence[float] | np.ndarray,
    x_arm: Sequence[float] | np.ndarray | None = None,
    x_control: Sequence[float] | np.ndarray | None = None,
    *,
    alpha: float = 0.05,
    tau2: float | None = None,
) -> Effect:
    """The effect of an arm on one metric from per-contact outcomes (and pre-period covariates).

    ``y_*`` are per-contact outcomes, ``x_*`` the same contacts' pre-period values
    (CUPED); without them the CUPED interval is the plain one. ``tau2`` is the mixing
    variance of the always-valid interval, fixed before the data (the current variance
    of the difference when None).
    """
    import numpy as np

    y1 = np.asarray(y_arm, dtype=float)
    y0 = np.asarray(y_control, dtype=float)
    diff, p = _welch(y1, y0, alpha)
    cuped, reduction = diff, 0.0
    if x_arm is not None and x_control is not None and len(y1) > 1 and len(y0) > 1:
        x1 = np.asarray(x_arm, dtype=float)
        x0 = np.asarray(x_control, dtype=float)
        x = np.concatenate([x1, x0])
        y = np.concatenate([y1, y0])
        vx = float(x.var())
        if vx > 0:
            theta = float(np.cov(y, x)[0, 1] / np.var(x, ddof=1))
            mx = float(x.mean())
            a1, a0 = y1 - theta * (x1 - mx), y0 - theta * (x0 - mx)
            cuped, _ = _welch(a1, a0, alpha)
            vy = float(y.var())
            adj = np.concatenate([a1, a0])
            reduction = 0.0 if vy == 0 else max(0.0, 1 - float(adj.var()) / vy)
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    se = (cuped.high - cuped.low) / (2 * z) if math.isfinite(cuped.high - cuped.low) else math.inf
    control = float(y0.mean()) if len(y0) else 0.0
    if tau2 is None or not tau2 > 0 or not math.isfinite(tau2):
        tau2 = se**2 if se**2 > 0 else 1e-12
    half = mixture_halfwidth(se**2, tau2, alpha)
    seq = Interval(cuped.estimate, cuped.estimate - half, cuped.estimate + half)
    arm = float(y1.mean()) if len(y1) else 0.0
    return Effect(
        metric,
        control=control,
        arm=arm,
        diff=diff,
        p_value=p,
        cuped=cuped,
        variance_reduction=reduction,
        sequential=seq,
    )


def srm_pvalue(counts: Sequence[int], shares: Sequence[float]) -> float:
    """p-value of a chi-square test of the arms' sizes against their declared shares (scipy)."""
    from scipy.stats import chisquare

    n = sum(counts)
    if n == 0:
        return 1.0
    return float(chisquare(list(counts), [n * s for s in shares]).pvalue)


# -- power ----------------------------------------------------------------------------


def required_per_arm(
    rate: float, relative: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> float:
    """Contacts per arm (the control's) to detect a ``relative`` change of a ``rate`` (two-sided).

    Cohen's h (``proportion_effectsize``) with ``NormalIndPower`` (statsmodels); ``ratio``
    is the other arm's size over the control's. A 10 % change of a 2 % rate needs
    about 81,000 contacts per arm at 80 % power.
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = abs(float(proportion_effectsize(rate * (1 + relative), rate)))
    return float(NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=ratio))


def mde_rate(rate: float, n_control: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> float:
    """The smallest relative increase of a ``rate`` detectable with ``n_control`` contacts in the control."""
    from statsmodels.stats.power import NormalIndPower

    if rate <= 0 or rate >= 1 or n_control < 2:
        return math.inf
    h = float(NormalIndPower().solve_power(nobs1=n_control, alpha=alpha, power=power, ratio=ratio))
    # invert Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)) for p1
    a = 2 * math.asin(math.sqrt(rate)) + h
    if a >= math.pi:
        return math.inf
    return math.sin(a / 2) ** 2 / rate - 1


def mde_mean(
    mean: float, sd: float, n_control: float, *, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0
) -> float:
    """The smallest relative change of a mean (sd ``sd``) detectable with ``n_control`` contacts in the control."""
    from statsmodels.stats.power import NormalIndPower

    if mean == 0 or n_control < 2:
        return math.inf
    d = float(NormalIndPower().solve_power(nobs1=n_control, alpha=alpha, power=power, ratio=ratio))
    return d * sd / abs(mean)


@dataclass(slots=True, frozen=True)
class ArmPlan:
    """What one arm can detect against the control."""

    arm: str
    contacts: int
    control_contacts: int
    #: smallest detectable relative change of the metric (0.1 = 10 %)
    mde_relative: float
    #: the same in the metric's unit per contact
    mde_absolute: float


@dataclass(slots=True, frozen=True)
class ExperimentPlan:
    """``pressure-sync experiment plan``: the minimum detectable effect per arm."""

    id: str
    client: str
    metric: str
    horizon: int
    #: the metric over the last horizon: a rate (share of contacts) or a mean per contact
    baseline: float
    baseline_kind: str
    contacts: int
    alpha: float
    power: float
    arms: list[ArmPlan]

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-ready data."""
        return asdict(self)


# -- ledger-backed -----------------------------------------------------------------------


def find(cfg: WorkspaceConfig, experiment_id: str | None) -> Experiment:
    """The experiment called ``experiment_id`` (the only one when None); ConfigError otherwise."""
    exps = experiments_of(cfg)
    if not exps:
        msg = f"{cfg.source}: no [[experiments]] declared (see the config reference)"
        raise ConfigError(msg)
    if experiment_id is None:
        if len(exps) > 1:
            msg = f"several experiments; choose one with --id: {[e.id for e in exps]}"
            raise ConfigError(msg)
        return exps[0]
    for e in exps:
        if e.id == experiment_id:
            return e
    msg = f"unknown experiment {experiment_id!r}; declared: {[e.id for e in exps]}"
    raise ConfigError(msg)


def _value(o: ContactOutcome, metric: str) -> float:
    if metric == "clicks":
        return float(o.clicks)
    if metric == "unsubscribes":
        return float(o.unsubscribes > 0)
    if metric == "complaints":
        return float(o.complaints > 0)
    if metric == "revenue":
        return o.revenue
    if metric == "purchases":
        return float(o.purchases)
    msg = f"unknown metric {metric!r}; known: {list(REPORT_METRICS)}"
    raise ConfigError(msg)


def _covariate(o: ContactOutcome, metric: str) -> float:
    """The pre-period engagement CUPED adjusts with: revenue for revenue, clicks otherwise."""
    return o.pre_revenue if metric == "revenue" else float(o.pre_clicks)


def _pre_value(o: ContactOutcome, metric: str) -> float | None:
    """The metric itself over the pre-period (None for purchases, which it does not read)."""
    if metric == "clicks":
        return float(o.pre_clicks)
    if metric == "unsubscribes":
        return float(o.pre_unsubscribes > 0)
    if metric == "complaints":
        return float(o.pre_complaints > 0)
    if metric == "revenue":
        return o.pre_revenue
    return None


def pre_period_tau2(arm: Sequence[ContactOutcome], control: Sequence[ContactOutcome], metric: str) -> float | None:
    """The variance a difference of means of ``metric`` had over the pre-period, for these arms' sizes."""
    vals = [_pre_value(o, metric) for o in (*arm, *control)]
    xs = [v for v in vals if v is not None]
    if len(xs) < 2 or not arm or not control:
        return None
    mean = sum(xs) / len(xs)
    var = sum((v - mean) ** 2 for v in xs) / (len(xs) - 1)
    return var * (1 / len(arm) + 1 / len(control)) or None


def split(exp: Experiment, outcomes: Iterable[ContactOutcome]) -> dict[str, list[ContactOutcome]]:
    """Outcomes by arm, every arm present (possibly empty)."""
    out: dict[str, list[ContactOutcome]] = {a.name: [] for a in exp.arms}
    for o in outcomes:
        out[exp.arm_of(o.email)].append(o)
    return out


def _outcomes(ledger: LedgerAPI, exp: Experiment, now: int) -> dict[str, list[ContactOutcome]]:
    until = now if exp.end is None else min(now, exp.end)
    until = max(until, exp.start)
    rows = ledger.experiment_outcomes(
        exp.client, since=exp.start, until=until, pre_since=exp.start - exp.config.pre_period
    )
    return split(exp, rows)


def check_stops(ledger: LedgerAPI, cfg: WorkspaceConfig, now: int) -> list[ArmStop]:
    """Stop every running arm whose share of complaining contacts passes its ``complaint_stop``.

    The control is never stopped. A stop is recorded once, durably, and takes effect at
    ``now``: from then on the arm's contacts get the workspace's rules. Returns the new stops.
    """
    new: list[ArmStop] = []
    running = [e for e in experiments_of(cfg) if e.config.complaint_stop is not None and e.running(now)]
    if not running:
        return new
    done = {(s.experiment, s.arm) for s in ledger.experiment_stops()}
    for exp in running:
        threshold = exp.config.complaint_stop
        assert threshold is not None
        for arm, rows in _outcomes(ledger, exp, now).items():
            if arm == exp.control or (exp.id, arm) in done or not rows:
                continue
            k = sum(1 for o in rows if o.complaints > 0)
            rate = k / len(rows)
            if rate > threshold:
                stop = ArmStop(
                    exp.id,
                    arm,
                    now,
                    f"complaint rate {rate:.3%} above {threshold:.3%} ({k} of {len(rows)} contacts)",
                )
                if ledger.stop_arm(stop):
                    new.append(stop)
    return new


def report(ledger: LedgerAPI, cfg: WorkspaceConfig, experiment_id: str | None, now: int) -> ExperimentReport:
    """Per-arm KPIs and effects of one experiment as of ``now`` (stops are checked first)."""
    exp = find(cfg, experiment_id)
    check_stops(ledger, cfg, now)
    stops = {(s.experiment, s.arm): s for s in ledger.experiment_stops()}
    by_arm = _outcomes(ledger, exp, now)
    total = sum(len(v) for v in by_arm.values())
    control = by_arm[exp.control]
    arms: list[ArmResult] = []
    for a in exp.arms:
        rows = by_arm[a.name]
        n = len(rows)
        means = {m: (sum(_value(o, m) for o in rows) / n if n else 0.0) for m in REPORT_METRICS}
        res = ArmResult(
            a.name,
            a.share,
            n,
            total * a.share,
            {k: dict(v) for k, v in a.overrides.items()},
            means,
            sum(o.messages for o in rows) / n if n else 0.0,
            stop=stops.get((exp.id, a.name)),
        )
        if a.name != exp.control and n and control:
            for m in REPORT_METRICS:
                res.effects[m] = estimate(
                    m,
                    [_value(o, m) for o in rows],
                    [_value(o, m) for o in control],
                    [_covariate(o, m) for o in rows],
                    [_covariate(o, m) for o in control],
                    tau2=pre_period_tau2(rows, control, m),
                )
        arms.append(res)
    p = srm_pvalue([a.contacts for a in arms], [a.share for a in arms])
    return ExperimentReport(
        exp.id,
        exp.client,
        exp.start,
        exp.end,
        now,
        exp.control,
        exp.config.metric,
        total,
        arms,
        p,
        p < SRM_ALPHA,
        exp.config.complaint_stop,
        exp.config.pre_period,
    )


def plan(
    ledger: LedgerAPI,
    cfg: WorkspaceConfig,
    experiment_id: str | None,
    now: int,
    *,
    metric: str | None = None,
    horizon: int = 28 * _DAY,
    alpha: float = 0.05,
    power: float = 0.8,
) -> ExperimentPlan:
    """The minimum detectable effect of each arm against the control, over ``horizon``.

    The baseline is the metric over the last ``horizon`` before ``now`` among the
    client's contacts: for clicks, unsubscribes and complaints, the share of contacts
    with at least one (a rate, Cohen's h); for revenue, the mean and spread per contact.
    """
    exp = find(cfg, experiment_id)
    m = metric or exp.config.metric
    if m not in ("clicks", "unsubscribes", "complaints", "revenue"):
        msg = f"unknown metric {m!r}; known: clicks, unsubscribes, complaints, revenue (opens never decide)"
        raise ConfigError(msg)
    rows = list(ledger.experiment_outcomes(exp.client, since=now - horizon, until=now, pre_since=now - horizon))
    n = len(rows)
    shares = {a.name: a.share for a in exp.arms}
    c_share = shares[exp.control]
    if m == "revenue":
        vals = [o.revenue for o in rows]
        mean = sum(vals) / n if n else 0.0
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
        baseline, kind = mean, "mean per contact"
    else:
        field_of = {"clicks": "clicks", "unsubscribes": "unsubscribes", "complaints": "complaints"}[m]
        k = sum(1 for o in rows if getattr(o, field_of) > 0)
        baseline, kind, sd = (k / n if n else 0.0), "share of contacts", 0.0
    out: list[ArmPlan] = []
    for a in exp.arms:
        if a.name == exp.control:
            continue
        n0 = n * c_share
        ratio = a.share / c_share
        rel = (
            mde_mean(baseline, sd, n0, alpha=alpha, power=power, ratio=ratio)
            if m == "revenue"
            else mde_rate(baseline, n0, alpha=alpha, power=power, ratio=ratio)
        )
        out.append(ArmPlan(a.name, round(n * a.share), round(n0), rel, rel * baseline))
    return ExperimentPlan(exp.id, exp.client, m, horizon, baseline, kind, n, alpha, power, out)


def effects_per_1000(rep: ExperimentReport) -> dict[str, dict[str, Interval]]:
    """Arm -> metric -> change per 1,000 contacts (CUPED interval), for arms other than the control."""
    return {a.name: {m: e.per_1000 for m, e in a.effects.items()} for a in rep.arms if a.effects}


def overrides_of(cfg: WorkspaceConfig, experiment_id: str) -> Mapping[str, Mapping[str, Mapping[str, Any]]]:
    """Arm -> rule id -> overridden fields, as declared."""
    exp = find(cfg, experiment_id)
    return {a.name: a.overrides for a in exp.arms}


__all__ = [
    "REPORT_METRICS",
    "ArmPlan",
    "ArmResult",
    "Effect",
    "ExperimentPlan",
    "ExperimentReport",
    "Interval",
    "check_stops",
    "effects_per_1000",
    "estimate",
    "find",
    "mde_mean",
    "mde_rate",
    "mixture_halfwidth",
    "overrides_of",
    "plan",
    "pre_period_tau2",
    "report",
    "required_per_arm",
    "split",
    "srm_pvalue",
]
