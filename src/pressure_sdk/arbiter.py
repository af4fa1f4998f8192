"""Priority arbitration of competing candidates (DESIGN §5, Arbitration), pure."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .config import CapRule, GapRule
from .models import Candidate, CountedTouch, Decision, Reason
from .policy import ContactState, Policy
from .timeutil import to_iso


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

    Accepted candidates count against the ones considered after them, on both sides of
    their time, so no window or calendar period that holds an accepted non-exempt
    candidate ends up over a cap that applies to it.
    """
    hist = sorted(history, key=lambda h: h.at)
    decided: dict[int, Decision] = {}
    #: accepted non-exempt candidates and the planned touch each added to ``hist``
    accepted: list[tuple[Candidate, CountedTouch]] = []
    order = sorted(range(len(candidates)), key=lambda i: priority_key(policy, candidates[i]))
    for i in order:
        c = candidates[i]
        exempt = policy.is_exempt(c.family)
        planned = CountedTouch(c.at, c.channel, c.brand, c.family, policy.weight(c.family, c.weight), True)
        reasons = [] if exempt else policy.evaluate(c, state, hist, plan=True)
        if not reasons and not exempt:
            reasons = _overfills(policy, state, hist, c, planned, accepted)
        if reasons:
            decided[i] = Decision(c, False, tuple(reasons), None, exempt)
            continue
        decided[i] = Decision(c, True, (), c.at, exempt)
        bisect.insort(hist, planned, key=lambda h: h.at)
        if not exempt:
            accepted.append((c, planned))
    return [decided[i] for i in range(len(candidates))]


def _overfills(
    policy: Policy,
    state: ContactState,
    hist: list[CountedTouch],
    cand: Candidate,
    planned: CountedTouch,
    accepted: Sequence[tuple[Candidate, CountedTouch]],
) -> list[Reason]:
    """Reasons ``cand`` would push an already accepted candidate over one of its caps or gaps.

    A rule that applies to ``cand`` already checked every window around it. A rule that
    only *counts* it (e.g. counts email and sms, applies to email) did not, yet the send
    would fill the windows of earlier-accepted candidates it applies to: re-check those.
    """
    ch, br, fa = cand.channel, cand.brand, cand.family
    guards = [
        k
        for k in policy.rules
        if isinstance(k.rule, CapRule | GapRule) and k.counts(ch, br, fa) and not k.applies(ch, br, fa)
    ]
    if not guards:
        return []
    ids = {k.rule.id for k in guards}
    out: list[Reason] = []
    for other, mine in accepted:
        if not any(k.applies(other.channel, other.brand, other.family) for k in guards):
            continue
        # the other's own planned touch must not count against itself
        trial = [h for h in hist if h is not mine]
        bisect.insort(trial, planned, key=lambda h: h.at)
        for r in policy.evaluate(other, state, trial, plan=True, skip_hours=True):
            if r.rule_id in ids and r.kind in ("cap", "gap") and r.rule_id not in {o.rule_id for o in out}:
                when = to_iso(other.at, state.timezone)
                out.append(
                    Reason(
                        r.rule_id,
                        r.kind,
                        f"{r.message} for the accepted {other.family} {other.channel} send at {when}",
                        counted=r.counted,
                        limit=r.limit,
                        touches=r.touches,
                    )
                )
    return out
