"""Why a contact is on a suppression list, and what erasing it would remove.

:func:`membership` answers ``pressure-sync why``: it evaluates the list's standard
candidate (:func:`~pressure_sdk.segments.list_candidate`) for one contact with
:meth:`Policy.evaluate`, sending-hours rules left out, exactly as the lists are computed
(the tests hold :func:`~pressure_sdk.segments.compute_lists` to that same answer for
every member). :func:`footprint` answers ``pressure-sync forget`` before it erases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .config import AccountConfig, ListConfig, WorkspaceConfig
from .errors import ConfigError
from .ledger import LedgerAPI
from .models import CountedTouch, Decision, Reason
from .phones import is_phone_key, key_phone
from .policy import ContactState, Policy
from .segments import care_threshold, list_candidate
from .state import contact_state
from .timeutil import to_iso
from .validate import check_email, to_epoch
from .workspace import Instant, Workspace

#: far enough in the future for any recorded event (planned sends are never recorded)
_FUTURE = 20 * 366 * 86400


@dataclass(slots=True, frozen=True)
class Membership:
    """Whether one contact is on one suppression list as computed at ``at``, and why.

    ``on_list`` is what a run at ``at`` would push; ``pushed`` is what the platform last
    confirmed. ``decision`` is the list's standard candidate for this contact: its
    reasons are why the contact is on the list. ``leaves_at`` is the first instant the
    contact would be off the list if nothing else were sent (the first run after it
    takes it off); None when it is not on the list, or is on it for a reason without an
    end (consent, tolerance capital, a cap of 0).
    """

    email: str
    client: str
    account: str
    list: str
    at: int
    #: the client's ledger knows the contact
    known: bool
    #: the account holds the contact (its audience): only they can be on its lists
    in_audience: bool
    on_list: bool
    pushed: bool
    decision: Decision
    leaves_at: int | None
    #: the contact's time zone (the workspace's when it has none), for display
    timezone: str
    #: a care list: it holds the contacts flagged for care, not a suppression
    care: bool = False

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why the standard candidate is blocked (empty when the contact is not on the list)."""
        return self.decision.reasons if self.on_list else ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (``why --json``); every time in ISO 8601 (UTC)."""
        c = self.decision.candidate
        return {
            "email": self.email,
            "client": self.client,
            "account": self.account,
            "list": self.list,
            "as_of": to_iso(self.at),
            "known": self.known,
            "in_audience": self.in_audience,
            "on_list": self.on_list,
            "pushed": self.pushed,
            "standard_candidate": {
                "channel": c.channel,
                "brand": c.brand,
                "family": c.family,
                "product": c.product,
                "exempt": self.decision.exempt,
            },
            "reasons": [r.as_dict() for r in self.reasons],
            "leaves_at": to_iso(self.leaves_at),
        }

    def text(self) -> str:
        """A readable account, times in the contact's zone."""
        tz = self.timezone
        c = self.decision.candidate
        kind = f"{c.family} {c.channel} from {c.brand}" + (f" about {c.product}" if c.product else "")
        head = f"{self.email} is {'ON' if self.on_list else 'NOT on'} list {self.list} (account {self.account})"
        lines = [f"{head} as of {to_iso(self.at, tz)}"]
        if self.care:
            lines.append("  the list holds the contacts flagged for care (tolerance capital below the care threshold)")
        else:
            lines.append(f"  the list holds the contacts a {kind} would be blocked for (sending hours aside)")
        if not self.known:
            lines.append(f"  not in the ledger of client {self.client}")
        elif not self.in_audience:
            lines.append(f"  account {self.account} does not hold this contact: only its audience is listed")
        elif self.care and not self.on_list:
            lines.append("  not flagged for care: its tolerance capital is at or above the care threshold")
        elif self.decision.exempt:
            lines.append(f"  {c.family} is an exempt family: never blocked, so the list is always empty")
        elif not self.on_list:
            lines.append(f"  a {kind} would be allowed now")
        for r in self.reasons:
            lines.append(f"  - {r.message}")
            lines.extend(_touch_line(t, tz) for t in r.touches)
        if self.on_list:
            if self.leaves_at is not None:
                when = to_iso(self.leaves_at, tz)
                lines.append(f"  leaves at {when} if nothing else is sent (the first run after then removes it)")
            else:
                lines.append(f"  leaves: no date; {_no_end(self.reasons)}")
        lines.append("  pushed: " + _pushed(self.on_list, self.pushed))
        return "\n".join(lines)


def _pushed(on_list: bool, pushed: bool) -> str:
    if on_list and pushed:
        return "yes, the platform's list holds it (last confirmed push)"
    if on_list:
        return "not yet; the next run adds it"
    if pushed:
        return "yes, but the next run removes it"
    return "no, the platform's list does not hold it"


def _touch_line(t: CountedTouch, tz: str) -> str:
    mark = " (planned)" if t.planned else ""
    return f"      {to_iso(t.at, tz)}  {t.brand:<14} {t.channel:<6} {t.family:<13} w={t.weight:g}{mark}"


def _no_end(reasons: Sequence[Reason]) -> str:
    kinds = {r.kind for r in reasons if r.until is None}
    said = []
    if "consent" in kinds:
        said.append("an opt-out holds until the contact resubscribes")
    if "tolerance" in kinds:
        said.append("tolerance capital must climb back above the threshold (good experiences rebuild it)")
    if "cap" in kinds:
        said.append("a cap below the message's weight blocks it whatever is sent")
    return "; ".join(said) or "it stays while the reasons above hold"


def find_list(cfg: WorkspaceConfig, list_name: str, account: str | None = None) -> tuple[AccountConfig, ListConfig]:
    """The account and list called ``list_name``; ConfigError naming the known ones otherwise."""
    accounts = [cfg.account(account)] if account is not None else cfg.accounts
    found = [(a, lst) for a in accounts for lst in a.lists if lst.name == list_name]
    if not found:
        known = sorted({lst.name for a in accounts for lst in a.lists})
        where = f"account {account!r}" if account is not None else "the workspace"
        msg = f"unknown list {list_name!r} in {where}; known: {', '.join(known) or '(none configured)'}"
        raise ConfigError(msg)
    if len(found) > 1:
        names = ", ".join(a.name for a, _ in found)
        msg = f"list {list_name!r} is kept by several accounts ({names}); say which with --account"
        raise ConfigError(msg)
    return found[0]


def membership(
    ws: Workspace,
    email: str,
    list_name: str,
    *,
    account: str | None = None,
    at: Instant | None = None,
) -> Membership:
    """Is ``email`` on ``list_name`` as a run at ``at`` (default: now) would compute it, and why?

    The answer is the list's own computation for one contact: the list's standard
    candidate evaluated against the contact's history, consent and scores, sending-hours
    rules left out, over the account's audience. The contact is named by its email or by
    one of its phone numbers. Raises InvalidValueError for an invalid email or number,
    ConfigError for an unknown or ambiguous list.
    """
    cfg, policy, led = ws.config, ws.policy, ws.ledger
    acc, lst = find_list(cfg, list_name, account)
    client = cfg.client_of_account(acc)
    # an email, or a number: the contact holding it
    key = ws.resolve(ws.vocabulary.contact(email), client)
    now = ws.now() if at is None else to_epoch(at)
    policy = ws.policy_for(key, client, now)  # the contact's experiment arm's rules, if any
    cand = replace(list_candidate(acc, lst, now), email=key)
    row = led.contact(key, client)
    if row is None:
        state = contact_state(None, policy.default_tz)
        history: list[CountedTouch] = []
        in_audience = pushed = False
    else:
        reach = max(policy.quiet_lookback, policy.score_lookback)
        engagements = led.engagements_of(row.id, now - reach, now)
        opposed = [at for _, at in led.oppositions_of(row.id)] if cand.channel == "call" else []
        state = contact_state(row, policy.default_tz, led.consent_of(row.id), engagements, opposed)
        history = policy.counted(led.touches_of(row.id, now - policy.lookback, now))
        in_audience = bool(led.account_contacts(acc.name, [row.id]))
        pushed = row.id in led.list_members(acc.name, lst.name)
    if lst.kind == "care":
        return _care(ws, key, client, acc.name, lst.name, now, cand, state, row is not None, in_audience, pushed)
    if policy.uses_value_segments:
        state.value_segment = "prospect" if row is None else ws._segments(client, now).segment_of(row.id)
    reasons = policy.evaluate(cand, state, history, skip_hours=True)
    exempt = policy.is_exempt(cand.family)
    on_list = in_audience and bool(reasons)
    nxt = _leaves(policy, cand, state, history, reasons) if reasons else now
    decision = Decision(cand, not reasons, tuple(reasons), nxt, exempt)
    return Membership(
        email=key,
        client=client,
        account=acc.name,
        list=lst.name,
        at=now,
        known=row is not None,
        in_audience=in_audience,
        on_list=on_list,
        pushed=pushed,
        decision=decision,
        leaves_at=nxt if on_list else None,
        timezone=state.timezone,
    )


def _care(
    ws: Workspace,
    email: str,
    client: str,
    account: str,
    list_name: str,
    now: int,
    cand: Any,
    state: ContactState,
    known: bool,
    in_audience: bool,
    pushed: bool,
) -> Membership:
    """Membership of a care list: the contact's tolerance capital at ``now`` against the care threshold."""
    policy = ws.policy
    threshold = care_threshold(policy)
    capital = policy.scores(state, now)[1] if known else policy.tolerance.start
    low = policy.tolerance.enabled and capital is not None and capital < threshold
    reasons: tuple[Reason, ...] = ()
    if low:
        reasons = (
            Reason(
                "care",
                "tolerance",
                f"care: tolerance capital {capital:g} below the care threshold {threshold:g}; flagged for care",
                counted=capital,
                limit=threshold,
            ),
        )
    on_list = in_audience and low
    return Membership(
        email=email,
        client=client,
        account=account,
        list=list_name,
        at=now,
        known=known,
        in_audience=in_audience,
        on_list=on_list,
        pushed=pushed,
        decision=Decision(cand, not low, reasons, None if low else now, False),
        leaves_at=None,
        timezone=state.timezone,
        care=True,
    )


def _leaves(
    policy: Policy, cand: Any, state: ContactState, history: Sequence[CountedTouch], reasons: list[Reason]
) -> int | None:
    """When the list's candidate is next allowed, as lists see it (hours rules left out)."""
    t = cand.at
    for _ in range(16):
        if not reasons:
            return int(t)
        untils = [r.until for r in reasons]
        if any(u is None for u in untils):
            return None
        t = max(max(u for u in untils if u is not None), t + 1)
        reasons = policy.evaluate(replace(cand, at=t), state, history, skip_hours=True)
    return None


@dataclass(slots=True, frozen=True)
class Footprint:
    """What the ledger holds about one contact of one client: what ``forget`` would erase."""

    client: str
    email: str
    known: bool
    touches: int = 0
    engagements: int = 0
    consent_changes: int = 0
    #: (account, list) of the suppression lists the platform last confirmed it on
    lists: tuple[tuple[str, str], ...] = ()
    #: its phone numbers (E.164), erased with it
    phones: tuple[str, ...] = ()

    def text(self) -> str:
        """One line: ``client maison: 12 touches, 3 engagements, …, on 1 list (a/l)``."""
        if not self.known:
            return f"client {self.client}: not in the ledger"
        on = ", ".join(f"{a}/{lst}" for a, lst in self.lists)
        n = len(self.lists)
        return (
            f"client {self.client}: {_n(self.touches, 'touch', 'touches')}, "
            f"{_n(self.engagements, 'engagement')}, {_n(self.consent_changes, 'consent change')}, "
            + (f"on {n} list{'' if n == 1 else 's'} ({on})" if n else "on no list")
            + (f", {_n(len(self.phones), 'phone number')} ({', '.join(self.phones)})" if self.phones else "")
        )


def _n(k: int, one: str, many: str | None = None) -> str:
    return f"{k} {one if k == 1 else (many or one + 's')}"


def footprint(ledger: LedgerAPI, email: str, clients: Sequence[str], now: int) -> list[Footprint]:
    """Per client, what the ledger holds about ``email``, or the contact holding a number ``tel:+…`` (read only)."""
    key = email if is_phone_key(email) else check_email(email)
    out: list[Footprint] = []
    for client in clients:
        number = key_phone(key) if is_phone_key(key) else None
        owner = ledger.phone_owners(client, [number]).get(number, key) if number else key
        row = ledger.contact(owner, client)
        if row is None:
            out.append(Footprint(client, key, False))
            continue
        # every event of a contact lies at or after its first_seen
        since = (row.first_seen if row.first_seen is not None else now) - 1
        until = max(now, since) + _FUTURE
        lists = tuple((a, lst) for a, lst, _ in ledger.list_sizes() if row.id in ledger.list_members(a, lst))
        out.append(
            Footprint(
                client,
                key,
                True,
                len(ledger.touches_of(row.id, since, until)),
                len(ledger.engagements_of(row.id, since, until)),
                len(ledger.consent_of(row.id)),
                lists,
                tuple(ledger.phones_of(row.id)),
            )
        )
    return out


__all__ = ["Footprint", "Membership", "find_list", "footprint", "membership"]
