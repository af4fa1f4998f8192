"""What a ledger holds, read through its interface (``LedgerAPI``) on either backend.

Tests compare ledgers with this rather than with SQL of their own: it sees what the SDK
sees. Contacts appear by client and email, never by id (ids depend on the order contacts
came in, which is not content).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

#: every touch and engagement of a contact: ``(EVER, FOREVER]`` holds every date the tests
#: make (2023 to 2030: a window's reads seek each of its 6-day buckets on SQLite)
EVER, FOREVER = 1_700_000_000, 1_900_000_000


def snapshot(led: Any, accounts: Iterable[str] = (), *, consent_times: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's content as the interface shows it, rows sorted: contacts (time zone, pause,
    attributes, first seen), touches, engagements, consent changes, the external ids of
    ``accounts`` and the members of each list the platforms confirmed. Without
    ``consent_times``, consent changes leave out their time."""
    out: dict[str, list[tuple[Any, ...]]] = {
        k: [] for k in ("contacts", "touches", "engagements", "consent", "identities", "lists")
    }
    email_of: dict[int, tuple[str, str]] = {}
    for c in led.iter_contacts():
        who = email_of[c.id] = (c.client, c.email)
        attributes = json.dumps(c.attributes, sort_keys=True)
        out["contacts"].append((*who, c.timezone, c.paused_until, attributes, c.first_seen))
        out["touches"] += [(*who, *t) for t in led.touches_of(c.id, EVER, FOREVER)]
        out["engagements"] += [(*who, *e) for e in led.engagements_of(c.id, EVER, FOREVER)]
        out["consent"] += [(*who, *(k if consent_times else k[1:])) for k in led.consent_of(c.id)]
    for account in accounts:
        members = led.members(account, led.account_contacts(account))
        out["identities"] += [(account, *email_of[m.contact_id], m.external_id) for m in members]
    for account, name, _size in led.list_sizes():
        members = led.members(account, led.list_members(account, name))
        out["lists"] += [(account, name, m.email) for m in members]
    return {k: sorted(v, key=repr) for k, v in out.items()}
