"""The layers of DESIGN §4, checked by import-linter on the real import graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(config),
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_every_layer_contract_is_kept() -> None:
    proc = lint(ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    # the policy does import the config: a contract forbidding it must break, so the
    # checker really reads the graph
    config = tmp_path / "contracts.toml"
    config.write_text(
        """
[tool.importlinter]
root_package = "pressure_sdk"

[[tool.importlinter.contracts]]
name = "policy without config"
type = "forbidden"
source_modules = ["pressure_sdk.policy"]
forbidden_modules = ["pressure_sdk.config"]
"""
    )
    proc = lint(config)
    assert proc.returncode != 0
    assert "policy without config BROKEN" in proc.stdout
