"""Phone identities in a batch: which contact each number's events belong to.

Shared by both ledgers, which answer two questions in their own SQL: who holds these
numbers now (``owners``) and which phone-only contacts were erased (``erased``). A number
belongs to one contact per client: the first one it was seen with. An event or contact row
that names a number and no email goes to that contact, or to a phone-only contact
(``tel:+…``) when nobody holds the number yet. A row with both an email and a number links
them; when the number was held by a phone-only contact, that contact is merged into the
email's (its touches, engagements, consent and identities move over).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..models import Batch, Engagement, Touch, normalize_email
from ..phones import is_phone_key, phone_key


@dataclass(slots=True)
class PhonePlan:
    """What a batch does to phone identities, once its contacts exist."""

    #: (contact key, E.164) to record (a number already held stays with its holder)
    links: list[tuple[str, str]] = field(default_factory=list)
    #: (phone-only contact key, contact key it merges into)
    merges: list[tuple[str, str]] = field(default_factory=list)


def _phones_of(batch: Batch) -> Iterable[tuple[str, str | None]]:
    """(email as given, number) of every row of the batch that names a number."""
    for t in batch.touches:
        if t.phone:
            yield t.email, t.phone
    for e in batch.engagements:
        if e.phone:
            yield e.email, e.phone
    for c in batch.contacts:
        for p in c.phones:
            yield c.email, p


def route_phones(
    batch: Batch,
    owners: Callable[[list[str]], dict[str, str]],
    erased: Callable[[list[str]], set[str]],
) -> tuple[Batch, PhonePlan]:
    """The batch with each phone-only row keyed by its contact, and the phone identities to write.

    ``owners(numbers)`` gives the contact key holding each number (those held);
    ``erased(keys)`` the phone-only keys that were erased (their numbers are never linked
    again). Rows that name an email keep it.
    """
    plan = PhonePlan()
    pairs = list(_phones_of(batch))
    if not pairs:
        return batch, plan
    numbers = sorted({p for _, p in pairs if p})
    held = owners(numbers)
    dead = erased([phone_key(p) for p in numbers])
    linked: dict[str, str] = {}  # number -> email key this batch links it to (first wins)
    for email, p in pairs:
        if email and p:
            linked.setdefault(p, normalize_email(email))
    final: dict[str, str] = {}
    for p in numbers:
        key = phone_key(p)
        if key in dead:
            final[p] = key  # the ledger skips erased keys: nothing of it comes back
            continue
        owner = held.get(p)
        if owner is not None and is_phone_key(owner) and p in linked:
            plan.merges.append((owner, linked[p]))
            owner = linked[p]
        final[p] = owner or linked.get(p) or key
        if owner is None:
            plan.links.append((final[p], p))

    # built field by field: dataclasses.replace costs ten times more on a 50,000-row batch
    out = Batch(
        touches=[
            t
            if t.email or not t.phone
            else Touch(
                t.event_id, final[t.phone], t.channel, t.brand, t.family, t.at, t.weight, t.campaign, t.product, t.phone
            )
            for t in batch.touches
        ],
        engagements=[
            e
            if e.email or not e.phone
            else Engagement(
                e.event_id, final[e.phone], e.type, e.at, e.channel, e.brand, e.product, e.amount, e.currency, e.phone
            )
            for e in batch.engagements
        ],
        contacts=[c if c.email or not c.phones else replace(c, email=final[c.phones[0]]) for c in batch.contacts],
        state=batch.state,
        oppositions=batch.oppositions,
    )
    return out, plan
