"""The ingest and reserve hot paths give what the plain reads give, on both backends."""

import random
from collections.abc import Callable
from typing import Any

from pressure_sdk.ledger.store import batch_emails
from pressure_sdk.models import Batch, ContactUpdate, Engagement, Touch

T0 = 1_780_000_000
D = 86400

LedgerFactory = Callable[[], Any]


def touch(i: int, email: str = "a@x.com", at: int = T0, **kw: Any) -> Touch:
    return Touch(f"t{i}", email, kw.get("channel", "email"), kw.get("brand", "acme"), "marketing", at, kw.get("weight"))


def test_contact_history_is_the_plain_reads_in_one_call(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    touches = [touch(i, at=T0 - i * D, weight=1.5 if i % 3 == 0 else None) for i in range(40)]
    engagements = [
        Engagement("e1", "a@x.com", "open", T0 - 2 * D, "email", "acme"),
        Engagement("e2", "a@x.com", "unsubscribe", T0 - 5 * D, "email", "acme"),
        Engagement("e3", "a@x.com", "click", T0 - 50 * D, "sms"),
    ]
    led.ingest(Batch(touches=touches, engagements=engagements), account="acc", default_brand="acme")
    led.ingest(Batch(touches=[touch(99, "b@x.com")]), account="other")
    row, consent = led.contact_and_consent("a@x.com")
    got = led.contact_history(
        " A@x.com", engagements_since=T0 - 30 * D, touches_since=T0 - 20 * D, until=T0 - D, account="acc"
    )
    assert got.contact == row
    assert got.consent == consent and len(consent) == 1
    assert [tuple(e) for e in got.engagements] == led.engagements_of(row.id, T0 - 30 * D, T0 - D)
    assert [e[0] for e in got.engagements] == [T0 - 5 * D, T0 - 2 * D]
    assert [tuple(t) for t in got.touches] == [tuple(t) for t in led.touches_of(row.id, T0 - 20 * D, T0 - D)]
    assert [t[0] for t in got.touches] == [T0 - i * D for i in range(19, 0, -1)]
    assert [t[4] for t in got.touches][:3] == [None, 1.5, None]
    assert got.known_to_account is True
    asked = dict(engagements_since=T0 - D, touches_since=T0 - D, until=T0)
    assert led.contact_history("a@x.com", **asked, account="other").known_to_account is False
    assert led.contact_history("a@x.com", **asked).known_to_account is None
    assert led.contact_history("nobody@x.com", **asked, account="acc") is None
    assert led.contact_history("a@x.com", "another-client", **asked) is None


def test_add_touch_with_the_history_read_writes_what_changes(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(touches=[touch(1, at=T0)]), account="acc")
    window = dict(engagements_since=T0 - D, touches_since=T0 - D, until=T0 + D)
    with led.transaction(immediate=True):
        read = led.contact_history("a@x.com", **window, account="sdk")
        assert read.known_to_account is False
        # earlier than first_seen: first_seen moves; the account did not know the contact: it does now
        assert led.add_touch(read.contact.id, touch(2, at=T0 - 60), account="sdk", history=read)
    with led.transaction(immediate=True):
        read = led.contact_history("a@x.com", **window, account="sdk")
        assert read.known_to_account is True and read.contact.first_seen == T0 - 60
        assert led.add_touch(read.contact.id, touch(3, at=T0 + 60), account="sdk", history=read)
        assert not led.add_touch(read.contact.id, touch(3, at=T0 + 60), account="sdk", history=read)
    assert led.contact("a@x.com").first_seen == T0 - 60
    assert led.account_contacts("sdk") == {read.contact.id}
    assert led.count("touches") == 3
    # a transaction that fails writes nothing, BEGIN deferred or not
    try:
        with led.transaction(immediate=True):
            read = led.contact_history("a@x.com", **window, account="sdk")
            led.add_touch(read.contact.id, touch(4, at=T0 + 120), account="sdk", history=read)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert led.count("touches") == 3
    with led.transaction(immediate=True):  # a transaction that reads nothing commits nothing and fails nothing
        pass
    assert led.count("touches") == 3


def test_batch_emails_gives_earliest_times_in_order_of_appearance_sorted_or_not() -> None:
    rng = random.Random(7)
    emails = [f"C{i}@X.com" if i % 2 else f"c{i}@x.com" for i in range(30)]
    touches = [touch(i, rng.choice(emails), T0 + rng.randrange(1000)) for i in range(500)]
    engagements = [Engagement(f"e{i}", rng.choice(emails), "open", T0 + rng.randrange(-50, 1000)) for i in range(50)]
    contacts = [ContactUpdate("new@x.com"), ContactUpdate(emails[0])]

    def reference(batch: Batch) -> tuple[dict[str, str], dict[str, int | None]]:
        key: dict[str, str] = {}
        first: dict[str, int | None] = {}
        for ev in [*batch.touches, *batch.engagements]:
            k = key.setdefault(ev.email, ev.email.strip().lower())
            seen = first.get(k)
            if seen is None or ev.at < seen:
                first[k] = ev.at
        for c in batch.contacts:
            k = key.setdefault(c.email, c.email.strip().lower())
            first.setdefault(k, None)
        return key, first

    for ts in (touches, sorted(touches, key=lambda t: t.at)):
        batch = Batch(touches=ts, engagements=engagements, contacts=contacts)
        key, first = batch_emails(batch)
        want_key, want_first = reference(batch)
        assert key == want_key
        assert first == want_first
        assert list(first) == list(want_first)  # contacts are created in this order
