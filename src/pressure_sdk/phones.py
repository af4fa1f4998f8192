"""Phone identities: numbers normalized to E.164, and the contact key of a phone-only contact.

A contact is keyed by its normalized email. A contact known only by a phone number (a call
or an SMS whose source gave no email) is keyed ``tel:+33612345678`` (an RFC 3966 URI), and
its number is kept in the ledger's phone identities; when a later source links that number
to an email, the two become one contact.
"""

from __future__ import annotations

import phonenumbers

#: the prefix of the contact key of a phone-only contact
TEL = "tel:"


def normalize_phone(raw: str, region: str | None = None) -> str:
    """``raw`` as E.164 (``+33612345678``); ValueError when it is not a valid number.

    A number without a country prefix (``06 12 34 56 78``) needs ``region`` (ISO 3166
    alpha-2, e.g. ``FR``); ``tel:`` URIs and ``00`` international prefixes are accepted.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if text.lower().startswith(TEL):
        text = text[len(TEL) :]
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text:
        msg = "expected a phone number, got an empty value"
        raise ValueError(msg)
    try:
        num = phonenumbers.parse(text, region if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        hint = "" if text.startswith("+") or region else " (without a country prefix such as +33)"
        msg = f"expected a phone number such as +33612345678, got {raw!r}{hint}"
        raise ValueError(msg) from None
    if not phonenumbers.is_valid_number(num):
        msg = f"{raw!r} is not a valid phone number for its country"
        raise ValueError(msg)
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def phone_key(e164: str) -> str:
    """The contact key of a contact known only by this number."""
    return TEL + e164


def is_phone_key(key: str) -> bool:
    """Whether a contact key is a phone-only contact's (``tel:+…``)."""
    return key.startswith(TEL)


def key_phone(key: str) -> str:
    """The E.164 number of a phone-only contact key."""
    return key[len(TEL) :]


def looks_like_phone(value: str) -> bool:
    """Whether a contact reference is meant as a phone number rather than an email."""
    v = value.strip()
    return "@" not in v and (v.lower().startswith(TEL) or v[:1] in "+0123456789(")
