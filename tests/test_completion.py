"""Shell completion, as the README documents it: click's ``_PRESSURE_SYNC_COMPLETE``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
EXE = shutil.which("pressure-sync", path=str(BIN)) or "pressure-sync"


def source(shell: str) -> str:
    env = {**os.environ, "_PRESSURE_SYNC_COMPLETE": f"{shell}_source"}
    done = subprocess.run([EXE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _pressure_sync_completion pressure-sync"),
        ("zsh", "#compdef pressure-sync"),
        ("fish", "complete --no-files --command pressure-sync"),
    ],
)
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    assert marker in source(shell)


def complete(words: str) -> list[str]:
    """What bash offers after sourcing the script, for the words typed so far."""
    script = source("bash")
    typed = words.split(" ")
    program = (
        f"{script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in typed)}); COMP_CWORD={len(typed) - 1}\n"
        '_pressure_sync_completion pressure-sync; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    bash = shutil.which("bash")
    assert bash, "bash is needed to try the completion"
    done = subprocess.run([bash, "-c", program], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_choices() -> None:
    assert complete("pressure-sync wh") == ["why"]
    assert set(complete("pressure-sync ")) >= {"run", "check", "decide", "plan", "why", "init", "forget", "status"}
    assert complete("pressure-sync run --dry") == ["--dry-run"]
    assert complete("pressure-sync init --connector ") == ["files", "hubspot", "brevo", "mailchimp", "sfmc"]
