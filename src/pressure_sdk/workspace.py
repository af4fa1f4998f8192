"""The developer API: ``decide()`` before a send, ``record()`` after, or ``reserve()`` for both.

A :class:`Workspace` ties the workspace config, its compiled policy and the ledger.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .arbiter import arbitrate
from .arms import Arms
from .config import WorkspaceConfig, load_config
from .ledger import ContactHistory, LedgerAPI, open_ledger
from .models import Batch, Candidate, CountedTouch, Decision, Touch
from .phones import is_phone_key, key_phone
from .policy import ContactState, Policy
from .state import contact_state
from .timeutil import now as clock_now
from .timeutil import to_iso
from .validate import Vocabulary, to_epoch

if TYPE_CHECKING:
    from .audit import ContactAudit
    from .value import ValueTable

#: a time argument: epoch seconds or an aware datetime
Instant = int | float | datetime


class Workspace:
    """Config + policy + ledger: the entry point for code that sends messages."""

    def __init__(self, config: WorkspaceConfig, ledger: LedgerAPI | None = None) -> None:
        self.config = config
        self.policy = Policy(config)
        #: experiment arms: which rules decide for which contact (DESIGN §8)
        self.arms = Arms.of(self.policy)
        self.ledger = ledger if ledger is not None else open_ledger(config.ledger_target)
        self._frozen = config.clock
        self.vocabulary = Vocabulary(config)
        #: value segments per (client, evaluation instant), see :meth:`_segments`
        self._segment_tables: dict[tuple[str, int], ValueTable] = {}

    def now(self) -> int:
        """The workspace's current instant: ``workspace.now`` if set, else the clock."""
        return self._frozen if self._frozen is not None else clock_now()

    @classmethod
    def open(cls, config_path: str | Path) -> Workspace:
        """Load ``pressure.toml`` and open its ledger."""
        return cls(load_config(config_path))

    def close(self) -> None:
        """Close the ledger."""
        self.ledger.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one contact ------------------------------------------------------------

    def policy_for(self, email: str, client: str, at: int) -> Policy:
        """The policy that decides for this contact (normalized email) at ``at``: its experiment arm's, if any."""
        if not self.arms.running(client, at):
            return self.policy
        return self.arms.policy_for(client, email, at, self.ledger.experiment_stops())

    def resolve(self, key: str, client: str) -> str:
        """The contact key a checked key stands for: a number (``tel:+…``) maps to the contact holding it."""
        if not is_phone_key(key):
            return key
        number = key_phone(key)
        return self.ledger.phone_owners(client, [number]).get(number, key)

    def _load(
        self,
        email: str,
        client: str,
        since: int,
        until: int,
        policy: Policy | None = None,
        calls: bool = True,
        account: str | None = None,
    ) -> tuple[ContactState, list[CountedTouch], ContactHistory | None]:
        """The contact's state, its history around ``[since, until]`` and what was read (None if unknown).

        One ledger call reads it all (on PostgreSQL, one round trip); ``account`` also asks
        whether that account knows the contact, which spares ``reserve()`` a write.
        ``calls``: whether a candidate is a call, which needs the opposition list too.
        """
        p = policy or self.policy
        # engagements feed quiet rules and the scores derived at each candidate's time
        reach = max(p.quiet_lookback, p.score_lookback)
        read = self.ledger.contact_history(
            email,
            client,
            engagements_since=since - reach,
            touches_since=since - p.lookback,
            until=until,
            account=account,
        )
        if read is None:
            return contact_state(None, p.default_tz), [], None
        opposed = [at for _, at in self.ledger.oppositions_of(read.contact.id)] if calls else []
        state = contact_state(read.contact, p.default_tz, read.consent, read.engagements, opposed)
        return state, p.counted(read.touches), read

    def _candidate(
        self,
        email: str,
        channel: str,
        brand: str,
        family: str,
        at: Instant | None,
        weight: float | None,
        product: str | None,
        client: str | None = None,
        phone: str | None = None,
    ) -> tuple[Candidate, str]:
        """A checked candidate and its client; InvalidValueError names any unknown value.

        A contact named by a number is the contact holding it (or a phone-only one).
        """
        v = self.vocabulary
        if client is not None:
            v.client(client)
        key, w = v.send(email, channel, brand, family, weight, phone=phone)
        owner = v.brand_of_client(brand, client)
        when = self.now() if at is None else to_epoch(at)
        number = key_phone(key) if is_phone_key(key) else None
        cand = Candidate(self.resolve(key, owner), channel, brand, family, when, w, "", 0.0, product, number)
        return cand, owner

    def client_of(self, brand: str) -> str:
        """The client that owns ``brand``."""
        return self.config.client_of_brand(brand)

    def value_table(self, client: str, at: Instant | None = None) -> ValueTable:
        """The value (RFM, CLV, relationship, segment) of every contact of ``client`` at ``at`` (default: now).

        Computed from the ledger at each call (one aggregate query and, for CLV, a model
        fit over the client's customers): see :mod:`pressure_sdk.value`.
        """
        from .value import compute_values

        self.vocabulary.client(client)
        return compute_values(self.ledger, self.config, client, self.now() if at is None else to_epoch(at))

    def contact(self, email: str, *, client: str | None = None, at: Instant | None = None) -> ContactAudit:
        """The audit of one contact as of ``at`` (default: now): history, consent, scores, value, verdicts.

        Its full history across brands, channels and accounts, its consent per scope, its
        tier and tolerance capital with the engagements that spent or rebuilt it, its value
        (RFM, CLV, relationship), the lists it is on, and, for every brand of its client,
        channel in use and family, whether a message would be allowed now and why not
        (the policy's own verdicts). ``client`` may be left out when the workspace has one.
        Raises InvalidValueError for an invalid email or an unknown or missing client.
        """
        from .audit import audit
        from .errors import InvalidValueError

        if client is None:
            if len(self.config.client_names) > 1:
                msg = f"client: the workspace has several clients; say which: {', '.join(self.config.client_names)}"
                raise InvalidValueError(msg)
            client = self.config.client_names[0]
        self.vocabulary.client(client)
        return audit(self, email, client, self.now() if at is None else to_epoch(at))

    def _segments(self, client: str, at: int | None = None) -> ValueTable:
        """A value table for segments only (RFM, no lifetime value): what rules need.

        Computed once per client and evaluation instant by this workspace: repeated
        decisions or explanations at one instant (a frozen clock, a batch) share it, and
        with the real clock the instant, hence the table, changes every second.
        """
        from .value import compute_values

        when = self.now() if at is None else at
        table = self._segment_tables.get((client, when))
        if table is None:
            if len(self._segment_tables) >= 8:
                self._segment_tables.pop(next(iter(self._segment_tables)))
            table = compute_values(self.ledger, self.config, client, when, clv=False)
            self._segment_tables[client, when] = table
        return table

    def _segment(self, state: ContactState, client: str, contact_id: int | None, tables: dict[str, ValueTable]) -> None:
        """Give ``state`` its value segment as of now, when some rule targets segments."""
        if not self.policy.uses_value_segments:
            return
        if contact_id is None:
            state.value_segment = "prospect"
            return
        table = tables.get(client)
        if table is None:
            table = tables[client] = self._segments(client)
        state.value_segment = table.segment_of(contact_id)

    def _decide(
        self, cand: Candidate, client: str, *, explain: bool, account: str | None = None
    ) -> tuple[Decision, ContactHistory | None]:
        p = self.policy_for(cand.email, client, cand.at)
        state, history, read = self._load(cand.email, client, cand.at, cand.at, p, cand.channel == "call", account)
        self._segment(state, client, None if read is None else read.contact.id, {})
        exempt = p.is_exempt(cand.family)
        reasons = p.evaluate(cand, state, history)
        if not reasons:
            return Decision(cand, True, (), cand.at, exempt), read
        nxt = p.next_allowed(cand, state, history, reasons) if explain else _earliest(reasons)
        return Decision(cand, False, tuple(reasons), nxt, exempt), read

    def decide(
        self,
        email: str,
        channel: str,
        brand: str,
        family: str,
        at: Instant | None = None,
        *,
        weight: float | None = None,
        product: str | None = None,
        client: str | None = None,
        phone: str | None = None,
    ) -> Decision:
        """May this message go out now (or at ``at``)? Reads the past only; writes nothing.

        ``at`` is epoch seconds or an aware datetime. The brand's client is the contact's
        world; ``client``, if given, must be it. The contact is named by ``email``, or by a
        phone number (``phone``, or a number given as ``email``): the contact holding it.
        Unknown channels, brands, families or clients, invalid emails or numbers and
        non-positive weights raise InvalidValueError.
        """
        cand, owner = self._candidate(email, channel, brand, family, at, weight, product, client, phone)
        return self._decide(cand, owner, explain=True)[0]

    def reserve(
        self,
        email: str,
        channel: str,
        brand: str,
        family: str,
        at: Instant | None = None,
        *,
        weight: float | None = None,
        product: str | None = None,
        event_id: str | None = None,
        campaign: str | None = None,
        client: str | None = None,
        phone: str | None = None,
    ) -> Decision:
        """Decide and, if allowed, record the touch in one atomic step.

        Concurrent callers (threads or processes) never both take the last slot: the
        ledger's write lock is held from the read of the history to the commit. Values
        are checked as in :meth:`decide`; ``at`` is epoch seconds or an aware datetime.
        """
        cand, owner = self._candidate(email, channel, brand, family, at, weight, product, client, phone)
        with self.ledger.transaction(immediate=True):
            decision, read = self._decide(cand, owner, explain=False, account="sdk")
            if decision.allowed:
                touch = Touch(
                    event_id or f"reserve-{uuid.uuid4().hex}",
                    cand.email,
                    channel,
                    brand,
                    family,
                    cand.at,
                    cand.weight,
                    campaign,
                    product,
                    cand.phone,
                )
                if read is None or cand.phone:  # a number may link to the contact: the batch path routes it
                    self.ledger.ingest(Batch(touches=[touch]), account="sdk", client=owner)
                else:  # the contact is known: skip the batch machinery on this hot path
                    self.ledger.add_touch(read.contact.id, touch, account="sdk", history=read)
        return decision

    def record(self, touches: Touch | Iterable[Touch], *, account: str = "sdk") -> int:
        """Record sends your code made; returns how many were new.

        Each touch is checked as in :meth:`decide` (its ``at`` is epoch seconds or an
        aware datetime) before anything is written: one bad touch writes none.
        """
        items = [touches] if isinstance(touches, Touch) else list(touches)
        by_client: dict[str, list[Touch]] = defaultdict(list)
        v = self.vocabulary
        for i, t in enumerate(items):
            where = f"touch {i} ({t.event_id})"
            key, w = v.send(t.email, t.channel, t.brand, t.family, t.weight, where, phone=t.phone)
            # a number is routed by the ledger to the contact holding it
            email, phone = (
                ("", key_phone(key)) if is_phone_key(key) else (key, t.phone and key_phone(v.contact("", t.phone)))
            )
            by_client[v.brand_of_client(t.brand, None)].append(
                replace(t, email=email, phone=phone, weight=w, at=to_epoch(t.at, f"{where}: at"))
            )
        added = 0
        with self.ledger.transaction():
            for client, mine in by_client.items():
                added += self.ledger.ingest(Batch(touches=mine), account=account, client=client).touches_added
        return added

    def explain(self, decision: Decision) -> str:
        """A readable account of a decision: verdict, reasons, counted touches, next time."""
        c = decision.candidate
        tz = self._tz(c.email, self.client_of(c.brand))
        lines = [
            f"{'ALLOWED' if decision.allowed else 'BLOCKED'}: {c.family} {c.channel} from {c.brand} "
            f"to {c.email} at {to_iso(c.at, tz)}" + (" (exempt family)" if decision.exempt else "")
        ]
        for r in decision.reasons:
            lines.append(f"  - {r.message}")
            for t in r.touches:
                mark = " (planned)" if t.planned else ""
                lines.append(
                    f"      {to_iso(t.at, tz)}  {t.brand:<14} {t.channel:<6} {t.family:<13} w={t.weight:g}{mark}"
                )
        if not decision.allowed:
            when = to_iso(decision.next_allowed_at, tz) if decision.next_allowed_at else "not until consent changes"
            lines.append(f"  next allowed: {when}")
        return "\n".join(lines)

    def _tz(self, email: str, client: str) -> str:
        row = self.ledger.contact(email, client)
        return (row.timezone if row else None) or self.policy.default_tz

    # -- many contacts ----------------------------------------------------------

    def plan(self, candidates: Sequence[Candidate], *, client: str | None = None) -> list[Decision]:
        """Arbitrate a batch of candidates; decisions come back in the input order.

        Deterministic for the same ledger and candidates. Every candidate is checked as
        in :meth:`decide` before anything is decided; with ``client``, every candidate's
        brand must belong to it. With ``[value] arbitration = true``, a candidate whose
        ``value`` is 0 is given the contact's value score at the candidate's brand (see
        :meth:`ValueTable.brand_value <pressure_sdk.value.ValueTable.brand_value>`), so among
        one contact's candidates of equal family and brand priority, the brand where the
        contact is worth most goes first; a decision comes back with the candidate as given.
        """
        v = self.vocabulary
        if client is not None:
            v.client(client)
        by_contact: dict[tuple[str, str], list[int]] = defaultdict(list)
        cands: list[Candidate] = []
        for i, c in enumerate(candidates):
            where = f"candidate {i}" + (f" ({c.candidate_id})" if c.candidate_id else "")
            key, w = v.send(c.email, c.channel, c.brand, c.family, c.weight, where, phone=c.phone)
            owner = v.brand_of_client(c.brand, client, f"{where}: brand")
            number = key_phone(key) if is_phone_key(key) else c.phone
            key = self.resolve(key, owner)
            cands.append(replace(c, email=key, weight=w, at=to_epoch(c.at, f"{where}: at"), phone=number))
            by_contact[owner, key].append(i)
        out: list[Decision | None] = [None] * len(cands)
        #: segments (RFM) for rules, and whole values (with CLV) for arbitration, per client
        segments: dict[str, ValueTable] = {}
        values: dict[str, ValueTable] = {}
        by_value = self.config.value.arbitration
        for (owner, email), idx in by_contact.items():
            mine = [cands[i] for i in idx]
            lo = min(c.at for c in mine)
            hi = max(c.at for c in mine)
            # a plan's arm is the contact's arm at its first candidate
            p = self.policy_for(email, owner, lo)
            calls = any(c.channel == "call" for c in mine)
            state, history, read = self._load(email, owner, lo, hi + p.lookback, p, calls)
            contact_id = None if read is None else read.contact.id
            self._segment(state, owner, contact_id, segments)
            if by_value and contact_id is not None:
                table = values.get(owner)
                if table is None:
                    table = values[owner] = self.value_table(owner)
                # the contact's value at each candidate's brand, unless the caller valued it
                mine = [c if c.value else replace(c, value=table.brand_value(contact_id, c.brand)) for c in mine]
            for i, d in zip(idx, arbitrate(p, state, history, mine), strict=True):
                out[i] = d if d.candidate is cands[i] else replace(d, candidate=cands[i])
        return [d for d in out if d is not None]


def _earliest(reasons: Sequence[object]) -> int | None:
    untils = [getattr(r, "until", None) for r in reasons]
    if any(u is None for u in untils):
        return None
    return max(u for u in untils if u is not None)
