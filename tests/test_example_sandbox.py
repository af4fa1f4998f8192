"""examples/sandbox: its commands, workspace file and credentials agree with each other."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from pressure_sdk.config import load_config

FOLDER = Path(__file__).parents[1] / "examples" / "sandbox"


def commands() -> list[str]:
    text = (FOLDER / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_gives_two_commands_that_start_both_sandboxes_then_run() -> None:
    first, second = commands()
    sandboxes = [shlex.split(part) for part in first.split("&") if part.strip()]
    assert [s[:3] for s in sandboxes] == [
        ["pressure-sync", "sandbox", "hubspot"],
        ["pressure-sync", "sandbox", "brevo"],
    ]
    assert "pressure-sync run --config examples/sandbox/pressure.toml" in second
    assert ". examples/sandbox/sandbox.env" in second


def test_ports_and_credentials_match_the_workspace() -> None:
    first = commands()[0]
    sandboxes = {s[2]: s for s in (shlex.split(p) for p in first.split("&") if p.strip())}
    env = dict(re.findall(r"export (\w+)=(\S+)", (FOLDER / "sandbox.env").read_text()))
    cfg = load_config(FOLDER / "pressure.toml")
    by_connector = {a.connector: a for a in cfg.accounts}
    for platform in ("hubspot", "brevo"):
        args = sandboxes[platform]
        port = args[args.index("--port") + 1]
        credential = args[args.index("--credential") + 1]
        account = by_connector[platform]
        assert account.base_url is not None and f":{port}" in account.base_url
        assert account.credential_env is not None and env[account.credential_env] == credential
        assert "--seed" in args and args[args.index("--seed") + 1] == "demo"
