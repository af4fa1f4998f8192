"""Phone identities in the ledger, on SQLite and PostgreSQL: routing, merging, isolation, erasure, oppositions."""

from collections.abc import Callable
from typing import Any

from pressure_sdk.models import Batch, ContactUpdate, Engagement, Opposition, Touch

T0 = 1_780_000_000
P1 = "+33612345678"
P2 = "+33698765432"

LedgerFactory = Callable[[], Any]


def call(i: int, *, email: str = "", phone: str | None = P1, at: int = T0, brand: str = "calls") -> Touch:
    return Touch(f"c{i}", email, "call", brand, "marketing", at, phone=phone)


def test_a_phone_only_call_makes_one_phone_contact_and_later_calls_join_it(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(touches=[call(1), call(2, at=T0 + 60)]), account="dialer")
    led.ingest(Batch(touches=[call(3, at=T0 + 120)]), account="dialer")
    assert led.count("contacts") == 1
    row = led.contact("tel:" + P1)
    assert row is not None
    assert led.phones_of(row.id) == [P1]
    assert len(led.touches_of(row.id, T0 - 1, T0 + 200)) == 3
    assert led.phone_owners("default", [P1, P2]) == {P1: "tel:" + P1}


def test_a_number_linked_to_an_email_merges_the_phone_contact_into_it(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(touches=[call(1), call(2, at=T0 + 60)]), account="dialer")
    led.ingest(
        Batch(engagements=[Engagement("r1", "", "call_refused", T0 + 61, "call", "calls", phone=P1)]), account="dialer"
    )
    led.ingest(Batch(touches=[Touch("e1", "ana@x.com", "email", "calls", "marketing", T0 - 500)]), account="crm")
    # the contacts file links the number to the email: one contact holds everything
    led.ingest(
        Batch(contacts=[ContactUpdate("ana@x.com", attributes={"region": "57"}, phones=(P1, P2))]), account="crm"
    )
    assert led.count("contacts") == 1
    row = led.contact("ana@x.com")
    assert row is not None and row.first_seen == T0 - 500
    assert led.phones_of(row.id) == [P1, P2]
    assert len(led.touches_of(row.id, T0 - 1000, T0 + 200)) == 3
    assert [e[1] for e in led.engagements_of(row.id, T0, T0 + 100)] == ["call_refused"]
    assert led.contact("tel:" + P1) is None
    # the dialer's next phone-only call now counts against ana
    led.ingest(Batch(touches=[call(9, phone=P2, at=T0 + 300)]), account="dialer")
    assert led.count("contacts") == 1
    assert len(led.touches_of(row.id, T0 - 1000, T0 + 400)) == 4
    assert led.account_contacts("dialer") == {row.id}


def test_a_number_stays_with_the_first_email_that_claimed_it(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(contacts=[ContactUpdate("ana@x.com", phones=(P1,))]), account="crm")
    led.ingest(Batch(contacts=[ContactUpdate("bob@x.com", phones=(P1,))]), account="crm")
    ana, bob = led.contact("ana@x.com"), led.contact("bob@x.com")
    assert ana is not None and bob is not None
    assert led.phones_of(ana.id) == [P1] and led.phones_of(bob.id) == []
    led.ingest(Batch(touches=[call(1)]), account="dialer")
    assert len(led.touches_of(ana.id, T0 - 1, T0 + 1)) == 1


def test_numbers_are_kept_per_client(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(contacts=[ContactUpdate("ana@x.com", phones=(P1,))]), account="a", client="maison")
    led.ingest(Batch(touches=[call(1)]), account="b", client="velo")
    assert led.phone_owners("maison", [P1]) == {P1: "ana@x.com"}
    assert led.phone_owners("velo", [P1]) == {P1: "tel:" + P1}
    ana = led.contact("ana@x.com", "maison")
    assert ana is not None and led.touches_of(ana.id, T0 - 1, T0 + 1) == []


def test_forget_by_number_erases_the_contact_holding_it_and_keeps_it_out(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(contacts=[ContactUpdate("ana@x.com", phones=(P1, P2))]), account="crm")
    led.ingest(Batch(touches=[call(1), call(2, phone=P2)]), account="dialer")
    assert led.forget("tel:" + P2) == ["default"]
    assert led.count("contacts") == 0 and led.count("phones") == 0 and led.count("touches") == 0
    # neither the numbers nor the email come back with old history
    led.ingest(Batch(touches=[call(1), call(2, phone=P2)]), account="dialer")
    led.ingest(Batch(contacts=[ContactUpdate("ana@x.com", phones=(P1,))]), account="crm")
    assert led.count("contacts") == 0 and led.count("touches") == 0
    # an email forgotten takes its numbers with it
    led.ingest(Batch(contacts=[ContactUpdate("bob@x.com", phones=("+33611111111",))]), account="crm")
    led.forget("bob@x.com")
    led.ingest(Batch(touches=[call(5, phone="+33611111111")]), account="dialer")
    assert led.count("contacts") == 0


def test_oppositions_are_per_number_from_the_earliest_answer(ledger_factory: LedgerFactory) -> None:
    led = ledger_factory()
    led.ingest(Batch(oppositions=[Opposition(P1, T0 + 100, "bloctel-b.csv")]), account="crm")
    led.ingest(Batch(oppositions=[Opposition(P1, T0, "bloctel-a.csv")]), account="crm")
    led.ingest(Batch(oppositions=[Opposition(P1, T0 + 500, "bloctel-c.csv")]), account="crm")
    # the number is listed before any contact holds it
    led.ingest(Batch(contacts=[ContactUpdate("ana@x.com", phones=(P1, P2))]), account="crm")
    ana = led.contact("ana@x.com")
    assert ana is not None
    assert led.oppositions_of(ana.id) == [(P1, T0)]
    assert list(led.opposed_contacts(T0 - 1)) == []
    assert list(led.opposed_contacts(T0)) == [(ana.id, T0)]
    led.ingest(Batch(oppositions=[Opposition(P1, T0, "x")]), account="crm", client="velo")
    assert list(led.opposed_contacts(T0)) == [(ana.id, T0)]  # another client's list binds only its contacts
