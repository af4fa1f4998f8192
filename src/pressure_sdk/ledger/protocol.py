"""The ledger as the rest of the SDK sees it: a typed interface in model types (DESIGN §4).

Two implementations satisfy it: :class:`~pressure_sdk.ledger.store.Ledger` (SQLite, the
default) and :class:`~pressure_sdk.ledger.postgres.PostgresLedger`. The policy, the lists,
the sync, the CLI and reports speak to a ledger through these methods only; no SQL row
leaves it. ``mypy`` checks both implementations against it (see ``open_ledger``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..models import Batch, Touch
from .facts import ContactTimeline, ValueFact
from .lists import Scope, SumFloor, TouchFilter
from .measure import MonthCells
from .outcomes import ArmStop, ContactOutcome
from .store import DEFAULT_CLIENT, ConsentEntry, ContactHistory, ContactRow, IngestResult, Member, RunRecord


class LedgerAPI(Protocol):
    """Everything a ledger offers: ingest, identities, consent, audiences, scores, decision
    windows, set-wise list queries, watermarks, confirmed list state, erasure, reports."""

    #: the evaluation time of the scores in the connection's score table, if any
    scores_at: int | None
    #: (tier, capital) of contacts the score table has no row for
    default_score: tuple[str, float]

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def account_contacts(self, account: str, among: Iterable[int] | None = None) -> set[int]:
        """The contacts ``account`` holds (its audience and contacts with events there), or those of ``among``."""
        ...

    def account_limits(self, account: str, attribute: str | None) -> Iterator[tuple[int, str, Any]]:
        """(contact id, tier, attribute value) of every contact of ``account``."""
        ...

    def add_touch(self, contact_id: int, t: Touch, *, account: str, history: ContactHistory | None = None) -> bool:
        """Record one touch of a known contact; returns whether it was new.

        ``history``, read in the same write transaction, spares the writes that would change nothing.
        """
        ...

    def cap_sums(
        self,
        *,
        until: int,
        counts: TouchFilter,
        scope: Scope,
        groups: Mapping[str, str | None],
        weights: Mapping[str, float],
        since: int | None = None,
        period_starts: Mapping[str, int] | None = None,
        default_tz: str = "UTC",
        per_contact: bool = False,
        attribute: str | None = None,
        floor: SumFloor | None = None,
    ) -> Iterator[tuple[int, str, float, str | None, Any]]:
        """(contact id, scope key, weighted sum, tier, attribute) of counted touches in a period."""
        ...

    def check_writable(self) -> None:
        """Raise :class:`LedgerPathError` unless the ledger can be written (nothing is changed)."""
        ...

    def clients(self) -> list[str]:
        """Clients that have contacts in the ledger."""
        ...

    def close(self) -> None:
        """Close the connection (a write in progress is rolled back)."""
        ...

    def confirm_push(
        self,
        account: str,
        list_name: str,
        added: Iterable[int],
        removed: Iterable[int],
        external_ids: dict[int, str] | None = None,
    ) -> None:
        """Record one batch the platform confirmed, and the platform ids the push learned."""
        ...

    def consent_log(self, channel: str, until: int) -> Iterator[tuple[int, str, int, str]]:
        """(contact_id, brand, at, status) of every consent change on ``channel`` at or before ``until``."""
        ...

    def consent_of(self, contact_id: int) -> list[ConsentEntry]:
        """The contact's consent log (at, channel, brand or '*', status), oldest first."""
        ...

    def contact(self, email: str, client: str = DEFAULT_CLIENT) -> ContactRow | None:
        """The contact of ``client`` with this email (normalized first), or None."""
        ...

    def contact_and_consent(
        self, email: str, client: str = DEFAULT_CLIENT
    ) -> tuple[ContactRow | None, list[ConsentEntry]]:
        """A contact and its consent log, oldest first, in one query (the hot path of decide and reserve)."""
        ...

    def contact_history(
        self,
        email: str,
        client: str = DEFAULT_CLIENT,
        *,
        engagements_since: int,
        touches_since: int,
        until: int,
        account: str | None = None,
    ) -> ContactHistory | None:
        """A contact, its consent log, its engagements and touches in their windows ending at
        ``until`` (None if the contact is unknown): what a decision reads, in one call. With
        ``account``, also whether that account already knows the contact."""
        ...

    def contact_timezones(self) -> set[str | None]:
        """Every time zone contacts have (None for contacts without one)."""
        ...

    def contacts_by_id(self, ids: Iterable[int]) -> dict[int, ContactRow]:
        """The contacts with these ids (those that exist), by id."""
        ...

    def count(self, table: str, client: str | None = None) -> int:
        """Rows of a ledger table (of one client's contacts, if given; tombstones are not per client)."""
        ...

    def engagements_of(
        self, contact_id: int, since: int, until: int
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """(at, type, channel, brand, product) of one contact with ``since < at <= until``."""
        ...

    def events_between(
        self, since: int, until: int, types: Iterable[str]
    ) -> Iterator[tuple[int, str | None, str | None, str | None]]:
        """(contact id, channel, brand, product) of engagements of ``types`` in ``(since, until]``."""
        ...

    def finish_run(
        self,
        run_id: int,
        *,
        finished_at: float,
        result: str,
        exit_code: int | None,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a run ended."""
        ...

    def first_seen_of(self, ids: Sequence[int]) -> dict[int, int | None]:
        """When each of these contacts was first seen (None when unknown), by id."""
        ...

    def first_seen_since(self, since: int) -> dict[int, int]:
        """Contacts first seen after ``since``, with that time."""
        ...

    def forget(self, email: str, clients: Sequence[str] = (DEFAULT_CLIENT,), *, purge: bool = True) -> list[str]:
        """Erase a contact from each of ``clients`` and keep one-way tombstones so it never comes back.

        With ``purge`` (the default) the ledger's files are then cleared of the erased rows'
        bytes (:meth:`purge_erased`); erasing many contacts with ``purge=False`` and purging
        once does that work once.
        """
        ...

    def purge_erased(self) -> list[str]:
        """Clear the ledger's files of the bytes of rows erasures deleted; returns the tables rewritten."""
        ...

    def gap_hits(
        self, *, since: int, until: int, counts: TouchFilter, scope: Scope, groups: Mapping[str, str | None]
    ) -> Iterator[tuple[int, str]]:
        """(contact id, scope key) of contacts with a counted touch in ``(since, until]``."""
        ...

    def ingest(
        self,
        batch: Batch,
        *,
        account: str,
        client: str = DEFAULT_CLIENT,
        default_brand: str | None = None,
        watermark: str | None = None,
    ) -> IngestResult:
        """Write one batch of ``client``'s data and, if it carries one, its watermark, in one transaction."""
        ...

    def iter_contacts(self, account: str | None = None, *, page: int = 10_000) -> Iterator[ContactRow]:
        """Every contact (of one account, through its identities), in id order."""
        ...

    def last_run_at(self, result: str) -> tuple[float, float | None] | None:
        """(start, end) of the last run that ended with ``result``, if any is kept."""
        ...

    def list_members(self, account: str, list_name: str) -> set[int]:
        """Contact ids the platform last confirmed in this list."""
        ...

    def list_sizes(self) -> list[tuple[str, str, int]]:
        """Confirmed members per list: (account, list, count)."""
        ...

    def list_target(self, account: str, list_name: str) -> int | None:
        """The size the list was meant to have at its last push, if any."""
        ...

    def low_capital_contacts(self, threshold: float) -> list[int]:
        """Contacts whose capital in the score table is below ``threshold``."""
        ...

    def match_members(
        self, account: str, client: str, emails: Iterable[str], external_ids: Iterable[str]
    ) -> tuple[set[int], int]:
        """Contact ids of a platform list's members, by the account's external id or by email."""
        ...

    def migrations(self) -> list[str]:
        """Names of the migrations applied to this ledger, in order."""
        ...

    def members(self, account: str, contact_ids: Iterable[int]) -> list[Member]:
        """Email and the account's external id of each contact, in contact-id order."""
        ...

    def opposed_contacts(self, until: int) -> Iterator[tuple[int, int]]:
        """(contact id, latest listing date at or before ``until``) of contacts with a number on the opposition list."""
        ...

    def oppositions_of(self, contact_id: int) -> list[tuple[str, int]]:
        """(number, listed since) of the contact's numbers on the opposition list, oldest first."""
        ...

    def paused_contacts(self, now: int) -> list[int]:
        """Contacts paused past ``now``."""
        ...

    def phone_owners(self, client: str, numbers: Sequence[str]) -> dict[str, str]:
        """The contact key (email, or ``tel:+…``) holding each of these E.164 numbers in ``client``."""
        ...

    def phones_of(self, contact_id: int) -> list[str]:
        """The contact's E.164 numbers, sorted."""
        ...

    def record(self, touches: Sequence[Touch], *, account: str = "sdk") -> IngestResult:
        """Record sends made by the caller's own code (the ``record()`` of decide/record)."""
        ...

    def replace_list(self, account: str, list_name: str, contact_ids: Iterable[int]) -> None:
        """Set the confirmed state of a list to what the platform really holds (after a reconcile)."""
        ...

    def runs(self, limit: int = 10) -> list[RunRecord]:
        """The last ``limit`` runs, newest first."""
        ...

    def scan_engagements(
        self, since: int, until: int
    ) -> Iterator[tuple[int, int, str, str | None, str | None, str | None]]:
        """(contact_id, at, type, channel, brand, product) in the window, by contact, streamed."""
        ...

    def score_of(self, contact_id: int) -> tuple[str, float, bool] | None:
        """(tier, capital, care) of a contact in the score table, as of :attr:`scores_at`."""
        ...

    def scratch(self) -> AbstractContextManager[None]:
        """Everything written inside is rolled back at the end: dry runs leave the ledger as it was."""
        ...

    def set_list_target(self, account: str, list_name: str, size: int) -> None:
        """Record the size a list is meant to have after the push that starts (the growth guard's base)."""
        ...

    def set_scores(self, rows: Iterable[tuple[str, float, float, int, int]]) -> None:
        """(tier, score, capital, care, contact_id) for each contact, in the temporary score table."""
        ...

    def start_run(self, *, started_at: float, now: int | None = None, pid: int | None = None) -> int:
        """Record a run that starts; return its id. Call it under the workspace lock."""
        ...

    def start_scores(self, at: int, default: tuple[str, float]) -> None:
        """Empty the connection's temporary score table, for scores as of ``at``."""
        ...

    def touch_counts(self, by: str, client: str | None = None) -> list[tuple[str, int]]:
        """Touches per channel, brand, family or account (of one client's contacts, if given), most first."""
        ...

    def touches_of(self, contact_id: int, since: int, until: int) -> list[tuple[int, str, str, str, float | None]]:
        """(at, channel, brand, family, weight) of one contact with ``since < at <= until``."""
        ...

    def transaction(self, *, immediate: bool = False) -> AbstractContextManager[Any]:
        """One write transaction; ``immediate`` takes the write lock before reading."""
        ...

    def watermark(self, account: str) -> dict[str, Any] | None:
        """The state a pull of ``account`` (or an audience key) resumes from; None before its first pull."""
        ...

    def watermarks(self) -> list[tuple[str, str, int]]:
        """Every watermark: (key, state as JSON, when it was written), by key."""
        ...

    def weekly_pressure(
        self, now: int, policy_weights: dict[str, float], client: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(tier, weighted touches in the last 7 days capped at 5 meaning 5+, contacts)."""
        ...

    # -- experiments ------------------------------------------------------------

    def experiment_outcomes(self, client: str, *, since: int, until: int, pre_since: int) -> Iterator[ContactOutcome]:
        """Every contact of ``client`` with its outcomes in ``[since, until)`` and pre-period ``[pre_since, since)``."""
        ...

    def experiment_stops(self) -> list[ArmStop]:
        """Every arm stopped automatically, by experiment and arm."""
        ...

    def stop_arm(self, stop: ArmStop) -> bool:
        """Record that an arm stopped; returns False (and changes nothing) if it already was."""

    # -- measurement (DESIGN §8) ------------------------------------------------

    def keep_scores(self) -> None:
        """Keep a copy of the score table as the tiers at the start of the month measured next."""
        ...

    def measure_month(
        self,
        *,
        since: int,
        until: int,
        weights: Mapping[str, float],
        counts: TouchFilter,
        level_cap: int,
        last_tier: str,
        end_scored: bool,
    ) -> MonthCells:
        """Messages sent in ``[since, until)`` matching ``counts``, grouped by client, tier and level.

        Tiers are those kept by :meth:`keep_scores`; with ``end_scored`` the score table
        holds the tiers as of ``until``, and contacts who fell to ``last_tier`` or stayed are counted.
        """

    # -- value and audit ----------------------------------------------------------

    def value_facts(
        self, client: str, until: int, types: Iterable[str], contact_ids: Sequence[int] | None = None
    ) -> Iterator[ValueFact]:
        """Per contact of ``client`` (or of ``contact_ids``), its events of ``types`` at or before
        ``until``, grouped by type, brand and currency, ordered by contact, set-wise."""
        ...

    def history_of(self, contact_id: int) -> ContactTimeline:
        """Every touch and engagement of one contact, oldest first, and the accounts that know it."""
        ...
