"""Rule evaluation (DESIGN §5), pure: no I/O, no clock.

A :class:`Policy` is compiled once from the workspace config. :meth:`Policy.evaluate`
answers for one candidate given one contact's history; the ledger-backed API in
:mod:`pressure_sdk.workspace` and the arbiter feed it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .config import (
    AttributeMax,
    CapRule,
    Filter,
    GapRule,
    HoursRule,
    QuietRule,
    WorkspaceConfig,
)
from .holidays import holiday
from .models import CLIENT_WIDE, Candidate, CountedTouch, Reason
from .presets import CONSENT_AT, CONSENT_SOURCE, CONTRACT, REGION
from .scoring import assign, score_lookback
from .timeutil import WEEKDAYS, calendar_period, format_duration, local_weekday_minute, parse_instant, to_iso

_DAY = 86400


@dataclass(slots=True, frozen=True)
class Match:
    """A compiled :class:`~pressure_sdk.config.Filter`; ``None`` means any."""

    channels: frozenset[str] | None
    families: frozenset[str] | None
    brands: frozenset[str] | None

    @classmethod
    def of(cls, f: Filter) -> Match:
        """Compile a config filter."""

        def s(v: list[str] | None) -> frozenset[str] | None:
            return None if v is None else frozenset(v)

        return cls(s(f.channels), s(f.families), s(f.brands))

    def __call__(self, channel: str | None, brand: str | None, family: str | None) -> bool:
        return (
            (self.channels is None or channel in self.channels)
            and (self.families is None or family in self.families)
            and (self.brands is None or brand in self.brands)
        )


@dataclass(slots=True)
class ContactState:
    """What the policy needs to know about one contact besides its touches.

    ``tier`` and ``capital``, when given, are used as they are. With ``derive_scores``
    the policy computes them at each candidate's time from ``first_seen`` and
    ``engagements`` instead (DESIGN §6.8: scores are a function of the ledger and the
    evaluation time), so a decision sees an incident recorded a second ago.
    """

    timezone: str
    tier: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    paused_until: int | None = None
    #: consent log (at, channel, brand or '*' for client-wide, status), ascending; status is
    #: 'unsubscribed', 'complained' or 'subscribed'
    consent: Sequence[tuple[int, str, str, str]] = ()
    #: (at, type, channel, brand, product), ascending
    engagements: Sequence[tuple[int, str, str | None, str | None, str | None]] = ()
    capital: float | None = None
    first_seen: int | None = None
    derive_scores: bool = False
    #: scores already derived, per evaluation time
    scored: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: the contact's own zone, when known (``timezone`` falls back to the workspace's);
    #: an hours rule with its own ``timezone`` uses that one for contacts without
    contact_timezone: str | None = None
    #: when each of the contact's numbers was put on the opposition list (epoch seconds)
    oppositions: Sequence[int] = ()
    #: the contact's value segment (:mod:`pressure_sdk.value`), for rules that target segments;
    #: None when no rule does (a contact that never bought is a ``prospect``)
    value_segment: str | None = None


@dataclass(slots=True, frozen=True)
class _Compiled:
    rule: CapRule | GapRule | QuietRule | HoursRule
    counts: Match
    applies: Match
    #: the value segments the rule targets (None: every contact)
    segments: frozenset[str] | None = None

    def targets(self, state: ContactState) -> bool:
        """Whether the rule judges this contact (its value segment is one the rule targets)."""
        return self.segments is None or (state.value_segment or "prospect") in self.segments


class Policy:
    """The workspace's families, brands and rules, compiled for evaluation."""

    def __init__(self, cfg: WorkspaceConfig) -> None:
        self.cfg = cfg
        self.families = cfg.families
        self.default_tz = cfg.workspace.timezone
        self.week_start = WEEKDAYS.index(cfg.workspace.week_start)
        self.brand_priority = {b: c.priority for b, c in cfg.brands.items()}
        self.brand_group = {b: c.group for b, c in cfg.brands.items()}
        self.client_of = {b: cfg.client_of_brand(b) for b in cfg.brands}
        self.consent_scope = {b: cfg.consent_scope(b) for b in cfg.brands}
        rules = cfg.all_rules
        self.rules = [
            _Compiled(
                r,
                Match.of(r.count_filter()),
                self._applies(r),
                None if r.value_segments is None else frozenset(r.value_segments),
            )
            for r in rules
        ]
        #: some rule targets value segments: contacts' segments must be known to evaluate
        self.uses_value_segments = any(c.segments is not None for c in self.rules)
        self.tolerance = cfg.tolerance
        self.tiers = cfg.tiers
        self.scoring = cfg.scoring
        #: how far back engagements matter to a contact's scores
        self.score_lookback = score_lookback(cfg.tiers, cfg.tolerance)
        spans = [0]
        for r in rules:
            if isinstance(r, CapRule):
                spans.append(r.window or 0)
                if r.calendar:
                    spans.append({"day": 2, "week": 8, "month": 32}[r.calendar] * _DAY)
            elif isinstance(r, GapRule):
                spans.append(r.min_gap)
        #: how far history must reach on each side of a candidate
        self.lookback = max(spans)
        quiet = [r.for_ for r in rules if isinstance(r, QuietRule)]
        #: how far back engagements matter
        self.quiet_lookback = max(quiet, default=0)
        self.quiet_types = frozenset(t for r in rules if isinstance(r, QuietRule) for t in r.after)

    def _applies(self, r: CapRule | GapRule | QuietRule | HoursRule) -> Match:
        """The rule's applies filter; a rule of one client applies to that client's brands only."""
        m = Match.of(r.apply_filter())
        if r.client is None:
            return m
        mine = frozenset(b for b, c in self.client_of.items() if c == r.client)
        return Match(m.channels, m.families, mine if m.brands is None else m.brands & mine)

    # -- scores -------------------------------------------------------------------

    def scores(self, state: ContactState, t: int) -> tuple[str | None, float | None]:
        """The contact's tier and tolerance capital at ``t``."""
        if not state.derive_scores:
            return state.tier, state.capital
        got = state.scored.get(t)
        if got is None:
            events = [(at, typ) for at, typ, *_ in state.engagements if at <= t]
            s = assign(state.first_seen, events, t, self.tiers, self.scoring, self.tolerance)
            got = state.scored[t] = (s.tier, s.capital)
        return got

    # -- families and brands ----------------------------------------------------

    def is_exempt(self, family: str) -> bool:
        """An exempt family is never blocked (and always counted)."""
        f = self.families.get(family)
        return bool(f and f.exempt)

    def weight(self, family: str, weight: float | None = None) -> float:
        """A touch's weight: its own, else its family's default (1 for an unknown family)."""
        if weight is not None:
            return weight
        f = self.families.get(family)
        return f.weight if f else 1.0

    def family_priority(self, family: str) -> int:
        """The family's priority (0 for an unknown family); higher goes first."""
        f = self.families.get(family)
        return f.priority if f else 0

    def same_scope(self, scope: str, brand: str, other: str) -> bool:
        """Whether a touch by ``other`` falls in the ``scope`` (brand, group or all) of ``brand``."""
        if scope == "all":
            return True
        if scope == "group":
            g = self.brand_group.get(brand)
            if g is not None:
                return self.brand_group.get(other) == g
        return brand == other

    def counted(
        self, touches: Sequence[tuple[int, str, str, str, float | None]], planned: bool = False
    ) -> list[CountedTouch]:
        """History rows ``(at, channel, brand, family, weight)`` as weighted touches."""
        w = self.weight
        return [CountedTouch(at, ch, br, fa, w(fa, wt), planned) for at, ch, br, fa, wt in touches]

    # -- evaluation -------------------------------------------------------------

    def evaluate(
        self,
        cand: Candidate,
        state: ContactState,
        history: Sequence[CountedTouch],
        *,
        plan: bool = False,
        skip_hours: bool = False,
    ) -> list[Reason]:
        """Reasons that block ``cand``; empty when it is allowed.

        ``history`` is sorted by time. In a real-time decision (``plan=False``) only
        touches at or before the candidate count; in a plan, accepted planned sends on
        both sides of its time count too.
        """
        if self.is_exempt(cand.family):
            return []
        reasons: list[Reason] = []
        t = cand.at
        reasons.extend(self._consent(cand, state))
        if cand.channel == "call" and state.oppositions:
            reason = self.opposition(state, t)
            if reason:
                reasons.append(reason)
        if state.paused_until is not None and state.paused_until > t:
            reasons.append(
                Reason(
                    "pause",
                    "consent",
                    f"consent: contact paused until {_day(state.paused_until, state.timezone)}",
                    until=state.paused_until,
                )
            )
        tol = self.tolerance
        tier, capital = self.scores(state, t)
        if tol.enabled and capital is not None and capital < tol.threshold and cand.family in tol.blocks:
            reasons.append(
                Reason(
                    "tolerance",
                    "tolerance",
                    f"tolerance: capital {capital:g} below {tol.threshold:g}; contact flagged for care",
                    counted=capital,
                    limit=tol.threshold,
                )
            )
        w = self.weight(cand.family, cand.weight)
        if not plan:
            # real time: the past only
            history = history[: bisect.bisect_right(history, t, key=_at)]
        for c in self.rules:
            if not c.applies(cand.channel, cand.brand, cand.family) or not c.targets(state):
                continue
            r = c.rule
            if r.lifted_by is not None and self.lifted(r.lifted_by, r.lifted_evidence, state, t):
                continue
            if isinstance(r, CapRule):
                reasons.extend(self._cap(c, r, cand, w, state, history, plan))
            elif isinstance(r, GapRule):
                reason = self._gap(c, r, cand, history)
                if reason:
                    reasons.append(reason)
            elif isinstance(r, QuietRule):
                reason = self._quiet(c, r, cand, state)
                if reason:
                    reasons.append(reason)
            elif isinstance(r, HoursRule) and not skip_hours:
                reason = self._hours(r, t, self.hours_zone(r, state), state.attributes.get(REGION))
                if reason:
                    reasons.append(reason)
        return reasons

    def hours_zone(self, r: HoursRule, state: ContactState) -> str:
        """The zone an hours rule reads a contact's time in: its own, else the rule's, else the workspace's."""
        if state.contact_timezone:
            return state.contact_timezone
        return r.timezone or state.timezone

    def lifted(self, attribute: str, evidence: str | None, state: ContactState, t: int) -> bool:
        """Whether the contact's ``attribute`` holds a date at or before ``t`` (and ``evidence`` is non-empty)."""
        since = consent_since(state.attributes, attribute, evidence, state.timezone)
        return since is not None and since <= t

    def opposition(self, state: ContactState, t: int) -> Reason | None:
        """A number of the contact on the opposition list blocks prospecting calls (client-wide consent).

        An ongoing contract (the ``ongoing_contract`` attribute) keeps the contact callable;
        so does an express consent to calls dated at or after the listing (and before ``t``).
        """
        listed = max((at for at in state.oppositions if at <= t), default=None)
        if listed is None or truthy(state.attributes.get(CONTRACT)):
            return None
        consent = consent_since(state.attributes, CONSENT_AT, CONSENT_SOURCE, state.timezone)
        if consent is not None and listed <= consent <= t:
            return None
        return Reason(
            "opposition",
            "consent",
            f"consent: number on the opposition list (Bloctel) since {_day(listed, state.timezone)}; "
            "no ongoing contract, no express consent to calls since (Code de la consommation, art. L223-1)",
        )

    def _consent(self, cand: Candidate, state: ContactState) -> list[Reason]:
        """Opt-outs in force at the candidate's time: its brand's consent scope, then client-wide (DESIGN §5)."""
        t, channel = cand.at, cand.channel
        scope = self.consent_scope.get(cand.brand, cand.brand)
        mine: tuple[int, bool, str, str] | None = None
        wide: tuple[int, bool, str, str] | None = None
        for at, ch, brand, status in state.consent:
            if at > t or ch != channel:
                continue
            # the latest change wins; at the same instant an opt-out wins over a resubscription
            key = (at, status != "subscribed", brand, status)
            if brand == CLIENT_WIDE:
                if wide is None or key > wide:
                    wide = key
            elif self.consent_scope.get(brand, brand) == scope and (mine is None or key > mine):
                mine = key
        out: list[Reason] = []
        if mine is not None and mine[3] != "subscribed":
            word = "unsubscribed from" if mine[3] == "unsubscribed" else "complained about"
            shared = f" (consent scope {scope})" if scope != mine[2] or scope != cand.brand else ""
            out.append(
                Reason(
                    "consent",
                    "consent",
                    f"consent: {word} {channel} from {mine[2]}{shared} on {_day(mine[0], state.timezone)}",
                )
            )
        if wide is not None and wide[3] != "subscribed":
            out.append(
                Reason(
                    "consent",
                    "consent",
                    f"consent: do not contact by {channel} (every brand of the client) since "
                    f"{_day(wide[0], state.timezone)}",
                )
            )
        return out

    def limit(self, r: CapRule, state: ContactState, t: int | None = None) -> tuple[float, str]:
        """The contact's limit under cap ``r`` (at ``t`` for a tier table), and where it came from."""
        m = r.max
        if isinstance(m, AttributeMax):
            v = state.attributes.get(m.attribute)
            try:
                x = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                x = math.nan
            # NaN would never block and a negative or infinite frequency means nothing
            if math.isfinite(x) and x >= 0:
                return x, f"{m.attribute}={v}"
            return m.fallback, f"{m.attribute} fallback"
        if isinstance(m, dict):
            tier = (state.tier if t is None else self.scores(state, t)[0]) or "default"
            if tier in m:
                return m[tier], f"tier {tier}"
            return m["default"], f"tier {tier}: default"
        return float(m), ""

    def _cap(
        self,
        c: _Compiled,
        r: CapRule,
        cand: Candidate,
        w: float,
        state: ContactState,
        history: Sequence[CountedTouch],
        plan: bool,
    ) -> list[Reason]:
        t = cand.at
        scope, brand = r.scope, cand.brand
        counted = [
            h for h in history if c.counts(h.channel, h.brand, h.family) and self.same_scope(scope, brand, h.brand)
        ]
        limit, why = self.limit(r, state, t)
        where = r.scope_name or (
            f"{r.scope} {self.brand_group.get(brand) or brand}"
            if r.scope == "group"
            else (f"brand {brand}" if r.scope == "brand" else "all brands")
        )
        extra = f", {why}" if why else ""
        title = r.label or f"cap:{r.id}"
        cite = f"; {r.reference}" if r.reference else ""
        out: list[Reason] = []
        if r.window is not None:
            W = r.window
            ends = [t]
            if plan:
                lo = bisect.bisect_right(counted, t, key=_at)
                hi = bisect.bisect_left(counted, t + W, key=_at)
                ends += [h.at for h in counted[lo:hi]]
            worst, worst_end = -1.0, t
            for e in ends:
                s = sum(h.weight for h in counted if e - W < h.at <= e)
                if s > worst:
                    worst, worst_end = s, e
            if limit <= 0 or worst + w > limit:
                inside = tuple(h for h in counted if worst_end - W < h.at <= worst_end)
                out.append(
                    Reason(
                        r.id,
                        "cap",
                        f"{title} {worst:g}/{limit:g} in {format_duration(W)} ({where}{extra}{cite})",
                        counted=worst,
                        limit=limit,
                        until=None if plan else _cap_release(inside, W, w, limit, t),
                        touches=inside,
                    )
                )
        if r.calendar is not None:
            tz = state.timezone
            start, end = calendar_period(t, r.calendar, tz, self.week_start)
            stop = end if plan else t + 1
            inside = tuple(h for h in counted if start <= h.at < stop)
            s = sum(h.weight for h in inside)
            if limit <= 0 or s + w > limit:
                out.append(
                    Reason(
                        r.id,
                        "cap",
                        f"{title} {s:g}/{limit:g} this {r.calendar} from {_day(start, tz)} ({where}{extra}{cite})",
                        counted=s,
                        limit=limit,
                        until=None if limit < w else end,
                        touches=inside,
                    )
                )
        return out

    def _gap(self, c: _Compiled, r: GapRule, cand: Candidate, history: Sequence[CountedTouch]) -> Reason | None:
        t, g = cand.at, r.min_gap
        near = [
            h
            for h in history
            if abs(h.at - t) < g
            and c.counts(h.channel, h.brand, h.family)
            and self.same_scope(r.scope, cand.brand, h.brand)
        ]
        if not near:
            return None
        closest = min(near, key=lambda h: abs(h.at - t))
        last_past = max((h.at for h in near if h.at <= t), default=None)
        ago = format_duration(abs(t - closest.at)) if closest.at != t else "0s"
        side = "ago" if closest.at <= t else "later"
        return Reason(
            r.id,
            "gap",
            f"gap:{r.id} a {closest.family} {closest.channel} touch {ago} {side}, min gap {format_duration(g)}",
            counted=float(len(near)),
            until=None if last_past is None else last_past + g,
            touches=tuple(near),
        )

    def _quiet(self, c: _Compiled, r: QuietRule, cand: Candidate, state: ContactState) -> Reason | None:
        t = cand.at
        after = r.after
        # Events carry a channel and a brand but no family: only those filters apply to
        # them, and an event that does not say its channel or brand matches any.
        only = r.counts
        hit = None
        for at, typ, ch, br, product in state.engagements:
            if at > t or t - at >= r.for_ or typ not in after:
                continue
            if only is not None and (
                (ch is not None and only.channels is not None and ch not in only.channels)
                or (br is not None and only.brands is not None and br not in only.brands)
            ):
                continue
            if br is not None and not self.same_scope(r.scope, cand.brand, br):
                continue
            if r.match == "product" and (cand.product is None or product != cand.product):
                continue
            if hit is None or at > hit[0]:
                hit = (at, typ, product)
        if hit is None:
            return None
        at, typ, product = hit
        what = f"{typ} of {product}" if r.match == "product" else typ
        if r.label:
            who = f" ({r.scope_name})" if r.scope_name else ""
            cite = f"; {r.reference}" if r.reference else ""
            message = (
                f"{r.label} {what} on {_day(at, state.timezone)}{who}: no new call before "
                f"{_day(at + r.for_, state.timezone)} (60 full days{cite})"
            )
        else:
            message = f"quiet:{r.id} {what} on {_day(at, state.timezone)}, quiet for {format_duration(r.for_)}"
        return Reason(r.id, "quiet", message, until=at + r.for_)

    def _hours(self, r: HoursRule, t: int, tz: str, region: object = None) -> Reason | None:
        from datetime import datetime

        from .timeutil import zone

        day, minute = local_weekday_minute(t, tz)
        region_s = None if region is None else str(region)
        feast = holiday(r.holidays, region_s, datetime.fromtimestamp(t, zone(tz)).date()) if r.holidays else None
        if feast is None:
            for win in r.allowed:
                s, e = win.minutes()
                if WEEKDAYS[day] in win.days and s <= minute < e:
                    return None
        title = r.label or f"hours:{r.id}"
        # the date matters once holidays do
        date_s = f" {_day(t, tz)}" if r.holidays or r.label else ""
        when = f"{WEEKDAYS[day].capitalize()}{date_s} {minute // 60:02d}:{minute % 60:02d} ({tz})"
        if feast is not None:
            why = f"is a public holiday ({feast})"
        else:
            why = "is outside the allowed hours"
        if r.label:
            if len({tuple(w.days) for w in r.allowed}) == 1:
                windows = f"{_days(r.allowed[0].days)} " + " and ".join(f"{w.start}-{w.end}" for w in r.allowed)
            else:
                windows = " and ".join(f"{_days(w.days)} {w.start}-{w.end}" for w in r.allowed)
            why += f"; calls {windows}" + (", never on public holidays" if r.holidays else "")
            if r.reference:
                why += f" ({r.reference})"
        return Reason(r.id, "hours", f"{title} {when} {why}", until=self._next_open(r, t, tz, region_s))

    def _next_open(self, r: HoursRule, t: int, tz: str, region: str | None = None) -> int | None:
        # Minute steps would be exact but slow; window starts are the only candidates.
        from datetime import datetime, timedelta

        from .timeutil import zone

        z = zone(tz)
        local = datetime.fromtimestamp(t, z)
        best: int | None = None
        # a week plus the longest run of holidays next to a weekend
        for offset in range(0, 15):
            d = (local + timedelta(days=offset)).date()
            if r.holidays and holiday(r.holidays, region, d) is not None:
                continue
            for win in r.allowed:
                if WEEKDAYS[d.weekday()] not in win.days:
                    continue
                s, _ = win.minutes()
                start = int(datetime(d.year, d.month, d.day, s // 60, s % 60, tzinfo=z).timestamp())
                if start > t and (best is None or start < best):
                    best = start
            if best is not None:
                return best
        return best

    def next_allowed(
        self,
        cand: Candidate,
        state: ContactState,
        history: Sequence[CountedTouch],
        reasons: list[Reason],
    ) -> int | None:
        """When the contact would next be allowed this candidate, if nothing else is sent."""
        t = cand.at
        for _ in range(16):
            if not reasons:
                return t
            untils = [r.until for r in reasons]
            if any(u is None for u in untils):
                return None
            t = max(max(u for u in untils if u is not None), t + 1)
            moved = replace(cand, at=t)
            reasons = self.evaluate(moved, state, history)
        return None


def _at(h: CountedTouch | int) -> int:
    return h if isinstance(h, int) else h.at


def _cap_release(inside: Sequence[CountedTouch], window: int, w: float, limit: float, t: int) -> int | None:
    """Earliest time the rolling window has room for ``w``, if nothing else is sent."""
    if limit < w or limit <= 0:
        return None
    s = sum(h.weight for h in inside)
    for h in sorted(inside, key=_at):
        if s + w <= limit:
            break
        s -= h.weight
        t = h.at + window
    return t


def _days(days: Sequence[str]) -> str:
    """``Mon-Fri`` for consecutive weekdays, else ``Mon/Wed``."""
    idx = sorted(WEEKDAYS.index(d) for d in days)
    if len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{WEEKDAYS[idx[0]].capitalize()}-{WEEKDAYS[idx[-1]].capitalize()}"
    return "/".join(WEEKDAYS[i].capitalize() for i in idx)


def truthy(value: object) -> bool:
    """Whether a contact attribute says yes (``true``, ``yes``, ``oui``, ``1``, a non-zero number)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "y", "oui", "o", "x"}


def consent_since(attributes: dict[str, Any], attribute: str, evidence: str | None, tz: str) -> int | None:
    """The instant a date attribute names (a day alone is its local midnight), or None.

    None when it is missing or not a date, or when ``evidence`` names an attribute that is
    empty: a consent the professional cannot prove is no consent.
    """
    v = attributes.get(attribute)
    if v is None or (evidence is not None and not str(attributes.get(evidence) or "").strip()):
        return None
    try:
        return parse_instant(str(v), tz)
    except (ValueError, OverflowError, OSError):
        return None


def _day(ts: int, tz: str) -> str:
    return (to_iso(ts, tz) or "")[:10]
