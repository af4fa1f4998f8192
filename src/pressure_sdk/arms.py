"""Experiment arms at run time: which arm a contact is in, and which rules apply to it.

Assignment is a stable hash of (experiment id, salt, normalized email): the email, not
the contact's row id, because it is the same in every ledger and backend (a row id
depends on import order). A contact's arm never changes during an experiment; its arm's
rules apply from the start date until the end (or until the arm is stopped, when the
contact goes back to the workspace's rules). Contacts of other clients are untouched.

Pure: no SQL, no clock; the ledger's stops are passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import WorkspaceConfig
from .experiment_config import ExperimentConfig, apply_overrides
from .ledger.outcomes import ArmStop
from .policy import Policy
from .timeutil import parse_instant

#: a contact's arms, one (experiment id, arm name) per experiment whose arm overrides rules
ArmKey = tuple[tuple[str, str], ...]


def bucket(experiment: str, salt: str, email: str) -> float:
    """A uniform number in ``[0, 1)`` from (experiment id, salt, normalized email), stable everywhere."""
    digest = hashlib.sha256(f"{experiment}\x1f{salt}\x1f{email}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(slots=True, frozen=True)
class Arm:
    """One arm of a running experiment."""

    name: str
    share: float
    #: rule id -> the fields that change in this arm
    overrides: Mapping[str, Mapping[str, Any]]


@dataclass(slots=True, frozen=True)
class Experiment:
    """One experiment, with its instants resolved in the workspace's time zone."""

    id: str
    client: str
    start: int
    end: int | None
    salt: str
    control: str
    arms: tuple[Arm, ...]
    config: ExperimentConfig

    def arm_of(self, email: str) -> str:
        """The arm of a contact, by its normalized email."""
        u = bucket(self.id, self.salt, email)
        acc = 0.0
        for a in self.arms:
            acc += a.share
            if u < acc:
                return a.name
        return self.arms[-1].name  # shares sum to 1 within rounding

    def running(self, t: int) -> bool:
        """Whether the experiment's rules apply at ``t``."""
        return self.start <= t and (self.end is None or t < self.end)

    def arm(self, name: str) -> Arm:
        """The arm called ``name``."""
        for a in self.arms:
            if a.name == name:
                return a
        msg = f"experiment {self.id!r} has no arm {name!r}; arms: {[a.name for a in self.arms]}"
        raise KeyError(msg)


def experiments_of(cfg: WorkspaceConfig) -> list[Experiment]:
    """The workspace's experiments, resolved."""
    tz = cfg.workspace.timezone
    return [
        Experiment(
            e.id,
            e.client,
            parse_instant(e.start, tz),
            parse_instant(e.end, tz) if e.end is not None else None,
            e.salt,
            e.control_arm,
            tuple(Arm(a.name, a.share, a.rules) for a in e.arms),
            e,
        )
        for e in cfg.experiments
    ]


@dataclass(slots=True)
class Arms:
    """Which policy applies to which contact: the workspace's, or an arm's overridden rules."""

    base: Policy
    experiments: list[Experiment]
    _policies: dict[ArmKey, Policy] = field(default_factory=dict)

    @classmethod
    def of(cls, policy: Policy) -> Arms:
        """The arms of ``policy``'s workspace."""
        return cls(policy, experiments_of(policy.cfg))

    def running(self, client: str, t: int) -> list[Experiment]:
        """Experiments of ``client`` whose rules apply at ``t``."""
        return [e for e in self.experiments if e.client == client and e.running(t)]

    def key(self, client: str, email: str, t: int, stops: Iterable[ArmStop] = ()) -> ArmKey:
        """The contact's arms that change its rules at ``t`` (empty: the workspace's rules)."""
        stopped = {(s.experiment, s.arm): s.at for s in stops}
        out: list[tuple[str, str]] = []
        for e in self.running(client, t):
            name = e.arm_of(email)
            if not e.arm(name).overrides:
                continue
            at = stopped.get((e.id, name))
            if at is not None and at <= t:
                continue
            out.append((e.id, name))
        return tuple(out)

    def policy(self, key: ArmKey) -> Policy:
        """The policy of an arm key (compiled once)."""
        if not key:
            return self.base
        got = self._policies.get(key)
        if got is None:
            overrides: dict[str, dict[str, Any]] = {}
            by_id = {e.id: e for e in self.experiments}
            for exp, arm in key:
                for rid, change in by_id[exp].arm(arm).overrides.items():
                    overrides.setdefault(rid, {}).update(change)
            cfg = self.base.cfg
            got = self._policies[key] = Policy(cfg.with_rules(apply_overrides(cfg, overrides)))
        return got

    def policy_for(self, client: str, email: str, t: int, stops: Iterable[ArmStop] = ()) -> Policy:
        """The policy that decides for this contact at ``t``."""
        return self.policy(self.key(client, email, t, stops))


__all__ = ["Arm", "ArmKey", "Arms", "Experiment", "bucket", "experiments_of"]
