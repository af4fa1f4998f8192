"""Nothing unknown is silently allowed (DESIGN §7.6): the checks on values callers pass in."""

from __future__ import annotations

import math
import re
from datetime import datetime

from .config import WorkspaceConfig
from .errors import InvalidValueError
from .models import normalize_email
from .phones import looks_like_phone, normalize_phone, phone_key

# Deliberately loose: one '@', no spaces or control characters, a dot in the domain. Platforms apply their own rules.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s.\x00-\x1f\x7f]+$")


def check_email(email: str, where: str = "email") -> str:
    """The normalized email; InvalidValueError when it cannot be one."""
    key = normalize_email(email) if isinstance(email, str) else ""
    if not _EMAIL.match(key):
        msg = f"{where}: {email!r} is not a valid email address (expected name@domain.tld)"
        raise InvalidValueError(msg)
    return key


def check_weight(weight: float | None, where: str = "weight") -> float | None:
    """The weight as a float (None stays None); InvalidValueError unless it is a positive finite number."""
    if weight is None:
        return None
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight <= 0:
        msg = f"{where}: expected a positive number, got {weight!r}"
        raise InvalidValueError(msg)
    return float(weight)


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def check_amount(amount: float | None, currency: str | None, where: str = "amount") -> None:
    """InvalidValueError unless ``amount`` is a finite number (refunds are negative) and
    ``currency``, when given, an ISO 4217 code such as ``EUR``; a currency needs an amount."""
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount)
    ):
        msg = f"{where}: expected a finite number, got {amount!r}"
        raise InvalidValueError(msg)
    if currency is not None:
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            msg = f"{where}: currency {currency!r} is not an ISO 4217 code (expected three capitals, e.g. EUR)"
            raise InvalidValueError(msg)
        if amount is None:
            msg = f"{where}: currency {currency} given without an amount"
            raise InvalidValueError(msg)


def to_epoch(value: int | float | datetime, where: str = "at") -> int:
    """Epoch seconds from epoch seconds or an aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"{where}: {value.isoformat()} has no time zone; pass an aware datetime (e.g. tzinfo=timezone.utc)"
            raise InvalidValueError(msg)
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{where}: expected epoch seconds or an aware datetime, got {value!r}"
        raise InvalidValueError(msg)
    return int(value)


class Vocabulary:
    """The channels, brands, families and clients a workspace knows."""

    def __init__(self, cfg: WorkspaceConfig) -> None:
        self.cfg = cfg
        self.channels = frozenset(cfg.workspace.channels)
        self.brands = frozenset(cfg.brands)
        self.families = frozenset(cfg.families)
        self.clients = frozenset(cfg.client_names)
        #: built-in engagement types and the workspace's declared relationship types
        self.engagement_types = cfg.engagement_types

    def _known(self, kind: str, value: object, known: frozenset[str], where: str) -> str:
        if not isinstance(value, str) or value not in known:
            msg = f"{where}: unknown {kind} {value!r}; known: {', '.join(sorted(known)) or '(none configured)'}"
            raise InvalidValueError(msg)
        return value

    def channel(self, value: object, where: str = "channel") -> str:
        """``value`` if it is a known channel; InvalidValueError naming the known ones otherwise."""
        return self._known("channel", value, self.channels, where)

    def brand(self, value: object, where: str = "brand") -> str:
        """``value`` if it is a known brand; InvalidValueError naming the known ones otherwise."""
        return self._known("brand", value, self.brands, where)

    def family(self, value: object, where: str = "family") -> str:
        """``value`` if it is a known family; InvalidValueError naming the known ones otherwise."""
        return self._known("family", value, self.families, where)

    def client(self, value: object, where: str = "client") -> str:
        """``value`` if it is a known client; InvalidValueError naming the known ones otherwise."""
        return self._known("client", value, self.clients, where)

    def engagement_type(self, value: object, where: str = "type") -> str:
        """``value`` if it is a built-in or declared engagement type; InvalidValueError otherwise."""
        if not isinstance(value, str) or value not in self.engagement_types:
            msg = (
                f"{where}: unknown engagement type {value!r}; known: {', '.join(sorted(self.engagement_types))} "
                "(declare other relationship types under [value] relationship)"
            )
            raise InvalidValueError(msg)
        return value

    def brand_of_client(self, brand: str, client: str | None, where: str = "brand") -> str:
        """The brand's client; an error when it is not ``client`` (if given)."""
        owner = self.cfg.client_of_brand(brand)
        if client is not None and owner != client:
            msg = f"{where}: brand {brand!r} belongs to client {owner!r}, not {client!r}"
            raise InvalidValueError(msg)
        return owner

    def send(
        self,
        email: str,
        channel: str,
        brand: str,
        family: str,
        weight: float | None,
        where: str = "",
        phone: str | None = None,
    ) -> tuple[str, float | None]:
        """Check one send's values; returns the contact key and the weight.

        The key is the normalized email; without an email (or when ``email`` is a phone
        number) it is ``tel:+E164`` of the number, which the ledger then maps to the
        contact holding it.
        """
        p = f"{where}: " if where else ""
        self.channel(channel, f"{p}channel")
        self.brand(brand, f"{p}brand")
        self.family(family, f"{p}family")
        return self.contact(email, phone, where), check_weight(weight, f"{p}weight")

    def contact(self, email: str | None, phone: str | None = None, where: str = "") -> str:
        """The contact key of an email, or of a phone number (``tel:+E164``); InvalidValueError otherwise."""
        p = f"{where}: " if where else ""
        if email and not (isinstance(email, str) and looks_like_phone(email)):
            return check_email(email, f"{p}email")
        raw = phone or email
        if not raw:
            return check_email(email or "", f"{p}email")  # says what an email looks like
        try:
            return phone_key(normalize_phone(raw, self.cfg.workspace.phone_region))
        except ValueError as exc:
            msg = f"{p}{'phone' if phone else 'email'}: {exc}"
            raise InvalidValueError(msg) from None
