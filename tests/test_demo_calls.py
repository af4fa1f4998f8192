"""The demo's call centres under the fr-telemarketing preset: the call plan, the README's
sessions, and the call lists agreeing with why (by email and by number)."""

from __future__ import annotations

import csv
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.explain import membership
from pressure_sdk.workspace import Workspace

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"
README = Path(__file__).resolve().parents[1] / "README.md"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("calls")
    shutil.copytree(DEMO / "data", root / "data")
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    code, out = invoke("run", "--config", str(root / "pressure.toml"), "--account", "energie-appels",
                       "--account", "energie-partenaire")  # fmt: skip
    assert code == 0, out
    return root


def sessions() -> list[tuple[str, list[str]]]:
    """(command, output lines) of each ``$ pressure-sync`` line of the README's fr-telemarketing section."""
    text = README.read_text()
    start = text.index("\n## French telemarketing: the `fr-telemarketing` preset\n")
    section = text[start : text.index("\n## CLI reference\n")]
    out: list[tuple[str, list[str]]] = []
    for block in section.split("```")[1::2]:
        for line in block.strip("\n").splitlines():
            if line.startswith("$ pressure-sync "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def test_the_readme_shows_a_plan_and_a_decision() -> None:
    assert [cmd.split()[1] for cmd, _ in sessions()] == ["plan", "decide"]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "expected"), sessions())
def test_the_readme_sessions_print_what_it_shows(demo: Path, tmp_path: Path, command: str, expected: list[str]) -> None:
    swap = {
        "examples/demo/pressure.toml": str(demo / "pressure.toml"),
        "examples/demo/data/energie-appels/call-plan.csv": str(demo / "data/energie-appels/call-plan.csv"),
        "calls.csv": str(tmp_path / "calls.csv"),
    }
    code, out = invoke(*(swap.get(a, a) for a in shlex.split(command)[1:]))
    assert code in (0, 1), out
    assert out.splitlines() == [line.replace("-> calls.csv", f"-> {tmp_path / 'calls.csv'}") for line in expected]


@pytest.mark.slow
def test_the_call_plan_meets_each_rule_of_the_preset(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    code, text = invoke("plan", "--config", str(demo / "pressure.toml"), "--candidates",
                        str(demo / "data/energie-appels/call-plan.csv"), "--out", str(out))  # fmt: skip
    assert code == 0, text
    rows = {r["candidate_id"]: r for r in csv.DictReader(out.open(newline=""))}
    first = {cid: r["reasons"].split(" ")[0] if r["reasons"] else "accepted" for cid, r in rows.items()}
    assert first == {
        "a01": "accepted",
        "a02": "fr-telemarketing:hours",  # lunchtime
        "a03": "fr-telemarketing:hours",  # a Saturday
        "a04": "fr-telemarketing:hours",  # Christmas Day, a Friday
        "a05": "fr-telemarketing:attempts",  # the fifth attempt between the two call centres
        "a06": "accepted",  # named by its number only
        "a07": "fr-telemarketing:refusal",
        "a08": "consent:",  # on the opposition list
        "a09": "accepted",  # on the opposition list, under an ongoing contract
        "a10": "accepted",  # on the opposition list, then an express consent: even at 20:30
        "a11": "consent:",  # a consent older than the listing does not lift it
        "a12": "fr-telemarketing:hours",  # Good Friday, for a prospect in Moselle
    }
    assert "public holiday (Christmas Day)" in rows["a04"]["reasons"]
    assert "public holiday (Good Friday)" in rows["a12"]["reasons"]
    # the number of a06 was resolved to the prospect holding it
    assert rows["a06"]["email"] and rows["a06"]["phone"].startswith("+337")


@pytest.mark.slow
def test_the_call_lists_agree_with_why_by_email_and_by_number(demo: Path) -> None:
    with Workspace.open(demo / "pressure.toml") as ws:
        for account, name in (("energie-appels", "energie-no-call"), ("energie-partenaire", "partenaire-no-call")):
            with (demo / "out" / account / f"{name}.csv").open(newline="") as fh:
                members = {r["email"] for r in csv.DictReader(fh)}
            ids = ws.ledger.account_contacts(account)
            everyone = ws.ledger.contacts_by_id(ids).values()
            assert len(members) > 40 and len(everyone) > len(members) + 40
            reasons: set[str] = set()
            for c in everyone:
                m = membership(ws, c.email, name, account=account)
                assert m.on_list is (c.email in members), m.text()
                reasons |= {r.rule_id for r in m.reasons}
                number = ws.ledger.phones_of(c.id)[0]
                assert membership(ws, number, name, account=account).on_list is m.on_list
            assert {"opposition", "fr-telemarketing:attempts", "fr-telemarketing:refusal"} <= reasons
