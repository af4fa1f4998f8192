"""Workspace configuration: one TOML file, validated by pydantic.

Every error names the file, the key path and what was expected. Secrets never live in
the file: an account names the environment variable that holds its credential.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .experiment_config import ExperimentConfig, experiment_problems
from .models import ENGAGEMENT_TYPES
from .timeutil import WEEKDAYS, parse_duration, parse_instant, zone

DEFAULT_CHANNELS = ("email", "sms", "push", "call", "mail", "ads")
_SECRET_KEY = re.compile(r"(token|secret|password|api_?key|client_secret)$", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_EXAMPLES = "such as '36h', '7d' or '2w'"
#: the value segments rules may target (see :mod:`pressure_sdk.value`)
VALUE_SEGMENTS = ("champions", "loyal", "new", "potential", "at_risk", "hibernating", "prospect")


def _owner(info: ValidationInfo | None) -> str:
    """`` (rule 'weekly')`` or `` (tier 'engaged')``: what a bad duration belongs to, if known."""
    data = info.data if info is not None else {}
    if data.get("id"):
        return f" (rule {data['id']!r})"
    if data.get("name"):
        return f" (tier {data['name']!r})"
    return ""


def _duration(value: Any, info: ValidationInfo | None = None) -> int:
    """A duration in seconds from '36h', '7d', '2w' or a number of seconds; must be positive.

    Errors say what was expected, what was given, whether it was negative or zero, and the
    rule (or tier) it belongs to, e.g. ``'-7d' is negative: expected a positive duration
    such as '36h', '7d' or '2w' (rule 'weekly')``.
    """
    owner = _owner(info)
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = -parse_duration(text[1:]) if text.startswith("-") else parse_duration(text)
        except ValueError:
            msg = f"expected a duration {_EXAMPLES}, got {value!r}{owner}"
            raise ValueError(msg) from None
    else:
        msg = f"expected a duration {_EXAMPLES}, got {value!r}{owner}"
        raise ValueError(msg)
    if seconds <= 0:
        what = "negative" if seconds < 0 else "zero"
        msg = f"{value!r} is {what}: expected a positive duration {_EXAMPLES}{owner}"
        raise ValueError(msg)
    return seconds


class WorkspaceSection(_Model):
    """``[workspace]``: name, ledger file, default time zone, channels, push guards, frozen clock."""

    name: str = "workspace"
    #: ledger file, relative to the config file's folder, or a ``postgresql://`` URL
    ledger: str = ".pressure/ledger.db"
    #: time zone of contacts who have none
    timezone: str = "UTC"
    week_start: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    channels: list[str] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    #: a push that would remove more than this share of a list stops unless forced
    max_remove_share: float = Field(default=0.5, ge=0, le=1)
    #: a push that would add more than this share of a list's size stops unless forced
    max_add_share: float = Field(default=0.5, ge=0)
    #: lists smaller than this are never guarded
    guard_min_size: int = Field(default=20, ge=0)
    #: evaluate as if it were this instant (demos, replays); unset means the real clock
    now: str | None = None
    #: country (ISO 3166 alpha-2, e.g. ``FR``) of phone numbers given without a prefix
    phone_region: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        zone(v)
        return v

    @field_validator("now")
    @classmethod
    def _instant(cls, v: str | None) -> str | None:
        if v is not None:
            parse_instant(v, "UTC")
        return v


class FamilyConfig(_Model):
    """``[families.<name>]``: a kind of message, its priority, default weight and exemption.

    An exempt family is never blocked and always counted.
    """

    priority: int = 0
    weight: float = Field(default=1.0, ge=0)
    exempt: bool = False


DEFAULT_FAMILIES: dict[str, FamilyConfig] = {
    "transactional": FamilyConfig(priority=100, weight=1, exempt=True),
    "service": FamilyConfig(priority=90, weight=1, exempt=True),
    "care": FamilyConfig(priority=80, weight=1),
    "trigger": FamilyConfig(priority=50, weight=1),
    "marketing": FamilyConfig(priority=10, weight=1),
}


#: the client of a workspace that declares none
DEFAULT_CLIENT = "default"


#: ready-made sets of rules a client or brand may switch on (see :mod:`pressure_sdk.presets`)
PRESETS = ("fr-telemarketing",)
Preset = Literal["fr-telemarketing"]


class ClientConfig(_Model):
    """A company whose contacts, brands and accounts form one world (DESIGN §3)."""

    description: str | None = None
    #: presets switched on for every brand of the client
    presets: list[Preset] = Field(default_factory=list)


class BrandConfig(_Model):
    """Who sends: a priority, an optional group sharing a customer base, its client and consent scope."""

    priority: int = 0
    group: str | None = None
    #: the client that owns the brand; required when the workspace declares several clients
    client: str | None = None
    #: who an opt-out given to this brand binds: brands with the same scope share opt-outs
    #: (default: the brand alone)
    consent_scope: str | None = None
    #: presets switched on for this brand (besides its client's)
    presets: list[Preset] = Field(default_factory=list)
    #: the professional (legal entity) the brand calls for: brands sharing one share the
    #: per-professional limits of a preset such as fr-telemarketing (default: the brand)
    legal_entity: str | None = None


class ListConfig(_Model):
    """A list an account keeps on its platform.

    A ``suppression`` list (the default) holds who must not get this kind of message now;
    a ``care`` list holds the contacts flagged for care (tolerance capital below
    ``value.care_threshold``, by default the tolerance threshold), e.g. for a service team.
    """

    name: str
    kind: Literal["suppression", "care"] = "suppression"
    channel: str = "email"
    family: str = "marketing"
    #: defaults to the account's brand
    brand: str | None = None
    product: str | None = None


class AccountConfig(_Model):
    """``[[accounts]]``: one brand's account on one platform.

    Names its connector, the environment variable holding its credential (never the
    credential itself), the connector's own ``settings`` and the suppression ``lists`` it
    keeps on the platform.
    """

    name: str
    connector: str
    #: the client of the account; defaults to its brand's client
    client: str | None = None
    #: brand of events that carry none, and of the account's lists
    brand: str | None = None
    #: environment variable holding the credential (never the credential itself)
    credential_env: str | None = None
    base_url: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    lists: list[ListConfig] = Field(default_factory=list)

    @field_validator("settings")
    @classmethod
    def _no_inline_secret(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if _SECRET_KEY.search(key):
                msg = (
                    f"'{key}' looks like a secret; secrets never go in the file: put it in an "
                    "environment variable and name that variable with credential_env"
                )
                raise ValueError(msg)
        return v


class Filter(_Model):
    """Which touches or candidates a rule looks at; ``None`` means any."""

    channels: list[str] | None = None
    families: list[str] | None = None
    brands: list[str] | None = None


class AttributeMax(_Model):
    """A cap taken from a contact attribute (a frequency the contact chose)."""

    attribute: str
    fallback: float = Field(ge=0)


class _RuleBase(_Model):
    """Keys every rule shares: its id, client, filters and description."""

    id: str = Field(min_length=1)
    #: the client whose candidates the rule judges; unset: every client, each in its own world
    client: str | None = None
    channels: list[str] | None = None
    families: list[str] | None = None
    brands: list[str] | None = None
    counts: Filter | None = None
    applies: Filter | None = None
    description: str | None = None
    #: a contact attribute holding a date (ISO 8601) from which the rule no longer applies
    #: to the contact (e.g. an express consent to be called), judged at the candidate's time
    lifted_by: str | None = None
    #: with ``lifted_by``: an attribute that must be non-empty too (the consent's source, as evidence)
    lifted_evidence: str | None = None
    #: what reasons call the rule instead of ``<kind>:<id>`` (preset rules: ``fr-telemarketing:attempts``)
    label: str | None = None
    #: a legal reference appended to the rule's reasons
    reference: str | None = None
    #: who the rule's counter belongs to, as reasons name it (preset rules: ``brand X``, ``professional Y``)
    scope_name: str | None = None
    #: only contacts in these value segments (``[value]``): the rule applies to no one else
    value_segments: list[str] | None = None

    @field_validator("value_segments")
    @classmethod
    def _segments(cls, v: list[str] | None) -> list[str] | None:
        unknown = sorted(set(v or ()) - set(VALUE_SEGMENTS))
        if unknown:
            msg = f"unknown value segment(s) {unknown}; expected some of {list(VALUE_SEGMENTS)}"
            raise ValueError(msg)
        return v

    def count_filter(self) -> Filter:
        """Which touches fill the rule's counter: ``counts``, else the rule's own filters."""
        if self.counts is not None:
            return self.counts
        return Filter(channels=self.channels, families=self.families, brands=self.brands)

    def apply_filter(self) -> Filter:
        """Which candidates the rule may block: ``applies``, else the rule's own filters."""
        if self.applies is not None:
            return self.applies
        return Filter(channels=self.channels, families=self.families, brands=self.brands)


class CapRule(_RuleBase):
    """At most ``max`` weighted touches in a rolling ``window`` and/or a ``calendar`` period.

    ``max`` is a number, a per-tier table with a ``default`` entry, or an
    :class:`AttributeMax`; ``scope`` says whose touches count (the candidate's brand, its
    group, or every brand of its client). ``max = 0`` blocks every candidate it applies to.
    """

    kind: Literal["cap"]
    max: float | dict[str, float] | AttributeMax
    window: int | None = None
    calendar: Literal["day", "week", "month"] | None = None
    scope: Literal["brand", "group", "all"] = "brand"

    _dur = field_validator("window", mode="before")(lambda cls, v, info: None if v is None else _duration(v, info))

    @field_validator("max", mode="before")
    @classmethod
    def _max_shape(cls, v: Any) -> Any:
        ok = (
            (isinstance(v, int | float) and not isinstance(v, bool) and v >= 0)
            or (isinstance(v, dict) and "attribute" in v)
            or (
                isinstance(v, dict)
                and all(isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 for x in v.values())
            )
        )
        if not ok:
            msg = (
                "expected a number >= 0, a per-tier table such as {engaged = 5, default = 2}, "
                "or {attribute = 'max_per_week', fallback = 3}"
            )
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _period(self) -> CapRule:
        if self.window is None and self.calendar is None:
            msg = "a cap needs 'window' (e.g. '7d'), 'calendar' (day, week, month) or both"
            raise ValueError(msg)
        if isinstance(self.max, dict) and "default" not in self.max:
            msg = "a per-tier 'max' table needs a 'default' entry for tiers it does not list"
            raise ValueError(msg)
        return self


class GapRule(_RuleBase):
    """At least ``min_gap`` between a counted touch and the candidate, within ``scope``."""

    kind: Literal["gap"]
    min_gap: int
    scope: Literal["brand", "group", "all"] = "brand"

    _dur = field_validator("min_gap", mode="before")(lambda cls, v, info: _duration(v, info))


class QuietRule(_RuleBase):
    """No candidate for ``for`` after one of the ``after`` events.

    With ``match = "product"`` only events about the candidate's product count; ``scope``
    says whose events count (any brand's by default, or the candidate's group or brand).
    """

    kind: Literal["quiet"]
    after: list[str] = Field(min_length=1)
    for_: int = Field(alias="for")
    match: Literal["product"] | None = None
    #: whose events quiet the candidate: any brand's (default), its group's, or its own
    scope: Literal["brand", "group", "all"] = "all"

    _dur = field_validator("for_", mode="before")(lambda cls, v, info: _duration(v, info))

    # event types are checked against the workspace's (built-in and declared relationship
    # types) in WorkspaceConfig._references


_HHMM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class HoursWindow(_Model):
    """One allowed sending window of an hours rule: some weekdays, from ``start`` to ``end`` (``HH:MM``)."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(WEEKDAYS)  # type: ignore[arg-type]
    )
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            msg = f"expected a time 'HH:MM' between 00:00 and 24:00, got {v!r}"
            raise ValueError(msg)
        return v

    def minutes(self) -> tuple[int, int]:
        """(start, end) in minutes since local midnight."""
        sh, sm = (int(x) for x in self.start.split(":"))
        eh, em = (int(x) for x in self.end.split(":"))
        return sh * 60 + sm, eh * 60 + em

    @model_validator(mode="after")
    def _ordered(self) -> HoursWindow:
        s, e = self.minutes()
        if s >= e:
            msg = f"'start' ({self.start}) must be before 'end' ({self.end})"
            raise ValueError(msg)
        return self


class HoursRule(_RuleBase):
    """Sends only inside the ``allowed`` days and hours, in the contact's zone.

    With ``holidays`` (a country code such as ``FR``) public holidays are closed all day,
    with the regional ones of the contact's ``region`` attribute when it has one (e.g.
    ``57`` or ``Alsace-Moselle``); ``timezone`` is the zone of contacts who have none
    (default: the workspace's).
    """

    kind: Literal["hours"]
    allowed: list[HoursWindow] = Field(min_length=1)
    holidays: str | None = None
    timezone: str | None = None

    @field_validator("holidays")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None:
            from .holidays import check_country

            check_country(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            zone(v)
        return v


Rule = Annotated[CapRule | GapRule | QuietRule | HoursRule, Field(discriminator="kind")]


class TierConfig(_Model):
    """A family of recipients; the first tier whose conditions hold wins."""

    name: str
    #: contact first seen at most this long ago
    new_within: int | None = None
    #: engagement score over ``lookback`` at least this
    min_score: float | None = None
    lookback: int = 90 * 86400

    _dur = field_validator("new_within", "lookback", mode="before")(
        lambda cls, v, info: None if v is None else _duration(v, info)
    )


DEFAULT_TIERS = [
    TierConfig(name="new", new_within=30 * 86400),
    TierConfig(name="engaged", min_score=6, lookback=30 * 86400),
    TierConfig(name="active", min_score=1, lookback=90 * 86400),
    TierConfig(name="dormant", min_score=0.5, lookback=180 * 86400),
    TierConfig(name="inactive"),
]


class ScoringConfig(_Model):
    """Points per engagement type. Clicks weigh more than opens, which privacy features inflate."""

    #: event types are checked against the workspace's (built-in and declared relationship types)
    weights: dict[str, float] = Field(default_factory=lambda: {"open": 0.5, "click": 3, "reply": 3, "purchase": 5})


class ToleranceConfig(_Model):
    """Tolerance capital: incidents spend it, good experiences rebuild it."""

    enabled: bool = True
    start: float = 100
    #: below this, the families in ``blocks`` stop and the contact is flagged for care
    threshold: float = 40
    blocks: list[str] = Field(default_factory=lambda: ["marketing"])
    lookback: int = 180 * 86400
    costs: dict[str, float] = Field(
        default_factory=lambda: {"complaint": 60.0, "incident": 30.0, "unsubscribe": 20.0, "bounce": 10.0}
    )
    gains: dict[str, float] = Field(default_factory=lambda: {"click": 5.0, "reply": 5.0, "purchase": 10.0})

    _dur = field_validator("lookback", mode="before")(lambda cls, v, info: _duration(v, info))


#: relationship events beyond purchases that every workspace knows, and their default weights
DEFAULT_RELATIONSHIP: dict[str, float] = {"review": 3.0, "referral": 5.0, "recommendation": 2.0}
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ValueConfig(_Model):
    """``[value]``: how contacts' value is measured (RFM, CLV, relationship) and used.

    ``relationship`` declares engagement types beyond the built-in ones (reviews,
    referrals, recommendations, …) with the points each is worth; sources may then send
    them. Amounts are in ``currency`` (per client in ``client_currency``); an amount in
    another currency counts through ``rates`` (units of the client's currency per unit of
    the other), and without a rate it is left out (and said so).
    """

    #: the currency value is measured in (ISO 4217)
    currency: str = "EUR"
    #: a client's own currency, when it is not ``currency``
    client_currency: dict[str, str] = Field(default_factory=dict)
    #: units of the client's currency one unit of another is worth: ``{ USD = 0.92 }``
    rates: dict[str, float] = Field(default_factory=dict)
    #: relationship event types and their points; declared types are accepted from every source
    relationship: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_RELATIONSHIP))
    #: what one relationship point is worth in the currency (the value score adds them to CLV)
    point_value: float = Field(default=10.0, ge=0)
    #: how far ahead the customer lifetime value looks
    horizon: int = 365 * 86400
    #: arbitration orders one contact's candidates by the contact's value at each candidate's brand
    arbitration: bool = False
    #: tolerance capital below which a contact is listed for care (default: the tolerance threshold)
    care_threshold: float | None = None

    _dur = field_validator("horizon", mode="before")(lambda cls, v, info: _duration(v, info))

    @field_validator("currency")
    @classmethod
    def _code(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", v):
            msg = f"expected an ISO 4217 code such as 'EUR', got {v!r}"
            raise ValueError(msg)
        return v

    @field_validator("client_currency", "rates")
    @classmethod
    def _codes(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, x in v.items():
            code = x if isinstance(x, str) else key
            if not re.fullmatch(r"[A-Z]{3}", code):
                msg = f"expected ISO 4217 codes such as 'EUR', got {code!r}"
                raise ValueError(msg)
            if not isinstance(x, str) and not (x > 0):
                msg = f"a rate must be positive, got {key} = {x!r}"
                raise ValueError(msg)
        return v

    @field_validator("relationship")
    @classmethod
    def _types(cls, v: dict[str, float]) -> dict[str, float]:
        for name in v:
            if name in ENGAGEMENT_TYPES:
                msg = f"{name!r} is a built-in engagement type; relationship types are others (review, referral, …)"
                raise ValueError(msg)
            if not _EVENT_NAME.match(name):
                msg = f"{name!r}: expected a lower-case name of letters, digits and '_' (at most 40)"
                raise ValueError(msg)
        return v

    def currency_of(self, client: str) -> str:
        """The currency ``client``'s value is measured in."""
        return self.client_currency.get(client, self.currency)


class WorkspaceConfig(_Model):
    """The whole workspace file."""

    workspace: WorkspaceSection = Field(default_factory=WorkspaceSection)
    families: dict[str, FamilyConfig] = Field(default_factory=lambda: dict(DEFAULT_FAMILIES))
    clients: dict[str, ClientConfig] = Field(default_factory=dict)
    brands: dict[str, BrandConfig] = Field(default_factory=dict)
    accounts: list[AccountConfig] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    tiers: list[TierConfig] = Field(default_factory=lambda: list(DEFAULT_TIERS))
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    tolerance: ToleranceConfig = Field(default_factory=ToleranceConfig)
    experiments: list[ExperimentConfig] = Field(default_factory=list)
    value: ValueConfig = Field(default_factory=ValueConfig)

    #: folder of the config file; relative paths are resolved against it
    base_dir: Path = Field(default=Path("."), exclude=True)
    #: where the config came from, for error messages
    source: str = Field(default="<config>", exclude=True)

    @model_validator(mode="after")
    def _references(self) -> WorkspaceConfig:
        problems: list[str] = []
        channels = set(self.workspace.channels)
        tiers = {t.name for t in self.tiers}

        def check(where: str, kind: str, names: list[str] | None, known: set[str]) -> None:
            for n in names or []:
                if n not in known:
                    problems.append(f"{where}: unknown {kind} {n!r}; known: {sorted(known)}")

        clients = set(self.clients) or {DEFAULT_CLIENT}
        group_client: dict[str, tuple[str, str]] = {}
        for name, b in self.brands.items():
            where = f"brands.{name}"
            if b.client is not None and b.client not in clients:
                problems.append(f"{where}.client: unknown client {b.client!r}; known: {sorted(clients)}")
            elif b.client is None and len(clients) > 1:
                problems.append(f"{where}.client: the workspace has several clients; say which owns {name!r}")
            if b.group is not None:
                mine = self.client_of_brand(name)
                other = group_client.setdefault(b.group, (mine, name))
                if other[0] != mine:
                    problems.append(
                        f"{where}.group: group {b.group!r} spans clients {other[0]!r} ({other[1]}) and {mine!r}; "
                        "a group shares a customer base, which never crosses clients"
                    )
        seen_rules: set[str] = set()
        for i, rule in enumerate(self.rules):
            where = f"rules[{i}] ({rule.id})"
            if rule.id in seen_rules:
                problems.append(f"{where}.id: duplicate rule id {rule.id!r}")
            if any(rule.id.startswith(f"{p}:") for p in PRESETS):
                problems.append(f"{where}.id: ids starting with a preset's name are the preset's own; rename it")
            seen_rules.add(rule.id)
            if rule.client is not None and rule.client not in clients:
                problems.append(f"{where}.client: unknown client {rule.client!r}; known: {sorted(clients)}")
            for label, f in (("", rule), ("counts.", rule.counts), ("applies.", rule.applies)):
                if f is None:
                    continue
                check(f"{where}.{label}channels", "channel", f.channels, channels)
                check(f"{where}.{label}families", "family", f.families, set(self.families))
                check(f"{where}.{label}brands", "brand", f.brands, set(self.brands))
            if isinstance(rule, CapRule) and isinstance(rule.max, dict):
                check(f"{where}.max", "tier", [k for k in rule.max if k != "default"], tiers)
            if isinstance(rule, QuietRule):
                check(f"{where}.after", "event type", rule.after, set(self.engagement_types))
        if self.tolerance.enabled:
            check("tolerance.blocks", "family", self.tolerance.blocks, set(self.families))
        for owner, presets in [
            *((f"clients.{n}", c.presets) for n, c in self.clients.items()),
            *((f"brands.{n}", b.presets) for n, b in self.brands.items()),
        ]:
            if "fr-telemarketing" in presets and "call" not in channels:
                problems.append(
                    f"{owner}.presets: fr-telemarketing judges calls, but 'call' is not in workspace.channels"
                )
        check("value.client_currency", "client", list(self.value.client_currency), clients)
        check("scoring.weights", "event type", list(self.scoring.weights), set(self.engagement_types))
        names: set[str] = set()
        for i, acc in enumerate(self.accounts):
            where = f"accounts[{i}] ({acc.name})"
            if acc.name in names:
                problems.append(f"{where}.name: duplicate account name {acc.name!r}")
            names.add(acc.name)
            if acc.brand is not None and acc.brand not in self.brands:
                problems.append(f"{where}.brand: unknown brand {acc.brand!r}; known: {sorted(self.brands)}")
            if acc.client is not None and acc.client not in clients:
                problems.append(f"{where}.client: unknown client {acc.client!r}; known: {sorted(clients)}")
            elif acc.brand is not None and acc.brand in self.brands and acc.client is not None:
                if acc.client != self.client_of_brand(acc.brand):
                    problems.append(
                        f"{where}.client: {acc.client!r} is not the client of its brand {acc.brand!r} "
                        f"({self.client_of_brand(acc.brand)!r})"
                    )
            elif acc.brand is None and acc.client is None and len(clients) > 1:
                problems.append(f"{where}.client: the workspace has several clients; set the account's brand or client")
            list_names: set[str] = set()
            for j, lst in enumerate(acc.lists):
                lw = f"{where}.lists[{j}]"
                if lst.name in list_names:
                    problems.append(f"{lw}.name: duplicate list name {lst.name!r}")
                list_names.add(lst.name)
                check(f"{lw}.channel", "channel", [lst.channel], channels)
                check(f"{lw}.family", "family", [lst.family], set(self.families))
                brand = lst.brand or acc.brand
                if brand is None:
                    problems.append(f"{lw}.brand: a list needs a brand (here or on the account)")
                else:
                    check(f"{lw}.brand", "brand", [brand], set(self.brands))
                    if brand in self.brands and self.client_of_brand(brand) != self.client_of_account(acc):
                        problems.append(
                            f"{lw}.brand: brand {brand!r} belongs to client {self.client_of_brand(brand)!r}, "
                            f"not to the account's client {self.client_of_account(acc)!r}"
                        )
        problems += experiment_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- rules --------------------------------------------------------------------

    @functools.cached_property
    def all_rules(self) -> list[CapRule | GapRule | QuietRule | HoursRule]:
        """The file's rules, then those its presets expand to (see :mod:`pressure_sdk.presets`)."""
        from .presets import expand

        return [*self.rules, *expand(self)]

    def with_rules(self, rules: list[Any]) -> WorkspaceConfig:
        """A copy whose file rules are ``rules`` (an experiment arm's); its presets expand anew."""
        copy = self.model_copy(update={"rules": rules})
        copy.__dict__.pop("all_rules", None)  # a cached_property copied with the model
        return copy

    def presets_of(self, brand: str) -> list[str]:
        """The presets switched on for ``brand``: its own and its client's."""
        b = self.brands.get(brand)
        c = self.clients.get(self.client_of_brand(brand))
        mine = [*(c.presets if c else []), *(b.presets if b else [])]
        return list(dict.fromkeys(mine))

    def professional(self, brand: str) -> str:
        """The professional (legal entity) ``brand`` calls for: its ``legal_entity``, else itself."""
        b = self.brands.get(brand)
        return (b.legal_entity if b is not None and b.legal_entity else None) or brand

    # -- clients ------------------------------------------------------------------

    @property
    def client_names(self) -> list[str]:
        """Every client, in file order (one implicit ``default`` client when none is declared)."""
        return list(self.clients) or [DEFAULT_CLIENT]

    def client_of_brand(self, brand: str) -> str:
        """The client owning ``brand`` (a brand that names none belongs to the only client)."""
        b = self.brands.get(brand)
        if b is not None and b.client is not None:
            return b.client
        return self.client_names[0]

    def client_of_account(self, acc: AccountConfig) -> str:
        """The client of an account: its own ``client``, else its brand's, else the only client."""
        if acc.client is not None:
            return acc.client
        if acc.brand is not None:
            return self.client_of_brand(acc.brand)
        return self.client_names[0]

    def brands_of(self, client: str) -> list[str]:
        """The brands ``client`` owns, in file order."""
        return [b for b in self.brands if self.client_of_brand(b) == client]

    def consent_scope(self, brand: str) -> str:
        """The consent scope of ``brand``: brands with the same one share opt-outs."""
        b = self.brands.get(brand)
        return (b.consent_scope if b is not None and b.consent_scope else None) or brand

    def check_client(self, client: str | None) -> str | None:
        """``client`` if the workspace has it; a ConfigError naming the known ones otherwise."""
        if client is not None and client not in self.client_names:
            msg = f"unknown client {client!r}; known: {self.client_names}"
            raise ConfigError(msg)
        return client

    @property
    def engagement_types(self) -> frozenset[str]:
        """Every engagement type sources may send: the built-in ones and the declared relationship types."""
        return ENGAGEMENT_TYPES | frozenset(self.value.relationship)

    @property
    def clock(self) -> int | None:
        """The frozen 'now' of ``workspace.now``, if set."""
        if self.workspace.now is None:
            return None
        return parse_instant(self.workspace.now, self.workspace.timezone)

    @property
    def ledger_path(self) -> Path:
        """The ledger file, resolved against the config file's folder."""
        p = Path(self.workspace.ledger)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def ledger_target(self) -> str | Path:
        """What the ledger is: a ``postgresql://`` URL as written, else :attr:`ledger_path`."""
        target = self.workspace.ledger
        return target if target.startswith(("postgresql://", "postgres://")) else self.ledger_path

    def resolve(self, path: str) -> Path:
        """A path from the file, relative to the config file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def account(self, name: str) -> AccountConfig:
        """The account called ``name``; a ConfigError naming the configured ones otherwise."""
        for acc in self.accounts:
            if acc.name == name:
                return acc
        msg = f"unknown account {name!r}; configured: {[a.name for a in self.accounts]}"
        raise ConfigError(msg)


_TYPE_TAGS = frozenset({"int", "float", "str", "bool", "AttributeMax"})
_RULE_TAGS = frozenset({"cap", "gap", "quiet", "hours"})


def _loc(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a key path: ``rules[2].max``.

    Union members (``float``, ``dict[str,float]``) and the rule-kind tag of a
    discriminated union are pydantic's, not the user's keys, so they are dropped.
    """
    out = ""
    prev: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TYPE_TAGS or "[" in str(part) or (part in _RULE_TAGS and isinstance(prev, int)):
            pass
        else:
            out += ("." if out else "") + str(part)
        prev = part
    return out or "(top level)"


def format_validation_error(source: str, exc: ValidationError) -> str:
    """A pydantic error as the lines users read: the file, then ``key.path: what was expected``."""
    lines = [f"{source}: invalid configuration"]
    seen: set[str] = set()
    for err in exc.errors():
        path = _loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        if path == "(top level)":
            # cross-reference problems carry their own key paths
            for problem in msg.split("\n"):
                lines.append(f"  {problem}")
            continue
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling against the config reference)"
        line = f"  {path}: {msg}"
        if (
            "input" in err
            and repr(err["input"]) not in msg
            and err["type"] not in ("missing", "extra_forbidden")
            and not isinstance(err["input"], dict | list)
        ):
            line += f" (got {err['input']!r})"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "\n".join(lines)


def parse_config(data: dict[str, Any], *, source: str = "<config>", base_dir: Path | None = None) -> WorkspaceConfig:
    """Validate a config mapping; raise ConfigError naming ``source`` and the key path."""
    try:
        cfg = WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    return cfg.model_copy(update={"base_dir": base_dir or Path("."), "source": source})


#: environment variable that replaces the file's ``workspace.ledger`` (run one workspace on
#: another ledger, e.g. the demo on PostgreSQL, without editing the file)
LEDGER_ENV = "PRESSURE_LEDGER"


def load_config(path: str | Path) -> WorkspaceConfig:
    """Read and validate a workspace TOML file.

    ``$PRESSURE_LEDGER``, when set, replaces ``workspace.ledger`` (a path or a
    ``postgresql://`` URL).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        msg = f"{p}: config file not found (pass --config PATH or create pressure.toml)"
        raise ConfigError(msg) from None
    except OSError as exc:
        msg = f"{p}: cannot read config file: {exc.strerror}"
        raise ConfigError(msg) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{p}: not valid TOML: {exc}"
        raise ConfigError(msg) from None
    ledger = os.environ.get(LEDGER_ENV, "").strip()
    if ledger:
        data = {**data, "workspace": {**(data.get("workspace") or {}), "ledger": ledger}}
    return parse_config(data, source=str(p), base_dir=p.resolve().parent)
