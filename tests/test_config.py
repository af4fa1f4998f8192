from pathlib import Path

import pytest

from pressure_sdk.config import CapRule, load_config, parse_config
from pressure_sdk.errors import ConfigError

GOOD = """
[workspace]
name = "t"
timezone = "Europe/Paris"

[brands.acme]
priority = 10
group = "g"

[[accounts]]
name = "acme-files"
connector = "files"
brand = "acme"
credential_env = "ACME_TOKEN"
settings = { touches = ["t.csv"] }
lists = [{ name = "acme-marketing" }]

[[rules]]
id = "weekly"
kind = "cap"
max = { engaged = 5, default = 2 }
window = "7d"
calendar = "week"
families = ["marketing"]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pressure.toml"
    p.write_text(text)
    return p


def test_good_config_parses_durations_and_paths(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    rule = cfg.rules[0]
    assert isinstance(rule, CapRule)
    assert rule.window == 7 * 86400
    assert rule.max == {"engaged": 5.0, "default": 2.0}
    assert cfg.ledger_path == tmp_path / ".pressure" / "ledger.db"
    assert cfg.accounts[0].lists[0].family == "marketing"
    assert cfg.families["transactional"].exempt  # defaults apply when no family is configured


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found .*--config"):
        load_config(tmp_path / "nope.toml")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "[workspace]\nname = \n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value)
    assert "line 2" in str(exc.value)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            'window = "7d"',
            'window = "7 days"',
        ),
        ("max = { engaged = 5, default = 2 }", 'max = "lots"'),
        ('timezone = "Europe/Paris"', 'timezone = "Mars/Olympus"'),
        ('families = ["marketing"]', 'families = ["markting"]'),
        ('name = "acme-files"', 'nmae = "acme-files"'),
    ],
)
def test_errors_name_file_and_key_path(tmp_path: Path, patch: str, expected: str) -> None:
    p = write(tmp_path, GOOD.replace(patch, expected))
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    text = str(exc.value)
    assert text.startswith(f"{p}: invalid configuration")
    key = {
        'window = "7 days"': "rules[0].window: expected a duration",
        'max = "lots"': "rules[0].max: expected a number >= 0, a per-tier table",
        'timezone = "Mars/Olympus"': "workspace.timezone: unknown time zone 'Mars/Olympus'",
        'families = ["markting"]': "rules[0] (weekly).families: unknown family 'markting'",
        'nmae = "acme-files"': "accounts[0].nmae: unknown key",
    }[expected]
    assert key in text


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace('settings = { touches = ["t.csv"] }', 'settings = { api_key = "pat-123" }'))
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "accounts[0].settings" in str(exc.value)
    assert "credential_env" in str(exc.value)
    assert "pat-123" not in str(exc.value)


def test_cap_needs_a_period_and_tier_table_needs_default() -> None:
    with pytest.raises(ConfigError, match="a cap needs 'window'"):
        parse_config({"rules": [{"id": "x", "kind": "cap", "max": 1}]})
    with pytest.raises(ConfigError, match="needs a 'default' entry"):
        parse_config({"rules": [{"id": "x", "kind": "cap", "max": {"engaged": 1}, "window": "1d"}]})


def test_cross_references_are_all_reported() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "brands": {"a": {}},
                "rules": [
                    {"id": "r", "kind": "gap", "min_gap": "1d", "brands": ["zzz"]},
                    {"id": "r", "kind": "gap", "min_gap": "1d"},
                ],
                "accounts": [{"name": "x", "connector": "files", "lists": [{"name": "l"}]}],
            },
            source="w.toml",
        )
    text = str(exc.value)
    assert "rules[0] (r).brands: unknown brand 'zzz'" in text
    assert "rules[1] (r).id: duplicate rule id 'r'" in text
    assert "accounts[0] (x).lists[0].brand: a list needs a brand" in text


def test_quiet_rule_accepts_for_keyword_and_checks_event_types() -> None:
    cfg = parse_config({"rules": [{"id": "q", "kind": "quiet", "after": ["complaint"], "for": "30d"}]})
    assert cfg.rules[0].for_ == 30 * 86400  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="unknown event type"):
        parse_config({"rules": [{"id": "q", "kind": "quiet", "after": ["happy"], "for": "30d"}]})


def test_hours_windows_are_validated() -> None:
    with pytest.raises(ConfigError, match="must be before 'end'"):
        parse_config({"rules": [{"id": "h", "kind": "hours", "allowed": [{"start": "14:00", "end": "10:00"}]}]})
    with pytest.raises(ConfigError, match="expected a time 'HH:MM'"):
        parse_config({"rules": [{"id": "h", "kind": "hours", "allowed": [{"start": "9h", "end": "10:00"}]}]})


def test_frozen_clock_is_parsed_in_workspace_zone() -> None:
    cfg = parse_config({"workspace": {"timezone": "Europe/Paris", "now": "2026-01-01T00:00:00"}})
    assert cfg.clock == 1767222000  # 2025-12-31T23:00:00Z
