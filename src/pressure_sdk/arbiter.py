"""Priority arbitration of competing candidates (DESIGN §5, Arbitration), pure."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .models import Candidate, CountedTouch, Decision
from .policy import ContactState, Policy


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
    order = sorted(range(len(candidates)), key=lambda i: priority_key(policy, candidates[i]))
    for i in order:
        c = candidates[i]
        exempt = policy.is_exempt(c.family)
        reasons = [] if exempt else policy.evaluate(c, state, hist, plan=True)
        if reasons:
            decided[i] = Decision(c, False, tuple(reasons), None, exempt)
            continue
        decided[i] = Decision(c, True, (), c.at, exempt)
        planned = CountedTouch(c.at, c.channel, c.brand, c.family, policy.weight(c.family, c.weight), True)
        bisect.insort(hist, planned, key=lambda h: h.at)
    return [decided[i] for i in range(len(candidates))]
