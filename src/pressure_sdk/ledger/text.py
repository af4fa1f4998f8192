"""Text both ledgers can hold: no NUL character.

PostgreSQL's ``text`` and ``jsonb`` refuse ``\\x00``; SQLite would store it. So that both
backends hold the same data, and a run behaves the same on either, both ledgers refuse a
NUL anywhere in the text they would store, before writing anything, with an
:class:`~pressure_sdk.errors.InvalidValueError` that names the account, the event (or
contact) and the field. Stripping it instead would make two events that differ only by a
NUL the same, and would change an email address silently: a NUL in a source's data is a
fault to fix at the source, like an unknown channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from ..errors import InvalidValueError
from ..models import Batch, ContactUpdate, Touch

NUL = "\x00"
_TOUCH_FIELDS = ("email", "channel", "brand", "family", "campaign", "product")
_ENGAGEMENT_FIELDS = ("email", "type", "channel", "brand", "product")
_CONTACT_FIELDS = ("email", "timezone", "external_id", "status", "channel")


def _refuse(where: str, field: str, value: object) -> InvalidValueError:
    msg = (
        f"{where}: {field} {value!r} holds a NUL character (\\x00), which the ledger does not store; "
        "remove it at the source (the export file or the platform's record) and run again"
    )
    return InvalidValueError(msg)


def check_text(value: str | None, where: str) -> None:
    """Raise :class:`InvalidValueError` if ``value`` holds a NUL character."""
    if value and NUL in value:
        msg = f"{where}: {value!r} holds a NUL character (\\x00), which the ledger does not store"
        raise InvalidValueError(msg)


def _nul_in(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_nul_in(k) or _nul_in(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_nul_in(v) for v in value)
    return False


def _scan(kind: str, rows: Sequence[Any], fields: Sequence[str], account: str) -> None:
    for field in fields:
        get = attrgetter(field)
        # one search over the joined column: a batch of 10,000 events costs microseconds
        if NUL not in "".join([get(r) or "" for r in rows]):
            continue
        bad = next(r for r in rows if NUL in (get(r) or ""))
        ident = bad.email if isinstance(bad, ContactUpdate) else bad.event_id
        raise _refuse(f"account {account!r}: {kind} {ident!r}", field, get(bad))


def check_batch(batch: Batch, account: str, *names: str | None) -> None:
    """Refuse a batch holding a NUL in any text a ledger would store, naming where; writes nothing.

    ``names`` are the other values the write stores (client, default brand).
    """
    for name in (account, *names):
        check_text(name, f"account {account!r}")
    _scan("touch", batch.touches, _TOUCH_FIELDS, account)
    _scan("engagement", batch.engagements, _ENGAGEMENT_FIELDS, account)
    if batch.contacts:
        _scan("contact", batch.contacts, _CONTACT_FIELDS, account)
        for c in batch.contacts:
            if _nul_in(c.attributes):
                raise _refuse(f"account {account!r}: contact {c.email!r}", "attributes", c.attributes)


def check_touch(touch: Touch, account: str) -> None:
    """:func:`check_batch` for one touch."""
    _scan("touch", [touch], _TOUCH_FIELDS, account)
    check_text(account, f"account {account!r}")
