"""The demo's planted fatigue curve (examples/demo/fatigue.py) is recovered by the measurement.

The generator plants, per tier, the click chance of campaign and trigger emails as a
logistic function of the pressure level at send time. Imported into a ledger, the SDK's
own pipeline (tiers at the month's start, levels in ``(t - 7d, t]`` over every brand and
channel of the client, clicks credited to the message they follow) must find each tier's
planted slope inside its 95 % interval.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.config import load_config
from pressure_sdk.measure import fatigue_slopes, measure
from pressure_sdk.workspace import Workspace

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


def planted_slopes() -> dict[str, float]:
    sys.path.insert(0, str(DEMO))
    try:
        import fatigue

        return dict(fatigue.SLOPE)
    finally:
        sys.path.remove(str(DEMO))


@pytest.fixture(scope="module")
def planted_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted")
    proc = subprocess.run(
        [sys.executable, str(DEMO / "generate.py"), "--plant-fatigue", "--contacts", "4000"]
        + ["--out", str(root / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    result = CliRunner().invoke(cli, ["run", "--config", str(root / "pressure.toml"), "-q"])
    assert result.exit_code == 0, result.output
    return root / "pressure.toml"


@pytest.mark.slow
def test_each_tiers_planted_click_slope_is_inside_its_interval(planted_demo: Path) -> None:
    cfg = load_config(planted_demo)
    with Workspace(cfg) as ws:
        m = measure(
            ws.ledger,
            cfg,
            months=["2026-08", "2026-09", "2026-10", "2026-11"],
            now=ws.now(),
            families=["marketing", "trigger"],
            channels=["email"],
        )
    by_tier = defaultdict(list)
    for cell in m.fit_cells:  # both clients share the planted curve: pool them
        by_tier[cell.tier].append(cell)
    planted = planted_slopes()
    assert set(by_tier) <= set(planted) and {"new", "engaged", "active"} <= set(by_tier)
    for tier, cells in by_tier.items():
        slope = fatigue_slopes(cells)["click"]
        assert slope is not None, tier
        assert slope.low <= planted[tier] <= slope.high, (tier, planted[tier], slope)
    # the largest tiers pin their slope down: the interval is informative, not just wide
    for tier in ("new", "active"):
        slope = fatigue_slopes(by_tier[tier])["click"]
        assert slope is not None and slope.high - slope.low < 0.12, (tier, slope)
