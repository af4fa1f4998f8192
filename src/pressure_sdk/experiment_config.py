"""The ``[[experiments]]`` section: holdout tests of policies (DESIGN §8).

An experiment splits one client's contacts into arms by a stable hash; each arm may
override fields of named rules (``rules = { "email-weekly" = { max = 2 } }``). These
models check what one experiment can check alone; references to rules and clients, and
overlaps between experiments, are checked with the whole file by
:func:`experiment_problems`.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from .config import WorkspaceConfig

#: what an experiment can be judged on; opens never decide (DESIGN §8)
Metric = Literal["clicks", "unsubscribes", "complaints", "revenue"]
METRICS: tuple[str, ...] = ("clicks", "unsubscribes", "complaints", "revenue")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _date_text(v: Any) -> Any:
    """A TOML date or datetime as ISO text (parsed later in the workspace's time zone)."""
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, str):
        try:
            datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            msg = f"expected a date such as 2026-10-19 or an ISO 8601 instant, got {v!r}"
            raise ValueError(msg) from None
        return v.strip()
    return v


class ArmConfig(_Model):
    """One arm: its name, the share of the client's contacts it gets, its rule overrides.

    ``rules`` maps a rule id to the fields that change in this arm, e.g.
    ``{ "email-weekly" = { max = 2 } }``; ``id`` and ``kind`` cannot change. An arm
    without overrides runs the workspace's rules.
    """

    name: str = Field(min_length=1)
    share: float = Field(gt=0, le=1)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ExperimentConfig(_Model):
    """One holdout test of a policy, on one client, from ``start`` (a date or instant) to ``end``.

    ``metric`` is the primary metric (clicks per contact unless said otherwise);
    ``complaint_stop`` stops an arm whose share of complaining contacts passes it (its
    contacts go back to the workspace's rules); ``control`` names the arm others are
    compared with (the first arm by default); ``pre_period`` is how far before the start
    the engagement used for variance reduction (CUPED) reaches.
    """

    id: str = Field(min_length=1)
    client: str = Field(min_length=1)
    start: str
    end: str | None = None
    salt: str = ""
    metric: Metric = "clicks"
    complaint_stop: float | None = Field(default=None, gt=0, le=1)
    control: str | None = None
    pre_period: int = 28 * 86400
    arms: list[ArmConfig] = Field(min_length=2)

    _dates = field_validator("start", "end", mode="before")(_date_text)

    @field_validator("pre_period", mode="before")
    @classmethod
    def _pre(cls, v: Any) -> int:
        from .config import _duration

        return _duration(v)

    @model_validator(mode="after")
    def _arms(self) -> ExperimentConfig:
        problems: list[str] = []
        names = [a.name for a in self.arms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            problems.append(f"arms: duplicate arm names {dup}")
        total = math.fsum(a.share for a in self.arms)
        if abs(total - 1) > 1e-9:
            parts = " + ".join(f"{a.share:g}" for a in self.arms)
            problems.append(f"arms: shares must sum to 1, got {total:g} ({parts})")
        if self.control is not None and self.control not in names:
            problems.append(f"control: unknown arm {self.control!r}; arms: {names}")
        if self.end is not None and datetime.fromisoformat(self.end.replace("Z", "+00:00")).replace(
            tzinfo=None
        ) <= datetime.fromisoformat(self.start.replace("Z", "+00:00")).replace(tzinfo=None):
            problems.append(f"end: {self.end!r} is not after start {self.start!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def control_arm(self) -> str:
        """The arm the others are compared with."""
        return self.control or self.arms[0].name

    def overridden(self) -> set[str]:
        """Ids of the rules some arm overrides."""
        return {rid for a in self.arms for rid in a.rules}


def apply_overrides(cfg: WorkspaceConfig, overrides: dict[str, dict[str, Any]]) -> list[Any]:
    """The workspace's rules with ``overrides`` applied (each re-validated as a rule).

    Raises ValueError naming the rule id for an unknown rule or an invalid field.
    """
    by_id = {r.id: r for r in cfg.rules}
    out = []
    for rule in cfg.rules:
        change = overrides.get(rule.id)
        if not change:
            out.append(rule)
            continue
        fixed = sorted({"id", "kind"} & set(change))
        if fixed:
            msg = f"{rule.id}: {fixed} cannot change in an arm"
            raise ValueError(msg)
        data = {**rule.model_dump(by_alias=True, exclude_unset=True), **change}
        try:
            out.append(type(rule).model_validate(data))
        except ValidationError as exc:
            errs = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
            )
            msg = f"{rule.id}: {errs}"
            raise ValueError(msg) from None
    unknown = sorted(set(overrides) - set(by_id))
    if unknown:
        msg = f"unknown rule ids {unknown}; known: {sorted(by_id)}"
        raise ValueError(msg)
    return out


def experiment_problems(cfg: WorkspaceConfig) -> list[str]:
    """Cross-references of ``[[experiments]]``: clients, rule ids, overrides, overlaps."""
    from .timeutil import parse_instant

    problems: list[str] = []
    tz = cfg.workspace.timezone
    clients = set(cfg.client_names)
    rule_client = {r.id: r.client for r in cfg.rules}
    seen: dict[str, int] = {}
    spans: list[tuple[int, ExperimentConfig, int, float]] = []
    for i, e in enumerate(cfg.experiments):
        where = f"experiments[{i}] ({e.id})"
        if e.id in seen:
            problems.append(f"{where}.id: duplicate experiment id {e.id!r}")
        seen[e.id] = i
        if e.client not in clients:
            problems.append(f"{where}.client: unknown client {e.client!r}; known: {sorted(clients)}")
        for j, arm in enumerate(e.arms):
            aw = f"{where}.arms[{j}] ({arm.name}).rules"
            for rid in arm.rules:
                if rid not in rule_client:
                    problems.append(f"{aw}: unknown rule id {rid!r}; known: {sorted(rule_client)}")
                elif rule_client[rid] not in (None, e.client):
                    problems.append(
                        f"{aw}.{rid}: the rule belongs to client {rule_client[rid]!r}, "
                        f"not to the experiment's {e.client!r}"
                    )
            known = {k: v for k, v in arm.rules.items() if k in rule_client}
            try:
                apply_overrides(cfg, known)
            except ValueError as exc:
                problems.append(f"{aw}.{exc}")
        start = parse_instant(e.start, tz)
        end = parse_instant(e.end, tz) if e.end is not None else math.inf
        spans.append((i, e, start, end))
    for a, ea, sa, fa in spans:
        for b, eb, sb, fb in spans:
            if b <= a or ea.client != eb.client or not (sa < fb and sb < fa):
                continue
            shared = sorted(ea.overridden() & eb.overridden())
            if shared:
                problems.append(
                    f"experiments[{b}] ({eb.id}): overlaps experiment {ea.id!r} on client {ea.client!r} "
                    f"and the same rules {shared}; give one an end before the other starts, or test other rules"
                )
    return problems


__all__ = ["METRICS", "ArmConfig", "ExperimentConfig", "Metric", "apply_overrides", "experiment_problems"]
