"""The audit of one contact (``pressure-sync contact``, :meth:`Workspace.contact`).

Everything the ledger knows about one contact of one client, as of one time: its full
history across brands, channels and accounts (platforms), its consent per scope, its
tier, its tolerance capital and the incidents that spent it, its value scores, the
suppression lists it is on, and what would be allowed now and why. The verdicts are the
policy's own (:meth:`Policy.evaluate <pressure_sdk.policy.Policy.evaluate>` with the same
history, consent, scores and value segment a :meth:`Workspace.decide` would use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .ledger.facts import HistoryEngagement, HistoryTouch
from .models import CLIENT_WIDE, Candidate
from .scoring import CapitalStep, assign, capital_trail
from .segments import care_threshold
from .state import contact_state
from .timeutil import to_iso
from .validate import check_email
from .value import ContactValue, ValueTable

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclass(slots=True, frozen=True)
class ConsentStatus:
    """The consent in force on one channel for one consent scope (or client-wide)."""

    channel: str
    #: the consent scope (brands sharing opt-outs), or ``*`` for the whole client
    scope: str
    #: ``subscribed``, ``unsubscribed`` or ``complained``
    status: str
    since: int
    #: the brand whose event set it (``*`` for a client-wide one)
    brand: str


@dataclass(slots=True, frozen=True)
class Verdict:
    """Whether a message of one family, on one channel, from one brand would be allowed now, and why not."""

    brand: str
    channel: str
    family: str
    allowed: bool
    exempt: bool
    reasons: tuple[str, ...]
    next_allowed_at: int | None


@dataclass(slots=True, frozen=True)
class ContactAudit:
    """One contact of one client as of :attr:`at` (see the module's docstring)."""

    email: str
    client: str
    at: int
    known: bool
    timezone: str
    first_seen: int | None
    paused_until: int | None
    attributes: dict[str, Any]
    #: (account, the platform's id when known) of every account that knows the contact
    identities: tuple[tuple[str, str | None], ...]
    touches: tuple[HistoryTouch, ...]
    engagements: tuple[HistoryEngagement, ...]
    consent: tuple[ConsentStatus, ...]
    tier: str
    capital: float
    #: flagged for care: capital below :attr:`care_threshold`
    care: bool
    care_threshold: float
    #: the engagements that spent or rebuilt the capital within the tolerance lookback
    capital_trail: tuple[CapitalStep, ...]
    #: the contact's value (None when it has no purchase or relationship event)
    value: ContactValue | None
    currency: str
    segment: str
    #: (account, list) of the lists the platforms last confirmed it on
    lists: tuple[tuple[str, str], ...]
    verdicts: tuple[Verdict, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (``contact --json``); every time in ISO 8601 (UTC)."""
        return {
            "email": self.email,
            "client": self.client,
            "as_of": to_iso(self.at),
            "known": self.known,
            "timezone": self.timezone,
            "first_seen": to_iso(self.first_seen),
            "paused_until": to_iso(self.paused_until),
            "attributes": self.attributes,
            "accounts": [{"account": a, "external_id": x} for a, x in self.identities],
            "touches": [
                {
                    "at": to_iso(t.at),
                    "channel": t.channel,
                    "brand": t.brand,
                    "family": t.family,
                    "weight": t.weight,
                    "account": t.account,
                    "campaign": t.campaign,
                    "product": t.product,
                }
                for t in self.touches
            ],
            "engagements": [
                {
                    "at": to_iso(e.at),
                    "type": e.type,
                    "channel": e.channel,
                    "brand": e.brand,
                    "product": e.product,
                    "account": e.account,
                    "amount": e.amount,
                    "currency": e.currency,
                }
                for e in self.engagements
            ],
            "consent": [
                {"channel": c.channel, "scope": c.scope, "status": c.status, "since": to_iso(c.since), "brand": c.brand}
                for c in self.consent
            ],
            "tier": self.tier,
            "tolerance": {
                "capital": self.capital,
                "care": self.care,
                "care_threshold": self.care_threshold,
                "trail": [
                    {"at": to_iso(s.at), "type": s.type, "delta": s.delta, "capital": s.capital}
                    for s in self.capital_trail
                ],
            },
            "value": {"currency": self.currency, "segment": self.segment}
            | (self.value.as_dict() if self.value is not None else {}),
            "lists": [{"account": a, "list": lst} for a, lst in self.lists],
            "allowed_now": [
                {
                    "brand": v.brand,
                    "channel": v.channel,
                    "family": v.family,
                    "allowed": v.allowed,
                    "exempt": v.exempt,
                    "reasons": list(v.reasons),
                    "next_allowed_at": to_iso(v.next_allowed_at),
                }
                for v in self.verdicts
            ],
        }

    def text(self, *, last: int = 20) -> str:
        """A readable account, times in the contact's zone; the history shows the ``last`` events of each kind."""
        tz = self.timezone
        day = lambda ts: (to_iso(ts, tz) or "")[:16]  # noqa: E731
        lines = [f"{self.email} (client {self.client}) as of {to_iso(self.at, tz)}"]
        if not self.known:
            lines.append("  not in the ledger: no history; a new contact would be judged as below")
        else:
            lines.append(
                f"  first seen {day(self.first_seen)}, zone {tz}"
                + (f", paused until {day(self.paused_until)}" if self.paused_until else "")
            )
            if self.attributes:
                lines.append("  attributes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.attributes.items())))
            accs = ", ".join(a + (f" (id {x})" if x else "") for a, x in self.identities)
            lines.append(f"  accounts: {accs or 'none'}")
        lines.append(f"tier {self.tier}; value segment {self.segment}")
        care = " FLAGGED FOR CARE" if self.care else ""
        lines.append(f"tolerance capital {self.capital:g} (care below {self.care_threshold:g}){care}")
        for s in self.capital_trail:
            lines.append(f"  {day(s.at)}  {s.type:<12} {s.delta:+g} -> {s.capital:g}")
        if self.value is not None:
            v = self.value
            rec = "never bought" if v.recency_days is None else f"last purchase {v.recency_days:.0f} days ago"
            lines.append(
                f"value: RFM {v.rfm} ({rec}, {v.frequency} purchase days, {v.monetary:,.2f} {self.currency}); "
                f"CLV {v.clv:,.2f} {self.currency}; relationship {v.relationship:g} points "
                f"({', '.join(f'{k} {n}' for k, n in sorted(v.events.items())) or 'no event'}); "
                f"score {v.score:,.2f}"
            )
        else:
            lines.append("value: no purchase or relationship event")
        lines.append("consent:" + ("" if self.consent else " no opt-out recorded (subscribed everywhere)"))
        for c in self.consent:
            scope = "every brand of the client" if c.scope == CLIENT_WIDE else f"scope {c.scope}"
            lines.append(f"  {c.channel:<6} {scope}: {c.status} since {day(c.since)} (by {c.brand})")
        lines.append("lists: " + (", ".join(f"{a}/{lst}" for a, lst in self.lists) or "on no pushed list"))
        lines.append(f"history: {len(self.touches)} touches, {len(self.engagements)} engagements (last {last})")
        events: list[tuple[int, int, str]] = []
        for i, t in enumerate(self.touches):
            what = " ".join(x for x in (t.campaign, t.product) if x)
            line = f"{'sent':<10} {t.brand:<14} {t.channel:<6} {t.family:<13} {t.account:<14} {what}"
            events.append((t.at, i, line))
        for i, e in enumerate(self.engagements):
            amount = f"{e.amount:g} {e.currency or self.currency}" if e.amount is not None else ""
            what = " ".join(x for x in (e.product, amount) if x)
            line = f"{e.type:<10} {e.brand or '-':<14} {e.channel or '-':<6} {'':<13} {e.account:<14} {what}"
            events.append((e.at, len(self.touches) + i, line))
        events.sort()
        for at, _, line in events[len(events) - last :] if last else []:
            lines.append(f"  {day(at)}  {line.rstrip()}")
        exempt = sorted({d.family for d in self.verdicts if d.exempt})
        lines.append("allowed now" + (f" (exempt, always allowed: {', '.join(exempt)})" if exempt else "") + ":")
        for d in self.verdicts:
            if d.exempt:
                continue
            head = f"  {d.brand:<14} {d.channel:<6} {d.family:<13}"
            if d.allowed:
                lines.append(f"{head} allowed")
            else:
                nxt = to_iso(d.next_allowed_at, tz) if d.next_allowed_at else "not until consent or capital changes"
                lines.append(f"{head} BLOCKED: {'; '.join(d.reasons)} (next: {nxt})")
        return "\n".join(lines)


def consent_by_scope(ws: Workspace, entries: list[tuple[int, str, str, str]]) -> list[ConsentStatus]:
    """The latest consent change per channel and consent scope, as the policy reads the log."""
    latest: dict[tuple[str, str], tuple[int, bool, str, str]] = {}
    for at, channel, brand, status in entries:
        scope = CLIENT_WIDE if brand == CLIENT_WIDE else ws.config.consent_scope(brand)
        # the latest change wins; at the same instant an opt-out wins over a resubscription
        key = (at, status != "subscribed", brand, status)
        if (channel, scope) not in latest or key > latest[channel, scope]:
            latest[channel, scope] = key
    return [
        ConsentStatus(channel, scope, k[3], k[0], k[2])
        for (channel, scope), k in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]


def audit(ws: Workspace, email: str, client: str, at: int, *, table: ValueTable | None = None) -> ContactAudit:
    """The audit of ``email`` in ``client`` as of ``at`` (see :meth:`Workspace.contact`)."""
    policy, led = ws.policy, ws.ledger
    key = check_email(email)
    row, consent = led.contact_and_consent(key, client)
    table = table if table is not None else ws.value_table(client, at)
    tz = (row.timezone if row else None) or policy.default_tz
    if row is None:
        state = contact_state(None, policy.default_tz)
        history_t: tuple[HistoryTouch, ...] = ()
        history_e: tuple[HistoryEngagement, ...] = ()
        identities: tuple[tuple[str, str | None], ...] = ()
        lists: tuple[tuple[str, str], ...] = ()
    else:
        h = led.history_of(row.id)
        history_t, history_e, identities = h.touches, h.engagements, h.identities
        reach = max(policy.quiet_lookback, policy.score_lookback)
        state = contact_state(row, policy.default_tz, consent, led.engagements_of(row.id, at - reach, at))
        lists = tuple((a, lst) for a, lst, _ in led.list_sizes() if row.id in led.list_members(a, lst))
    events = [(e.at, e.type) for e in history_e if e.at <= at]
    score = assign(row.first_seen if row else None, events, at, policy.tiers, policy.scoring, policy.tolerance)
    threshold = care_threshold(policy)
    value = table.contacts.get(row.id) if row is not None else None
    segment = table.segment_of(row.id) if row is not None else "prospect"
    state.value_segment = segment
    verdicts = _verdicts(ws, key, client, at, state, row.id if row is not None else None, history_t)
    return ContactAudit(
        email=key,
        client=client,
        at=at,
        known=row is not None,
        timezone=tz,
        first_seen=row.first_seen if row else None,
        paused_until=row.paused_until if row else None,
        attributes=dict(row.attributes) if row else {},
        identities=identities,
        touches=history_t,
        engagements=history_e,
        consent=tuple(consent_by_scope(ws, list(consent))),
        tier=score.tier,
        capital=score.capital,
        care=policy.tolerance.enabled and score.capital < threshold,
        care_threshold=threshold,
        capital_trail=tuple(capital_trail(events, at, policy.tolerance)),
        value=value,
        currency=table.currency,
        segment=segment,
        lists=lists,
        verdicts=tuple(verdicts),
    )


def _verdicts(
    ws: Workspace,
    email: str,
    client: str,
    at: int,
    state: Any,
    contact_id: int | None,
    touches: tuple[HistoryTouch, ...],
) -> list[Verdict]:
    """Every (brand of the client, channel in use, family) judged now, as decide() would."""
    policy, cfg = ws.policy, ws.config
    used = {t.channel for t in touches} | {lst.channel for a in cfg.accounts for lst in a.lists}
    channels = [c for c in cfg.workspace.channels if c in used] or ["email"]
    history = policy.counted(ws.ledger.touches_of(contact_id, at - policy.lookback, at)) if contact_id else []
    out: list[Verdict] = []
    for brand in cfg.brands_of(client):
        for channel in channels:
            for family in cfg.families:
                cand = Candidate(email, channel, brand, family, at)
                reasons = policy.evaluate(cand, state, history)
                nxt = policy.next_allowed(cand, state, history, reasons) if reasons else at
                out.append(
                    Verdict(
                        brand,
                        channel,
                        family,
                        not reasons,
                        policy.is_exempt(family),
                        tuple(r.message for r in reasons),
                        nxt,
                    )
                )
    return out


__all__ = ["ConsentStatus", "ContactAudit", "Verdict", "audit", "consent_by_scope"]
