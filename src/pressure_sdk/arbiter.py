"""Priority arbitration of competing candidates (DESIGN §5, Arbitration), pure."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .config import CapRule, GapRule
from .models import Candidate, CountedTouch, Decision, Reason
from .policy import ContactState, Policy
from .timeutil import to_iso

_DAY = 86400
#: the longest a calendar period can last (a DST hour included), rounded up
_CALENDAR_SPAN = {"day": 2 * _DAY, "week": 8 * _DAY, "month": 32 * _DAY}


def priority_key(policy: Policy, c: Candidate) -> tuple[object, ...]:
    """Exempt first, then family priority, brand priority, value (all high first), time, id."""
    return (
        not policy.is_exempt(c.family),
        -policy.family_priority(c.family),
        -policy.brand_priority.get(c.brand, 0),
        -c.value,
        c.at,
        c.candidate_id,
    )


def arbitrate(
    policy: Policy,
    state: ContactState,
    history: Sequence[CountedTouch],
    candidates: Sequence[Candidate],
) -> list[Decision]:
    """Decide one contact's candidates; decisions come back in the input order.

    Candidates are taken in priority order. One is accepted when no rule blocks it given
    history plus the sends accepted so far (on both sides of its time), and when it
    would not push an accepted send over a cap or a gap that applies to that send.
    Hence (DESIGN §5) every accepted non-exempt candidate stays allowed given history
    plus every other accepted send, and a candidate is rejected only when accepting it
    would break that, its reasons naming the accepted sends involved.
    """
    hist = sorted(history, key=lambda h: h.at)
    tz = state.timezone
    decided: dict[int, Decision] = {}
    #: accepted non-exempt candidates and the planned touch each added to ``hist``
    accepted: list[tuple[Candidate, CountedTouch]] = []
    order = sorted(range(len(candidates)), key=lambda i: priority_key(policy, candidates[i]))
    for i in order:
        c = candidates[i]
        exempt = policy.is_exempt(c.family)
        planned = CountedTouch(c.at, c.channel, c.brand, c.family, policy.weight(c.family, c.weight), True)
        reasons: list[Reason] = []
        if not exempt:
            reasons = [_naming_planned(r, tz) for r in policy.evaluate(c, state, hist, plan=True)]
            if not reasons:
                reasons = _overfills(policy, state, hist, c, planned, accepted)
        if reasons:
            decided[i] = Decision(c, False, tuple(reasons), None, exempt)
            continue
        decided[i] = Decision(c, True, (), c.at, exempt)
        bisect.insort(hist, planned, key=lambda h: h.at)
        if not exempt:
            accepted.append((c, planned))
    return [decided[i] for i in range(len(candidates))]


def _send(t: CountedTouch | Candidate, tz: str) -> str:
    return f"the accepted {t.family} {t.channel} send at {to_iso(t.at, tz)}"


def _naming_planned(r: Reason, tz: str) -> Reason:
    """``r``, its message naming the accepted planned sends among the touches it counted."""
    planned = [t for t in r.touches if t.planned]
    if r.kind not in ("cap", "gap") or not planned:
        return r
    names = ", ".join(_send(t, tz) for t in planned)
    return Reason(
        r.rule_id,
        r.kind,
        f"{r.message} including {names}",
        counted=r.counted,
        limit=r.limit,
        until=r.until,
        touches=r.touches,
    )


def _reach(rule: CapRule | GapRule) -> int:
    """Two touches further apart than this never meet in one of ``rule``'s windows."""
    if isinstance(rule, GapRule):
        return rule.min_gap
    return max(rule.window or 0, _CALENDAR_SPAN[rule.calendar] if rule.calendar else 0)


def _overfills(
    policy: Policy,
    state: ContactState,
    hist: list[CountedTouch],
    cand: Candidate,
    planned: CountedTouch,
    accepted: Sequence[tuple[Candidate, CountedTouch]],
) -> list[Reason]:
    """Reasons ``cand`` would push an already accepted send over one of that send's caps or gaps.

    Evaluating ``cand`` checked the rules that apply to *it*. Each accepted send is judged
    by the rules that apply to *that send*, which may count ``cand`` with other filters,
    another scope or another weight (a cap that counts SMS and applies to email; a gap
    that counts SMS but not email). For every rule that counts ``cand`` and applies to an
    accepted send in the same scope and within the rule's reach, the send is evaluated
    without and with ``cand``; ``cand`` is blamed only for the rules that block the send
    with it and not without it. Hours, quiet and consent rules do not depend on other sends.
    """
    ch, br, fa, t = cand.channel, cand.brand, cand.family, cand.at
    guards = [
        (k, k.rule, _reach(k.rule))
        for k in policy.rules
        if isinstance(k.rule, CapRule | GapRule) and k.counts(ch, br, fa)
    ]
    if not guards:
        return []
    out: list[Reason] = []
    for other, mine in accepted:
        near = [
            (rule.id, reach)
            for k, rule, reach in guards
            if abs(other.at - t) < reach
            and k.applies(other.channel, other.brand, other.family)
            and policy.same_scope(rule.scope, other.brand, br)
        ]
        if not near:
            continue
        ids = {rid for rid, _ in near}
        span = max(reach for _, reach in near)
        lo = bisect.bisect_left(hist, other.at - span, key=lambda h: h.at)
        hi = bisect.bisect_right(hist, other.at + span, key=lambda h: h.at)
        # the other's own planned touch must not count against itself
        without = [h for h in hist[lo:hi] if h is not mine]
        trial = list(without)
        bisect.insort(trial, planned, key=lambda h: h.at)
        after = [
            r
            for r in policy.evaluate(other, state, trial, plan=True, skip_hours=True)
            if r.rule_id in ids and r.kind in ("cap", "gap")
        ]
        if not after:
            continue
        before = {r.rule_id for r in policy.evaluate(other, state, without, plan=True, skip_hours=True)}
        for r in after:
            if r.rule_id in before:
                continue
            out.append(
                Reason(
                    r.rule_id,
                    r.kind,
                    f"{r.message} for {_send(other, state.timezone)}",
                    counted=r.counted,
                    limit=r.limit,
                    touches=r.touches,
                )
            )
    return out
