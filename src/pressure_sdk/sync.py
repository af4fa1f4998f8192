"""``pressure-sync run``: lock → pull → score → suppress → diff → push → report (DESIGN §6)."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import AccountConfig, ListConfig, WorkspaceConfig
from .connectors.base import Connector
from .connectors.registry import get_connector
from .errors import ConfigError, GuardError, InvalidValueError, PressureError
from .experiments import check_stops
from .ledger import IngestResult, LedgerAPI, open_ledger
from .lock import run_lock
from .models import AUDIENCE_STATUSES, Batch
from .phones import normalize_phone
from .policy import Policy
from .progress import PhaseHandle, ProgressObserver, phase
from .segments import ListKey, compute_lists
from .tiers import score_all
from .timeutil import now as clock_now
from .timeutil import to_iso
from .validate import Vocabulary, check_amount, check_email, check_weight

log = logging.getLogger("pressure_sdk.sync")


class StopRequest:
    """Asks a run to stop after the batch in progress; set from a signal handler.

    The run stops at the next point where everything before it is committed: after a
    pulled batch and its watermark, after a confirmed push batch, between accounts and
    between lists. Its report says where each account stopped.
    """

    def __init__(self) -> None:
        #: why the run was asked to stop (``SIGINT``, ``SIGTERM``), None until it is
        self.reason: str | None = None
        #: the exit code the run ends with once stopped
        self.exit_code: int = 1

    def set(self, reason: str, exit_code: int) -> None:
        """Ask for the stop (the first reason is kept)."""
        if self.reason is None:
            self.reason, self.exit_code = reason, exit_code

    def __bool__(self) -> bool:
        return self.reason is not None


class _Stopped(Exception):
    """Raised inside the run where a stop was asked for; caught by the run itself."""


def _check(stop: StopRequest | None) -> None:
    if stop:
        raise _Stopped


@dataclass
class ListReport:
    """What a run did to one suppression list of one account."""

    name: str
    size: int = 0
    added: int = 0
    removed: int = 0
    #: contacts the platform does not know, so they could not be added (tried again next run)
    missing: int = 0
    pushed: bool = False
    error: str | None = None
    #: how the platform's list differed from the last confirmed state, if it did (then repaired)
    drift: str | None = None


def without_account(name: str, message: str) -> str:
    """``message`` without the "account 'name': " its connector put in, where the account is already named."""
    return re.sub(rf"account {re.escape(repr(name))}(?: \([^)]*\))?: ", "", message)


@dataclass
class AccountReport:
    """What a run did for one account: its pull's figures, its lists, its error."""

    name: str
    connector: str
    client: str = "default"
    ok: bool = True
    pulled: int = 0
    touches_added: int = 0
    engagements_added: int = 0
    contacts_scored: int = 0
    error: str | None = None
    lists: list[ListReport] = field(default_factory=list)
    #: the run was interrupted before this account's work was done
    stopped: bool = False

    def fail(self, message: str) -> None:
        """Mark the account failed, adding ``message`` to its error.

        The report already names the account: a message that names it again (as the
        connectors' own messages do, for use outside a run) loses that part.
        """
        message = without_account(self.name, message)
        self.ok = False
        self.error = message if self.error is None else f"{self.error}; {message}"

    @property
    def status(self) -> str:
        """``ok``, ``FAILED``, or ``stopped`` when the run was interrupted before its work was done."""
        return "ok" if self.ok else ("stopped" if self.stopped else "FAILED")


@dataclass
class RunReport:
    """What one run did, per account; rendered as a table (:meth:`table`) or JSON (:meth:`as_dict`)."""

    dry_run: bool
    started_at: int
    finished_at: int = 0
    accounts: list[AccountReport] = field(default_factory=list)
    #: contacts whose tier and capital were computed for this run's time
    contacts_scored: int = 0
    #: the instant lists were computed for (``--now``, ``workspace.now`` or the clock)
    as_of: int | None = None
    #: why the run stopped early (``SIGINT``, ``SIGTERM``), if it did
    interrupted: str | None = None
    #: the exit code of an interrupted run (130 for SIGINT, 143 for SIGTERM)
    interrupt_code: int = 1
    #: the run's id in the ledger's run history (None for a dry run)
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        """Every account succeeded and the run was not interrupted."""
        return self.interrupted is None and all(a.ok for a in self.accounts)

    @property
    def result(self) -> str:
        """``ok``, ``failed`` or ``interrupted``, as the run history records it."""
        return "interrupted" if self.interrupted else ("ok" if self.ok else "failed")

    @property
    def exit_code(self) -> int:
        """0 ok, 1 an account failed, 130/143 interrupted by SIGINT/SIGTERM."""
        if self.interrupted:
            return self.interrupt_code
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        """The JSON report (the README's CLI reference lists its keys)."""
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "as_of": None if self.as_of is None else to_iso(self.as_of),
            "interrupted": self.interrupted,
            "contacts_scored": self.contacts_scored,
            "clients": {
                c: {"ok": all(a.ok for a in accs), "accounts": [a.name for a in accs]}
                for c, accs in self.by_client().items()
            },
            "accounts": [asdict(a) for accs in self.by_client().values() for a in accs],
        }

    def by_client(self) -> dict[str, list[AccountReport]]:
        """Account reports grouped by client, clients in order of first appearance."""
        out: dict[str, list[AccountReport]] = {}
        for a in self.accounts:
            out.setdefault(a.client, []).append(a)
        return out

    def table(self) -> str:
        """The report for people."""
        head = f"pressure-sync run{' (dry run: nothing pushed)' if self.dry_run else ''}"
        grouped = [a for accs in self.by_client().values() for a in accs]
        rows = [("client", "account", "connector", "status", "pulled", "touches+", "engag.+", "scored")]
        for a in grouped:
            rows.append(
                (
                    a.client,
                    a.name,
                    a.connector,
                    a.status,
                    str(a.pulled),
                    str(a.touches_added),
                    str(a.engagements_added),
                    str(a.contacts_scored),
                )
            )
        out = [head, "", *_grid(rows)]
        lrows = [("client", "account", "list", "size", "added", "removed", "missing", "pushed")]
        for a in grouped:
            for lst in a.lists:
                pushed = "yes" if lst.pushed else ("error" if lst.error else "no")
                lrows.append(
                    (
                        a.client,
                        a.name,
                        lst.name,
                        str(lst.size),
                        f"+{lst.added}",
                        f"-{lst.removed}",
                        str(lst.missing),
                        pushed,
                    )
                )
        if len(lrows) > 1:
            out += ["", *_grid(lrows)]
        drift = [f"  {a.name}/{lst.name}: {lst.drift}" for a in grouped for lst in a.lists if lst.drift]
        if drift:
            out += ["", "lists that differed from the last confirmed state:", *drift]
        errors = [f"  {a.name}: {a.error}" for a in grouped if a.error]
        if errors:
            out += ["", "errors:", *errors]
        ok = sum(a.ok for a in self.accounts)
        out += ["", f"{ok}/{len(self.accounts)} accounts ok"]
        if self.interrupted:
            out.append(
                f"interrupted by {self.interrupted}: stopped after the batch in progress; what the tables show as "
                "pulled, and lists marked pushed, is saved; the next run resumes from there"
            )
        return "\n".join(out)


def _grid(rows: Sequence[Sequence[str]], right_from: int = 3) -> list[str]:
    """Rows as aligned columns under a dashed header; columns from ``right_from`` on are right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(
            "  ".join(
                c.rjust(w) if i >= right_from else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def build_connectors(cfg: WorkspaceConfig, accounts: Sequence[AccountConfig]) -> dict[str, Connector]:
    """Every selected account's connector, validated before anything runs (exit 2 on error)."""
    index = {a.name: i for i, a in enumerate(cfg.accounts)}
    return {a.name: get_connector(a.connector).from_account(a, cfg, index[a.name]) for a in accounts}


def select_accounts(
    cfg: WorkspaceConfig, names: Sequence[str] | None, clients: Sequence[str] | None = None
) -> list[AccountConfig]:
    """The named accounts (all if none), of the given clients only (all if none)."""
    for c in clients or ():
        cfg.check_client(c)
    chosen = list(cfg.accounts) if not names else [cfg.account(n) for n in names]
    if clients:
        chosen = [a for a in chosen if cfg.client_of_account(a) in clients]
    return chosen


def run_sync(
    cfg: WorkspaceConfig,
    *,
    accounts: Sequence[str] | None = None,
    clients: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    wait: float = 0.0,
    now: int | None = None,
    reconcile: bool = False,
    progress: ProgressObserver | None = None,
    stop: StopRequest | None = None,
) -> RunReport:
    """One scheduled run over the selected accounts. Never raises for one account's failure.

    A dry run pulls and computes everything inside one transaction that is rolled back:
    the ledger is left exactly as it was (DESIGN §6.8), and nothing is pushed. Any other
    run is recorded in the ledger's run history (:meth:`Ledger.runs`).
    ``reconcile`` compares every list with the platform's real membership first.
    ``progress`` hears of every phase and batch; ``stop``, once set, ends the run after
    the batch in progress.
    """
    selected = select_accounts(cfg, accounts, clients)
    if not selected:
        msg = (
            "the workspace has no [[accounts]]; add one (see the config reference)"
            if not cfg.accounts
            else f"no account of client(s) {list(clients or [])} among {[a.name for a in cfg.accounts]}"
        )
        raise ConfigError(msg)
    connectors = build_connectors(cfg, selected)
    clients = sorted({cfg.client_of_account(a) for a in selected})
    with run_lock(cfg.ledger_target, cfg.workspace.name, clients, wait=wait):
        ledger = open_ledger(cfg.ledger_target)
        try:
            ledger.check_writable()
            opts: dict[str, Any] = {
                "dry_run": dry_run,
                "force": force,
                "now": now,
                "reconcile": reconcile,
                "progress": progress,
                "stop": stop,
            }
            if dry_run:
                with ledger.scratch():
                    return _run(cfg, ledger, selected, connectors, **opts)
            return _recorded(cfg, ledger, selected, connectors, opts)
        finally:
            for c in connectors.values():
                c.close()
            ledger.close()


def _recorded(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    selected: Sequence[AccountConfig],
    connectors: dict[str, Connector],
    opts: dict[str, Any],
) -> RunReport:
    """``_run``, recorded in the run history: its start at once, its end and report when it ends."""
    run_id = ledger.start_run(started_at=time.time(), now=opts["now"], pid=os.getpid())
    try:
        report = _run(cfg, ledger, selected, connectors, run_id=run_id, **opts)
    except BaseException as exc:
        # stopped at once (a second signal) or a bug outside any account: say so, then go on failing
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            why = "stopped at once; the batch in progress was rolled back"
        else:
            why = f"unexpected {type(exc).__name__}: {exc}"
        try:
            ledger.finish_run(run_id, finished_at=time.time(), result="aborted", exit_code=None, error=why)
        except Exception:  # the ledger itself may be what failed
            log.warning("could not record the end of run %d in the run history", run_id, exc_info=True)
        raise
    errors = "; ".join(f"{a.name}: {a.error}" for a in report.accounts if a.error) or None
    ledger.finish_run(
        run_id,
        finished_at=time.time(),
        result=report.result,
        exit_code=report.exit_code,
        report=report.as_dict(),
        error=errors,
    )
    return report


def _run(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    selected: Sequence[AccountConfig],
    connectors: dict[str, Connector],
    *,
    dry_run: bool,
    force: bool,
    now: int | None,
    reconcile: bool,
    progress: ProgressObserver | None = None,
    stop: StopRequest | None = None,
    run_id: int | None = None,
) -> RunReport:
    report = RunReport(dry_run=dry_run, started_at=clock_now(), run_id=run_id)
    reports = {a.name: AccountReport(a.name, a.connector, cfg.client_of_account(a)) for a in selected}
    report.accounts = list(reports.values())
    #: where each account is: "pull", "pulled", "push" or "done"
    steps = {a.name: "" for a in selected}
    try:
        _steps(
            cfg, ledger, selected, connectors, report, reports, steps, dry_run, force, now, reconcile, progress, stop
        )
    except _Stopped:
        assert stop is not None
        report.interrupted, report.interrupt_code = stop.reason, stop.exit_code
        for a in report.accounts:
            if a.ok and steps[a.name] != "done":
                a.stopped = True
                a.fail(f"interrupted by {stop.reason}: {_where_stopped(a, steps[a.name])}")
        log.warning("run interrupted by %s after the batch in progress", stop.reason)
    report.finished_at = clock_now()
    return report


def _where_stopped(a: AccountReport, step: str) -> str:
    if step == "pull":
        return f"pull stopped after {a.pulled} new events were saved; the next run resumes it"
    if step == "pulled":
        return "pulled and saved; lists not pushed (the next run pushes them)"
    if step == "push":
        return "push stopped (see its lists); the next run pushes the rest"
    return "not run (the next run runs it)"


def _steps(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    selected: Sequence[AccountConfig],
    connectors: dict[str, Connector],
    report: RunReport,
    reports: dict[str, AccountReport],
    steps: dict[str, str],
    dry_run: bool,
    force: bool,
    now: int | None,
    reconcile: bool,
    progress: ProgressObserver | None,
    stop: StopRequest | None,
) -> None:
    vocab = Vocabulary(cfg)
    for acc in selected:
        _check(stop)
        rep = reports[acc.name]
        result = IngestResult()
        steps[acc.name] = "pull"
        try:
            _pull(cfg, vocab, ledger, acc, connectors[acc.name], result, progress, stop)
        except PressureError as exc:
            rep.fail(f"pull: {exc}")
            continue
        except _Stopped:
            _pulled(rep, result)
            raise
        except Exception as exc:  # a connector bug must not stop the other accounts
            log.exception("pull of %s failed", acc.name)
            rep.fail(f"pull: unexpected {type(exc).__name__}: {exc}")
            continue
        _pulled(rep, result)
        steps[acc.name] = "pulled" if acc.lists else "done"
    _check(stop)
    t = now if now is not None else (cfg.clock or clock_now())
    report.as_of = t
    policy = Policy(cfg)
    with phase(progress, None, "scores and lists"):
        # Scores are a function of the ledger and t: every contact, every run (DESIGN §6.8).
        report.contacts_scored = score_all(ledger, t, cfg.tiers, cfg.scoring, cfg.tolerance)
        healthy = [a for a in selected if reports[a.name].ok]
        check_stops(ledger, cfg, t)  # an arm past its complaint threshold goes back to the base rules
        desired = compute_lists(ledger, policy, healthy, t)
    for acc in healthy:
        rep = reports[acc.name]
        for lst in acc.lists:
            _check(stop)
            steps[acc.name] = "push"
            lrep = ListReport(lst.name)
            rep.lists.append(lrep)
            try:
                _push_list(
                    cfg,
                    ledger,
                    connectors[acc.name],
                    acc,
                    lst,
                    desired[ListKey(acc.name, lst.name)],
                    lrep,
                    dry_run=dry_run,
                    force=force,
                    reconcile=reconcile,
                    progress=progress,
                    stop=stop,
                )
            except PressureError as exc:
                lrep.error = str(exc)
                rep.fail(f"push {lst.name}: {exc}")
            except _Stopped:
                raise
            except Exception as exc:
                log.exception("push of %s/%s failed", acc.name, lst.name)
                lrep.error = f"unexpected {type(exc).__name__}: {exc}"
                rep.fail(f"push {lst.name}: {lrep.error}")
        steps[acc.name] = "done"


def _pulled(rep: AccountReport, result: IngestResult) -> None:
    rep.pulled = result.touches_added + result.engagements_added
    rep.touches_added = result.touches_added
    rep.engagements_added = result.engagements_added
    rep.contacts_scored = len(result.contact_ids)


def audience_watermark(account: str) -> str:
    """The key an account's audience pull keeps its state under, apart from its events'."""
    return f"{account}#audience"


def _pull(
    cfg: WorkspaceConfig,
    vocab: Vocabulary,
    ledger: LedgerAPI,
    acc: AccountConfig,
    connector: Connector,
    total: IngestResult,
    progress: ProgressObserver | None = None,
    stop: StopRequest | None = None,
) -> None:
    """Pull events, then the audience, into ``total``; each batch is committed before the next is read."""
    client = cfg.client_of_account(acc)
    checker = BatchChecker(vocab, acc, client)
    with phase(progress, acc.name, "pull", unit="records") as ph:
        for batch in connector.pull(ledger.watermark(acc.name)):
            checker.check(batch)
            total.merge(ledger.ingest(batch, account=acc.name, client=client, default_brand=acc.brand))
            ph.advance(len(batch.touches) + len(batch.engagements) + len(batch.contacts))
            _check(stop)
    key = audience_watermark(acc.name)
    with phase(progress, acc.name, "audience", unit="contacts") as ph:
        for batch in connector.pull_audience(ledger.watermark(key)):
            checker.check(batch)
            total.merge(ledger.ingest(batch, account=acc.name, client=client, default_brand=acc.brand, watermark=key))
            ph.advance(len(batch.touches) + len(batch.engagements) + len(batch.contacts))
            _check(stop)


def _push_list(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    connector: Connector,
    acc: AccountConfig,
    lst: ListConfig,
    want: set[int],
    lrep: ListReport,
    *,
    dry_run: bool,
    force: bool,
    reconcile: bool,
    progress: ProgressObserver | None = None,
    stop: StopRequest | None = None,
) -> None:
    with phase(progress, acc.name, f"push {lst.name}", unit="changes") as ph:
        _push_list_in(cfg, ledger, connector, acc, lst, want, lrep, ph, dry_run, force, reconcile, stop)


def _push_list_in(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    connector: Connector,
    acc: AccountConfig,
    lst: ListConfig,
    want: set[int],
    lrep: ListReport,
    ph: PhaseHandle,
    dry_run: bool,
    force: bool,
    reconcile: bool,
    stop: StopRequest | None,
) -> None:
    list_name = lst.name
    have = _repair(cfg, ledger, connector, acc, lst, lrep, reconcile=reconcile)
    adds = want - have
    removes = have - want
    lrep.size, lrep.added, lrep.removed = len(want), len(adds), len(removes)
    if dry_run or (not adds and not removes):
        return
    ws = cfg.workspace
    if not force and len(have) >= ws.guard_min_size:
        if len(removes) > ws.max_remove_share * len(have):
            msg = (
                f"would remove {len(removes)} of {len(have)} contacts ({len(removes) / len(have):.0%}, "
                f"more than max_remove_share {ws.max_remove_share:.0%}); nothing pushed: check the source data, "
                "then rerun with --force if this is intended"
            )
            raise GuardError(msg)
    # Growth is measured against the size the list was meant to have at its last push, so
    # finishing a push that failed half-way is not mistaken for a mass addition.
    before = ledger.list_target(acc.name, list_name)
    before = len(have) if before is None else before
    grow = len(want) - before
    if not force and before >= ws.guard_min_size and grow > ws.max_add_share * before:
        msg = (
            f"would grow the list from {before} to {len(want)} contacts (+{grow / before:.0%}, "
            f"more than max_add_share {ws.max_add_share:.0%}); nothing pushed: check the source data "
            "and the run's --now, then rerun with --force if this is intended"
        )
        raise GuardError(msg)
    ledger.set_list_target(acc.name, list_name, len(want))
    ph.expect(len(adds) + len(removes))
    added = removed = 0
    for batch in connector.push(
        lst, ledger.members(acc.name, adds), ledger.members(acc.name, removes), ledger.members(acc.name, want)
    ):
        ledger.confirm_push(acc.name, list_name, batch.added, batch.removed, batch.external_ids)
        lrep.missing += len(batch.missing)
        added, removed = added + len(batch.added), removed + len(batch.removed)
        ph.advance(len(batch.added) + len(batch.removed) + len(batch.missing))
        if stop:
            lrep.error = (
                f"interrupted by {stop.reason}: {added} of {len(adds)} additions and {removed} of {len(removes)} "
                "removals confirmed and saved; the next run pushes the rest"
            )
            raise _Stopped
    lrep.pushed = True


def _repair(
    cfg: WorkspaceConfig,
    ledger: LedgerAPI,
    connector: Connector,
    acc: AccountConfig,
    lst: ListConfig,
    lrep: ListReport,
    *,
    reconcile: bool,
) -> set[int]:
    """The list's membership to diff against: the last confirmed state, unless the platform's differs.

    A list gone from the platform, or whose size or members differ from what it last
    confirmed, is taken as it really is, so the push that follows repairs it (DESIGN §6.5).
    """
    have = ledger.list_members(acc.name, lst.name)
    remote = connector.inspect_list(lst, full=reconcile)
    if remote is None:
        if reconcile:
            lrep.drift = "not inspectable: the connector cannot read its lists, kept the confirmed state"
        return have
    if not remote.exists:
        if have:
            lrep.drift = f"missing on the platform (had {len(have)} confirmed): recreated"
            ledger.replace_list(acc.name, lst.name, ())
        return set()
    if remote.members is None and remote.size is not None and remote.size != len(have):
        remote = connector.inspect_list(lst, full=True) or remote
    if remote.members is None:
        return have
    real, unknown = ledger.match_members(
        acc.name,
        cfg.client_of_account(acc),
        [m.email for m in remote.members if m.email and not m.external_id],
        [m.external_id for m in remote.members if m.external_id],
    )
    if real != have or unknown:
        lrep.drift = (
            f"platform holds {len(real) + unknown} members, {len(real & have)} of the {len(have)} confirmed"
            + (f", {unknown} unknown to the ledger (left alone)" if unknown else "")
        )
        if real != have:
            ledger.replace_list(acc.name, lst.name, real)
    return real


class BatchChecker:
    """Rejects a pulled batch naming an unknown channel, brand, family or engagement type (built-in
    or declared under ``[value] relationship``), a brand of another client, an invalid email or a
    non-positive weight, before any of it is written (DESIGN §7.6)."""

    def __init__(self, vocab: Vocabulary, acc: AccountConfig, client: str) -> None:
        self.vocab = vocab
        self.acc = acc
        self.client = client
        self._emails: set[str] = set()
        self._brands: set[str] = set()

    def _where(self, what: str, event_id: str) -> str:
        return f"account {self.acc.name!r}: {what} {event_id!r}"

    def _brand(self, brand: str | None, where: str) -> None:
        b = brand or self.acc.brand
        if b is None or b in self._brands:
            return
        self.vocab.brand(b, f"{where}: brand")
        self.vocab.brand_of_client(b, self.client, f"{where}: brand")
        self._brands.add(b)

    def _email(self, email: str, where: str, phones: tuple[str | None, ...] = ()) -> None:
        """A valid email, or none and a phone; every phone in E.164 as connectors hand them over."""
        numbers = [p for p in phones if p]
        if email or not numbers:
            if email not in self._emails:
                check_email(email, f"{where}: email")
                self._emails.add(email)
        for p in numbers:
            if p not in self._emails:
                try:
                    ok = normalize_phone(p) == p
                except ValueError:
                    ok = False
                if not ok:
                    msg = f"{where}: phone: {p!r} is not a phone number in E.164 (+33612345678)"
                    raise InvalidValueError(msg)
                self._emails.add(p)

    def check(self, batch: Batch) -> None:
        """Raise :class:`InvalidValueError` for the first bad row of ``batch``; write nothing."""
        v = self.vocab
        for t in batch.touches:
            where = self._where("touch", t.event_id)
            self._email(t.email, where, (t.phone,))
            if t.channel not in v.channels:
                v.channel(t.channel, f"{where}: channel")
            if t.family not in v.families:
                v.family(t.family, f"{where}: family")
            self._brand(t.brand, where)
            if t.weight is not None:
                check_weight(t.weight, f"{where}: weight")
        for e in batch.engagements:
            where = self._where("engagement", e.event_id)
            self._email(e.email, where, (e.phone,))
            if e.type not in v.engagement_types:
                v.engagement_type(e.type, f"{where}: type")
            if e.channel is not None and e.channel not in v.channels:
                v.channel(e.channel, f"{where}: channel")
            self._brand(e.brand, where)
            if e.amount is not None or e.currency is not None:
                check_amount(e.amount, e.currency, f"{where}: amount")
        for c in batch.contacts:
            where = self._where("contact", c.email or (c.phones[0] if c.phones else ""))
            self._email(c.email, where, c.phones)
            if c.status is not None and c.status not in AUDIENCE_STATUSES:
                msg = f"{where}: status {c.status!r}; expected one of {sorted(AUDIENCE_STATUSES)}"
                raise InvalidValueError(msg)
            if c.channel not in v.channels:
                v.channel(c.channel, f"{where}: channel")
