"""Row parsers of the files connector, without files."""

from __future__ import annotations

from typing import Any

import pytest
from pressure_connector_files.parse import (
    RowError,
    attribute_value,
    parse_contact,
    parse_engagement,
    parse_touch,
)

TOUCH: dict[str, Any] = {
    "event_id": "t1",
    "email": "a@x.io",
    "channel": "email",
    "brand": "acme",
    "family": "marketing",
    "sent_at": "2024-01-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ("-3", -3),
        ("0", 0),
        ("1.5", 1.5),
        ("2e3", 2000.0),
        ("007", "007"),
        ("1_000", "1_000"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("vip", "vip"),
        (" 4 ", 4),
        (True, True),
        (12, 12),
    ],
)
def test_attribute_value(text: Any, value: Any) -> None:
    got = attribute_value(text)
    assert got == value
    assert type(got) is type(value)


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"email": "a@"}, "email", "expected an email address, got 'a@'"),
        ({"email": "@x.io"}, "email", "expected an email address, got '@x.io'"),
        ({"email": "a b@x.io"}, "email", "expected an email address, got 'a b@x.io'"),
        ({"email": None}, "email", "required, got an empty value"),
        ({"channel": "  "}, "channel", "required, got an empty value"),
        ({"weight": float("inf")}, "weight", "expected a number >= 0, got inf"),
        ({"weight": True}, "weight", "expected a number >= 0, got true"),
        ({"weight": "nan"}, "weight", "expected a number >= 0, got 'nan'"),
        ({"campaign": {"a": 1}}, "campaign", 'expected text, got {"a": 1}'),
        ({"sent_at": "2024-13-01"}, "sent_at", "expected an ISO 8601 timestamp, got '2024-13-01'"),
    ],
)
def test_touch_row_errors(changes: dict[str, Any], column: str, message: str) -> None:
    with pytest.raises(RowError) as info:
        parse_touch({**TOUCH, **changes}, timezone="UTC", default_brand=None)
    assert (info.value.column, info.value.message) == (column, message)


def test_touch_numbers_from_json_become_text_ids() -> None:
    t = parse_touch({**TOUCH, "event_id": 42, "weight": 3}, timezone="UTC", default_brand=None)
    assert t.event_id == "42"
    assert t.weight == 3.0


def test_engagement_type_is_exact() -> None:
    row = {"event_id": "e", "email": "a@x.io", "type": "Click", "occurred_at": "2024-01-01"}
    with pytest.raises(RowError) as info:
        parse_engagement(row, timezone="UTC")
    assert info.value.column == "type"
    assert parse_engagement({**row, "type": " click "}, timezone="UTC").type == "click"


PURCHASE: dict[str, Any] = {"event_id": "p", "email": "a@x.io", "type": "purchase", "occurred_at": "2024-01-01"}


@pytest.mark.parametrize(
    ("changes", "amount", "currency"),
    [
        ({"amount": "42.50", "currency": "EUR"}, 42.5, "EUR"),
        ({"amount": -10, "currency": "USD"}, -10.0, "USD"),
        ({"amount": " 3 "}, 3.0, None),
        ({}, None, None),
    ],
)
def test_purchase_amounts(changes: dict[str, Any], amount: float | None, currency: str | None) -> None:
    e = parse_engagement({**PURCHASE, **changes}, timezone="UTC")
    assert (e.amount, e.currency) == (amount, currency)


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"amount": "12,50"}, "amount", "expected a number such as 42.50, got '12,50'"),
        ({"amount": "inf"}, "amount", "expected a finite number, got 'inf'"),
        ({"amount": True}, "amount", "expected a number, got true"),
        ({"amount": 5, "currency": "eur"}, "currency", "expected an ISO 4217 code such as EUR, got 'eur'"),
        ({"currency": "EUR"}, "currency", "a currency needs an amount"),
    ],
)
def test_purchase_amount_errors(changes: dict[str, Any], column: str, message: str) -> None:
    with pytest.raises(RowError) as info:
        parse_engagement({**PURCHASE, **changes}, timezone="UTC")
    assert (info.value.column, info.value.message) == (column, message)


def test_contact_keeps_unknown_columns_only_as_attributes() -> None:
    c = parse_contact(
        {
            "email": "A@X.io",
            "timezone": "Asia/Tokyo",
            "external_id": 17,
            "paused_until": None,
            "tier_hint": "2",
            "": "x",
        },
        timezone="UTC",
    )
    assert c.email == "a@x.io"
    assert c.timezone == "Asia/Tokyo"
    assert c.external_id == "17"
    assert c.paused_until is None
    assert c.attributes == {"tier_hint": 2}
