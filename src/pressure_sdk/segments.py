"""Suppression lists: who a standard candidate of each list's kind would be blocked for now.

One streaming pass over the ledger: contacts (with the accounts they belong to), the
touch window and the engagement window are merged in contact-id order, so memory stays
bounded whatever the ledger's size. Sending-hours rules are left out: a list is used for
sends at times the platform chooses, and hours would empty or fill it with the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .config import AccountConfig, AttributeMax, CapRule, ListConfig
from .ledger import Ledger, group_by_contact
from .models import Candidate
from .policy import ContactState, Policy
from .state import contact_state


@dataclass(slots=True, frozen=True)
class ListKey:
    account: str
    list: str


def list_candidate(account: AccountConfig, lst: ListConfig, now: int) -> Candidate:
    """The standard candidate a list stands for."""
    brand = lst.brand or account.brand or ""
    return Candidate("", lst.channel, brand, lst.family, now, None, f"list:{lst.name}", 0.0, lst.product)


def compute_lists(
    ledger: Ledger, policy: Policy, accounts: Sequence[AccountConfig], now: int
) -> dict[ListKey, set[int]]:
    """The desired members of every list of ``accounts``, as contact ids."""
    templates: dict[str, list[tuple[ListKey, Candidate]]] = {
        a.name: [(ListKey(a.name, lst.name), list_candidate(a, lst, now)) for lst in a.lists] for a in accounts
    }
    out: dict[ListKey, set[int]] = {k: set() for ts in templates.values() for k, _ in ts}
    if not out:
        return out
    attrs = sorted({r.max.attribute for r in policy.cfg.rules if isinstance(r, CapRule) and isinstance(r.max, AttributeMax)})
    consent = ledger.consent_all()
    since = now - policy.lookback
    touches = group_by_contact(ledger.scan_touches(since, now))
    engaged = group_by_contact(ledger.scan_engagements(now - policy.quiet_lookback, now, policy.quiet_types)) if policy.quiet_types else iter(())
    t_cur = next(touches, None)
    e_cur = next(engaged, None)
    blank: dict[tuple[object, ...], bool] = {}
    for contact, member_of in ledger.iter_contacts_with_accounts():
        cid = contact.id
        while t_cur is not None and t_cur[0] < cid:
            t_cur = next(touches, None)
        while e_cur is not None and e_cur[0] < cid:
            e_cur = next(engaged, None)
        rows = t_cur[1] if t_cur is not None and t_cur[0] == cid else []
        events = e_cur[1] if e_cur is not None and e_cur[0] == cid else []
        mine = [(k, cand) for a in member_of for k, cand in templates.get(a, ())]
        if not mine:
            continue
        state = contact_state(contact, policy.default_tz, consent.get(cid), events)
        quiet_contact = not rows and not events and cid not in consent and not _special(state, policy, now)
        history = policy.counted(rows) if rows else []
        for key, cand in mine:
            if quiet_contact:
                # Without history the answer depends only on tier and chosen frequency.
                memo = (key, state.tier, tuple(state.attributes.get(a) for a in attrs))
                blocked = blank.get(memo)
                if blocked is None:
                    blocked = bool(policy.evaluate(cand, state, (), skip_hours=True))
                    blank[memo] = blocked
            else:
                blocked = bool(policy.evaluate(cand, state, history, skip_hours=True))
            if blocked:
                out[key].add(cid)
    return out


def _special(state: ContactState, policy: Policy, now: int) -> bool:
    tol = policy.tolerance
    return (state.paused_until is not None and state.paused_until > now) or (
        tol.enabled and state.capital is not None and state.capital < tol.threshold
    )


__all__ = ["ListKey", "compute_lists", "list_candidate"]
