"""``pressure-sync run``: lock → pull → score → suppress → diff → push → report (DESIGN §6)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import AccountConfig, WorkspaceConfig
from .connectors.base import Connector
from .connectors.registry import get_connector
from .errors import ConfigError, GuardError, PressureError
from .ledger import IngestResult, Ledger
from .lock import WorkspaceLock
from .policy import Policy
from .segments import ListKey, compute_lists
from .tiers import rescore
from .timeutil import now as clock_now
from .timeutil import to_iso

log = logging.getLogger("pressure_sdk.sync")
#: contacts not rescored for this long are rescored even without new events
RESCORE_AFTER = 86400


@dataclass
class ListReport:
    name: str
    size: int = 0
    added: int = 0
    removed: int = 0
    #: contacts the platform does not know, so they could not be added (tried again next run)
    missing: int = 0
    pushed: bool = False
    error: str | None = None


@dataclass
class AccountReport:
    name: str
    connector: str
    ok: bool = True
    pulled: int = 0
    touches_added: int = 0
    engagements_added: int = 0
    contacts_scored: int = 0
    error: str | None = None
    lists: list[ListReport] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.error = message if self.error is None else f"{self.error}; {message}"


@dataclass
class RunReport:
    dry_run: bool
    started_at: int
    finished_at: int = 0
    accounts: list[AccountReport] = field(default_factory=list)
    #: contacts whose tier and capital were recomputed (touched by this run, or stale)
    contacts_scored: int = 0

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.accounts)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at),
            "contacts_scored": self.contacts_scored,
            "accounts": [asdict(a) for a in self.accounts],
        }

    def table(self) -> str:
        """The report for people."""
        head = f"pressure-sync run{' (dry run: nothing pushed)' if self.dry_run else ''}"
        rows = [("account", "connector", "status", "pulled", "touches+", "engag.+", "scored")]
        for a in self.accounts:
            rows.append(
                (
                    a.name,
                    a.connector,
                    "ok" if a.ok else "FAILED",
                    str(a.pulled),
                    str(a.touches_added),
                    str(a.engagements_added),
                    str(a.contacts_scored),
                )
            )
        out = [head, "", *_grid(rows)]
        lrows = [("account", "list", "size", "added", "removed", "missing", "pushed")]
        for a in self.accounts:
            for lst in a.lists:
                pushed = "yes" if lst.pushed else ("error" if lst.error else "no")
                lrows.append(
                    (a.name, lst.name, str(lst.size), f"+{lst.added}", f"-{lst.removed}", str(lst.missing), pushed)
                )
        if len(lrows) > 1:
            out += ["", *_grid(lrows)]
        errors = [f"  {a.name}: {a.error}" for a in self.accounts if a.error]
        if errors:
            out += ["", "errors:", *errors]
        ok = sum(a.ok for a in self.accounts)
        out += ["", f"{ok}/{len(self.accounts)} accounts ok"]
        return "\n".join(out)


def _grid(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(
            "  ".join(
                c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def build_connectors(cfg: WorkspaceConfig, accounts: Sequence[AccountConfig]) -> dict[str, Connector]:
    """Every selected account's connector, validated before anything runs (exit 2 on error)."""
    index = {a.name: i for i, a in enumerate(cfg.accounts)}
    return {a.name: get_connector(a.connector).from_account(a, cfg, index[a.name]) for a in accounts}


def select_accounts(cfg: WorkspaceConfig, names: Sequence[str] | None) -> list[AccountConfig]:
    if not names:
        return list(cfg.accounts)
    return [cfg.account(n) for n in names]


def run_sync(
    cfg: WorkspaceConfig,
    *,
    accounts: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    wait: float = 0.0,
    now: int | None = None,
) -> RunReport:
    """One scheduled run over the selected accounts. Never raises for one account's failure."""
    selected = select_accounts(cfg, accounts)
    if not selected:
        msg = "the workspace has no [[accounts]]; add one (see the config reference)"
        raise ConfigError(msg)
    connectors = build_connectors(cfg, selected)
    with WorkspaceLock(f"{cfg.ledger_path}.lock", wait=wait):
        ledger = Ledger(cfg.ledger_path)
        try:
            return _run(cfg, ledger, selected, connectors, dry_run=dry_run, force=force, now=now)
        finally:
            for c in connectors.values():
                c.close()
            ledger.close()


def _run(
    cfg: WorkspaceConfig,
    ledger: Ledger,
    selected: Sequence[AccountConfig],
    connectors: dict[str, Connector],
    *,
    dry_run: bool,
    force: bool,
    now: int | None,
) -> RunReport:
    report = RunReport(dry_run=dry_run, started_at=clock_now())
    reports = {a.name: AccountReport(a.name, a.connector) for a in selected}
    report.accounts = list(reports.values())
    touched: set[int] = set()
    for acc in selected:
        rep = reports[acc.name]
        try:
            result = _pull(ledger, acc, connectors[acc.name])
        except PressureError as exc:
            rep.fail(f"pull: {exc}")
            continue
        except Exception as exc:  # a connector bug must not stop the other accounts
            log.exception("pull of %s failed", acc.name)
            rep.fail(f"pull: unexpected {type(exc).__name__}: {exc}")
            continue
        rep.pulled = result.touches_added + result.engagements_added
        rep.touches_added = result.touches_added
        rep.engagements_added = result.engagements_added
        rep.contacts_scored = len(result.contact_ids)
        touched |= result.contact_ids
    t = now if now is not None else (cfg.clock or clock_now())
    stale = {
        cid
        for (cid,) in ledger.conn.execute(
            "SELECT id FROM contacts WHERE scored_at IS NULL OR scored_at < ?", (t - RESCORE_AFTER,)
        )
    }
    scope = touched | stale
    report.contacts_scored = rescore(ledger, scope, t, cfg.tiers, cfg.scoring, cfg.tolerance) if scope else 0
    policy = Policy(cfg)
    healthy = [a for a in selected if reports[a.name].ok]
    desired = compute_lists(ledger, policy, healthy, t)
    for acc in healthy:
        rep = reports[acc.name]
        for lst in acc.lists:
            lrep = ListReport(lst.name)
            rep.lists.append(lrep)
            try:
                _push_list(
                    cfg,
                    ledger,
                    connectors[acc.name],
                    acc,
                    lst.name,
                    desired[ListKey(acc.name, lst.name)],
                    lrep,
                    dry_run=dry_run,
                    force=force,
                )
            except PressureError as exc:
                lrep.error = str(exc)
                rep.fail(f"push {lst.name}: {exc}")
            except Exception as exc:
                log.exception("push of %s/%s failed", acc.name, lst.name)
                lrep.error = f"unexpected {type(exc).__name__}: {exc}"
                rep.fail(f"push {lst.name}: {lrep.error}")
    report.finished_at = clock_now()
    return report


def _pull(ledger: Ledger, acc: AccountConfig, connector: Connector) -> IngestResult:
    total = IngestResult()
    for batch in connector.pull(ledger.watermark(acc.name)):
        total.merge(ledger.ingest(batch, account=acc.name, default_brand=acc.brand))
    return total


def _push_list(
    cfg: WorkspaceConfig,
    ledger: Ledger,
    connector: Connector,
    acc: AccountConfig,
    list_name: str,
    want: set[int],
    lrep: ListReport,
    *,
    dry_run: bool,
    force: bool,
) -> None:
    have = ledger.list_members(acc.name, list_name)
    adds = want - have
    removes = have - want
    lrep.size, lrep.added, lrep.removed = len(want), len(adds), len(removes)
    if dry_run or (not adds and not removes):
        return
    share = cfg.workspace.max_remove_share
    if not force and len(have) >= cfg.workspace.guard_min_size and len(removes) > share * len(have):
        msg = (
            f"would remove {len(removes)} of {len(have)} contacts ({len(removes) / len(have):.0%}, "
            f"more than max_remove_share {share:.0%}); nothing pushed: check the source data, "
            "then rerun with --force if this is intended"
        )
        raise GuardError(msg)
    lst = next(x for x in acc.lists if x.name == list_name)
    for batch in connector.push(
        lst, ledger.members(acc.name, adds), ledger.members(acc.name, removes), ledger.members(acc.name, want)
    ):
        ledger.confirm_push(acc.name, list_name, batch.added, batch.removed, batch.external_ids)
        lrep.missing += len(batch.missing)
    lrep.pushed = True
