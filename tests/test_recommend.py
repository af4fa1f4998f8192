"""Monthly recommendation: the cap per tier the evidence supports, and when it is withheld."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scipy.stats import norm

from pressure_sdk.cli import cli
from pressure_sdk.config import parse_config
from pressure_sdk.errors import ConfigError
from pressure_sdk.experiments import ArmResult, Effect, ExperimentReport, Interval
from pressure_sdk.ledger.measure import ContactCell
from pressure_sdk.measure import FatigueCurve, FatiguePoint, Measurement, PerThousand, Rate
from pressure_sdk.recommend import (
    LevelOutcomes,
    Objectives,
    combine,
    cut_effects,
    observe,
    recommend,
    suppressed,
    target_rule,
)

Z = float(norm.ppf(0.975))
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "pressure.toml"


def config(**rule: Any) -> Any:
    weekly = {
        "id": "weekly",
        "kind": "cap",
        "max": {"engaged": 4, "active": 3, "default": 2},
        "window": "7d",
        "families": ["marketing"],
        **rule,
    }
    return parse_config(
        {
            "workspace": {"timezone": "UTC"},
            "brands": {"acme": {}},
            "rules": [
                {"id": "daily", "kind": "cap", "max": 1, "window": "1d"},
                weekly,
                {"id": "chosen", "kind": "cap", "max": {"attribute": "per_week", "fallback": 3}, "calendar": "week"},
            ],
        }
    )


def level(n: int, messages: int, clicks: int, unsubscribes: int = 0, complaints: int = 0) -> LevelOutcomes:
    return LevelOutcomes(n, messages, clicks, unsubscribes, complaints, revenue=0.0, revenue_se=0.0)


# -- the observational estimate ------------------------------------------------------------


def test_a_cut_loses_what_the_suppressed_sends_brought_and_saves_what_they_cost() -> None:
    levels = [level(1, 5000, 200), level(2, 4000, 150, 5), level(3, 3000, 60, 20), level(4, 2000, 100, 30, 2)]
    gone = suppressed(levels, 2)
    assert (gone.messages, gone.clicks, gone.unsubscribes, gone.complaints) == (5000, 160, 50, 2)
    parts = cut_effects(gone, contact_months=2000)
    # per 1,000 contact-months: half of the counts, negative (they are lost or avoided)
    assert parts["clicks"] == (-80.0, 160 * 0.25)
    assert parts["unsubscribes"] == (-25.0, 50 * 0.25)
    obj = combine(parts, Objectives("clicks", unsubscribe_cost=10, complaint_cost=50).weights())
    # -80 clicks + 10 x 25 unsubscribes avoided + 50 x 1 complaint avoided
    assert obj.estimate == pytest.approx(-80 + 250 + 50)
    half = Z * math.sqrt(160 * 0.25 + 100 * 50 * 0.25 + 2500 * 2 * 0.25)
    assert (obj.low, obj.high) == (pytest.approx(220 - half), pytest.approx(220 + half))


def test_observe_picks_the_cap_with_the_best_objective_below_the_current_one() -> None:
    levels = [level(1, 5000, 200), level(2, 4000, 150, 1), level(3, 3000, 60, 40), level(4, 2000, 10, 60)]
    cap, effects, obj, gone = observe(levels, 1000, current=4, objectives=Objectives())
    # cutting above 2 avoids 100 unsubscribes (worth 1,000 clicks) for 70 clicks; above 1, 1 more unsub for 150
    assert cap == 2 and gone is not None and gone.messages == 5000
    assert obj is not None and obj.estimate == pytest.approx(-70 + 1000)
    assert effects["unsubscribes"].estimate == pytest.approx(-100)
    # a cap at or above the current one is never weighed: nothing to suppress below it
    assert observe(levels, 1000, current=1, objectives=Objectives())[0] is None


def test_objectives_are_checked() -> None:
    with pytest.raises(ConfigError, match="objective 'opens'"):
        Objectives("opens")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unsubscribe-cost: expected a number >= 0"):
        Objectives(unsubscribe_cost=-1)


# -- the rule a recommendation is about ----------------------------------------------------


def test_the_target_rule_is_the_weekly_cap_with_a_tier_table() -> None:
    cfg = config()
    assert target_rule(cfg, None, "default").id == "weekly"
    with pytest.raises(ConfigError, match="--rule daily: a recommendation is about a weekly cap"):
        target_rule(cfg, "daily", "default")
    with pytest.raises(ConfigError, match="--rule chosen: its max comes from a contact attribute"):
        target_rule(cfg, "chosen", "default")
    with pytest.raises(ConfigError, match=r"--rule nope: .*known: \['chosen', 'daily', 'weekly'\]"):
        target_rule(cfg, "nope", "default")


# -- one tier, end to end on a measurement --------------------------------------------------


def point(n: int, messages: int, clicks: int, unsubs: int, complaints: int = 0, revenue: float = 0.0) -> FatiguePoint:
    per_k = PerThousand(revenue, messages, 1000 * revenue / messages, None, None)
    return FatiguePoint(
        n,
        messages,
        Rate.of(clicks, messages),
        Rate.of(clicks, messages),
        Rate.of(unsubs, messages),
        Rate.of(complaints, messages),
        per_k,
        per_k,
    )


def measurement(curves: list[FatigueCurve], contacts: dict[str, int]) -> Measurement:
    cells = [ContactCell("default", tier, 1, n, 0, None, None) for tier, n in contacts.items()]
    return Measurement(
        as_of=0,
        months=["2026-10"],
        clients=["default"],
        families=None,
        channels=None,
        curves=curves,
        contact_cells={"2026-10": cells},
    )


def curve(tier: str, points: list[FatiguePoint], above: Rate | None = None) -> FatigueCurve:
    return FatigueCurve("default", tier, points, {}, 1, 3, above)


def test_per_tier_change_keep_withheld_and_not_enough_data() -> None:
    strong = [point(1, 20000, 800, 2), point(2, 15000, 500, 5), point(3, 8000, 100, 300), point(4, 4000, 20, 200)]
    weak = [point(1, 20000, 800, 2), point(2, 15000, 500, 5), point(3, 1000, 30, 6)]
    fine = [point(1, 20000, 800, 2), point(2, 15000, 500, 5), point(3, 8000, 300, 3)]
    m = measurement(
        [
            curve("engaged", strong, above=Rate.of(70, 100)),
            curve("active", weak),
            curve("dormant", fine),
            curve("inactive", [point(1, 200, 1, 0)]),
        ],
        {"engaged": 10000, "active": 10000, "dormant": 10000, "inactive": 100},
    )
    rec = recommend(m, config(), "default")
    by = {t.tier: t for t in rec.tiers}
    engaged = by["engaged"]
    assert (engaged.status, engaged.proposed, engaged.source) == ("change", 2, "observational")
    assert engaged.burnout and engaged.above_saturation == pytest.approx(0.7)
    # the cut above 2 suppresses 12,000 sends: 1.2 per contact a month
    assert engaged.suppressed_sends == pytest.approx(1200)
    assert engaged.effects["clicks"].estimate == pytest.approx(-12) and engaged.objective is not None
    assert engaged.objective.estimate == pytest.approx(-12 + 10 * 50)
    # 6 unsubscribes avoided for 30 clicks lost: +30 on the objective, within its margin of error
    active = by["active"]
    assert active.status == "withheld" and active.proposed is None and not active.burnout
    assert active.objective is not None and active.objective.low < 0 < active.objective.estimate
    assert by["dormant"].status == "keep" and by["dormant"].proposed is None
    assert by["inactive"].status == "not enough data" and "200 measured messages" in by["inactive"].reason
    assert by["new"].status == "not enough data"
    # the proposal as a config fragment: the rule's table with the one change
    fragment = tomllib.loads(rec.snippet())
    assert fragment == {"max": {"engaged": 2, "active": 3, "default": 2}}
    assert "rule\n# 'weekly'" in rec.snippet()
    data = rec.to_dict()
    assert data["proposed_max"] == {"engaged": 2, "active": 3, "default": 2}
    assert {t["tier"]: t["status"] for t in data["tiers"]}["active"] == "withheld"


def arm(name: str, overrides: dict[str, Any], clicks: Interval, unsubs: Interval) -> ArmResult:
    def effect(metric: str, iv: Interval) -> Effect:
        return Effect(metric, 0.0, 0.0, iv, 0.01, iv, 0.1, iv)

    effects = {"clicks": effect("clicks", clicks), "unsubscribes": effect("unsubscribes", unsubs)} if overrides else {}
    return ArmResult(name, 0.5, 5000, 5000.0, overrides, {}, 4.0, effects)


def test_a_conclusive_randomized_test_wins_over_observation_for_the_tiers_it_changes() -> None:
    strong = [point(1, 20000, 800, 2), point(2, 15000, 500, 5), point(3, 8000, 100, 300), point(4, 4000, 20, 200)]
    m = measurement([curve("engaged", strong), curve("active", strong)], {"engaged": 10000, "active": 10000})
    # the arm lowers active's cap from 3 to 2: per contact over 30.4375 days, -0.004 clicks, -0.003 unsubscribes
    change = {"weekly": {"max": {"engaged": 4, "active": 2, "default": 2}}}
    test = ExperimentReport(
        id="cap-test",
        client="default",
        start=0,
        end=None,
        as_of=int(30.4375 * 86400),
        control="control",
        metric="clicks",
        contacts=10000,
        arms=[
            arm("control", {}, Interval(0, 0, 0), Interval(0, 0, 0)),
            arm("lower", change, Interval(-0.004, -0.006, -0.002), Interval(-0.003, -0.0035, -0.0025)),
        ],
        srm_p=0.5,
        srm_alarm=False,
        complaint_stop=None,
        pre_period=28 * 86400,
    )
    rec = recommend(m, config(), "default", experiments=[test])
    by = {t.tier: t for t in rec.tiers}
    active = by["active"]
    assert (active.status, active.proposed) == ("change", 2)
    assert active.source == "randomized: cap-test (arm lower vs control)"
    # -4 clicks + 10 x 3 unsubscribes avoided per 1,000 contacts a month
    assert active.objective is not None and active.objective.estimate == pytest.approx(26)
    # the arm keeps engaged at 4: observation decides there
    assert by["engaged"].source == "observational" and by["engaged"].proposed == 2
    # an inconclusive test is named, and observation decides
    wide = Interval(-0.004, -0.05, 0.04)
    loose = replace(test, arms=[test.arms[0], arm("lower", change, wide, wide)])
    again = {t.tier: t for t in recommend(m, config(), "default", experiments=[loose]).tiers}
    assert again["active"].source == "observational"
    assert "randomized test cap-test (arm lower vs control) inconclusive" in again["active"].reason


# -- the command ---------------------------------------------------------------------------


def test_recommend_on_the_demo(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "proposal.toml"
    res = runner.invoke(
        cli, ["recommend", "--config", str(DEMO), "--client", "maison", "--json", "--snippet", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    cfg_tiers = [t.name for t in parse_config(tomllib.loads(DEMO.read_text())).tiers]
    assert [t["tier"] for t in data["tiers"]] == cfg_tiers
    assert data["rule"] == "weekly-by-tier"
    assert {t["status"] for t in data["tiers"]} <= {"change", "keep", "withheld", "not enough data"}
    for t in data["tiers"]:
        if t["status"] == "change":
            assert t["proposed"] < t["current"] and t["objective"]["low"] > 0
    assert tomllib.loads(out.read_text())["max"] == data["proposed_max"]
    # several clients: the command asks which one
    res = runner.invoke(cli, ["recommend", "--config", str(DEMO)])
    assert res.exit_code == 2 and "--client: the workspace has several clients" in res.output
