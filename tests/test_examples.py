import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_send_loop_example_runs_and_skips_what_the_policy_blocks(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "send_loop.py"), "--ledger", str(tmp_path / "l.db")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[-1].startswith("4 sent, 2 skipped")
    assert any(line.startswith("skip") and "gap:spacing" in line for line in lines)
    assert any(line.startswith("skip") and "cap:email-weekly 2/2 in 7d" in line for line in lines)
    assert (tmp_path / "l.db").exists()
