"""Duration errors name the key path, the rule (or tier) and what is wrong with the value."""

from __future__ import annotations

from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError


def error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def cap(window: Any) -> dict[str, Any]:
    return {"rules": [{"id": "weekly", "kind": "cap", "max": 1, "window": window}]}


@pytest.mark.parametrize("value", ["-7d", " -7d", "-36h", -3600])
def test_a_negative_duration_is_called_negative_and_names_the_rule(value: Any) -> None:
    text = error(cap(value))
    assert f"rules[0].window: {value!r} is negative: expected a positive duration" in text
    assert "(rule 'weekly')" in text


@pytest.mark.parametrize("value", ["0d", "0s", 0])
def test_a_zero_duration_is_called_zero(value: Any) -> None:
    assert f"rules[0].window: {value!r} is zero: expected a positive duration" in error(cap(value))


@pytest.mark.parametrize("value", ["7 days", "-x", "7", 1.5, True])
def test_an_unreadable_duration_says_what_was_expected_and_the_rule(value: Any) -> None:
    text = error(cap(value))
    assert f"rules[0].window: expected a duration such as '36h', '7d' or '2w', got {value!r} (rule 'weekly')" in text
    assert "negative" not in text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"rules": [{"id": "spacing", "kind": "gap", "min_gap": "-2h"}]},
            "rules[0].min_gap: '-2h' is negative: expected a positive duration such as '36h', '7d' or '2w' "
            "(rule 'spacing')",
        ),
        (
            {"rules": [{"id": "calm", "kind": "quiet", "after": ["complaint"], "for": "-30d"}]},
            "rules[0].for: '-30d' is negative",
        ),
        ({"tiers": [{"name": "new", "new_within": "-30d"}]}, "tiers[0].new_within: '-30d' is negative"),
        ({"tiers": [{"name": "new", "new_within": "-30d"}]}, "(tier 'new')"),
        ({"tolerance": {"lookback": "soon"}}, "tolerance.lookback: expected a duration such as"),
    ],
)
def test_every_duration_key_gives_the_same_kind_of_message(data: dict[str, Any], expected: str) -> None:
    assert expected in error(data)


def test_the_second_rule_is_named_not_the_first() -> None:
    data = {
        "rules": [
            {"id": "fine", "kind": "cap", "max": 1, "window": "7d"},
            {"id": "broken", "kind": "gap", "min_gap": "-1d"},
        ]
    }
    text = error(data)
    assert "rules[1].min_gap" in text and "(rule 'broken')" in text and "'fine'" not in text


def test_good_durations_still_parse() -> None:
    cfg = parse_config(cap("2w"))
    assert cfg.rules[0].window == 14 * 86400  # type: ignore[union-attr]
    assert parse_config(cap(90)).rules[0].window == 90  # type: ignore[union-attr]
