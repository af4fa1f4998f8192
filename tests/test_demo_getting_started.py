"""On the bundled demo: ``why`` agrees with the pushed lists, and the sample candidates plan."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.explain import membership
from pressure_sdk.tiers import score_all
from pressure_sdk.workspace import Workspace

DEMO = Path(__file__).parents[1] / "examples" / "demo"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def pushed(path: Path) -> set[str]:
    with path.open(newline="") as fh:
        return {r["email"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO / "data", root / "data")
    shutil.copy(DEMO / "pressure.toml", root / "pressure.toml")
    result = CliRunner().invoke(cli, ["run", "--config", str(root / "pressure.toml")])
    assert result.exit_code == 0, result.output
    return root


def audience(root: Path, account: str, ws: Workspace) -> list[str]:
    emails: set[str] = set()
    by_phone = False
    for name in ("touches", "engagements", "contacts"):
        path = root / "data" / account / f"{name}.csv.gz"
        if path.exists():
            with gzip.open(path, "rt", newline="") as fh:
                rows = list(csv.DictReader(fh))
            emails |= {r["email"].strip().lower() for r in rows if r["email"].strip()}
            by_phone |= any(not r["email"].strip() for r in rows)
    if by_phone:
        # a call centre that knows numbers only: its contacts are those holding them
        ids = ws.ledger.account_contacts(account)
        emails |= {c.email for c in ws.ledger.contacts_by_id(ids).values()}
    return sorted(emails)


@pytest.mark.slow
def test_why_agrees_with_every_pushed_demo_list_on_a_sample(demo: Path) -> None:
    kinds: set[str] = set()
    with Workspace.open(demo / "pressure.toml") as ws:
        # contacts below the tolerance threshold are rare: a stride alone may miss them all
        cfg, led = ws.config, ws.ledger
        score_all(led, ws.now(), cfg.tiers, cfg.scoring, cfg.tolerance)
        low = sorted(c.email for c in led.contacts_by_id(led.low_capital_contacts(cfg.tolerance.threshold)).values())
        for acc in ws.config.accounts:
            everyone = audience(demo, acc.name, ws)
            # one contact in 25, or in 5 for the small call centres
            step = 25 if len(everyone) > 1000 else 5
            for lst in acc.lists:
                members = pushed(demo / "out" / acc.name / f"{lst.name}.csv")
                outside = [e for e in everyone if e not in members]
                sample = sorted(members)[::step] + outside[::step] + [e for e in low if e in members][:3]
                assert len(sample) > 40
                for email in sample:
                    m = membership(ws, email, lst.name, account=acc.name)
                    assert m.on_list is (email in members), (acc.name, lst.name, email, m.text())
                    assert m.pushed is m.on_list
                    kinds |= {r.kind for r in m.reasons}
    # the sample meets every kind of reason the demo's lists hold
    assert kinds == {"cap", "gap", "quiet", "consent", "tolerance"}


@pytest.mark.slow
def test_why_on_the_demo_through_the_cli(demo: Path) -> None:
    members = sorted(pushed(demo / "out" / "maison-outlet" / "outlet-marketing-email.csv"))
    config = str(demo / "pressure.toml")
    for email in members[:3]:
        code, out = invoke("why", "--config", config, email, "--list", "outlet-marketing-email", "--json")
        assert code == 0 and json.loads(out)["on_list"] is True and json.loads(out)["reasons"]


@pytest.mark.slow
def test_the_sample_candidates_plan_on_the_demo(demo: Path, tmp_path: Path) -> None:
    sample = DEMO / "candidates.csv"
    config = str(demo / "pressure.toml")
    out = tmp_path / "plan.csv"
    code, text = invoke("plan", "--config", config, "--candidates", str(sample), "--out", str(out))
    assert code == 0, text
    assert text.startswith(f"22 candidates: 11 accepted, 11 rejected -> {out}")
    rows = {r["candidate_id"]: r for r in csv.DictReader(out.open(newline=""))}
    with sample.open(newline="") as fh:
        cands = list(csv.DictReader(fh))
    assert list(rows) == [c["candidate_id"] for c in cands]
    # the demo's brands, and contacts the demo ledger knows in each brand's client
    cfg_brands = {"maison-paris": "maison", "maison-outlet": "maison", "velo": "velo"}
    with Workspace.open(demo / "pressure.toml") as ws:
        # the energie call centres have a call plan of their own (test_demo_calls.py)
        calls = {"energie-appels", "energie-partenaire"}
        assert {c["brand"] for c in cands} == set(ws.config.brands) - calls == set(cfg_brands)
        assert all(ws.ledger.contact(c["email"], cfg_brands[c["brand"]]) for c in cands)
    rejected_by = {cid: r["reasons"] for cid, r in rows.items() if r["decision"] == "rejected"}
    # one candidate per rule kind, each with its reason
    assert rejected_by["c08"].startswith("quiet:after-purchase-same-product purchase of bottines-cuir")
    assert rejected_by["c12"].startswith("consent: unsubscribed from email from maison-outlet (consent scope maison)")
    assert rejected_by["c14"].startswith("hours:call-hours Tue 13:30 (Europe/Paris)")
    assert rejected_by["c18"].startswith("cap:sms-all-brands 2/2 in 7d (all brands) including the accepted")
    assert rejected_by["c19"].startswith("gap:group-spacing a trigger email touch 10h later")
    # a.anderson is in the cap2 arm of the experiment maison-cap2: 2 emails a week, not 3
    assert rejected_by["c05"].startswith("cap:email-weekly 2/2 in 7d (brand maison-paris)")
    # exempt families always go; another client never sees maison's opt-out
    for cid in ("c04", "c11", "c13", "c15"):
        assert rows[cid]["decision"] == "accepted", rows[cid]
    code, text = invoke("plan", "--config", config, "--candidates", str(sample), "--out", str(tmp_path / "again.csv"))
    assert code == 0 and (tmp_path / "again.csv").read_bytes() == out.read_bytes()  # deterministic
    code, text = invoke("plan", "--config", config, "--candidates", str(sample), "--out", str(out), "--json")
    summary = json.loads(text)
    assert (summary["candidates"], summary["accepted"]) == (22, 11)
    assert set(summary["rules"]) == {
        "email-weekly",
        "weekly-by-tier",
        "group-spacing",
        "consent",
        "after-purchase-same-product",
        "after-complaint",
        "call-hours",
        "sms-all-brands",
    }


def readme_sessions() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of each ``$ pressure-sync …`` block of the Getting started."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text[text.index("\n## Getting started\n") : text.index("\n## Concepts\n")]
    out = []
    for block in section.split("```")[1::2]:
        lines = block.strip("\n").splitlines()
        if lines and lines[0].startswith("$ pressure-sync "):
            out.append((lines[0][2:], lines[1:]))
    return out


def test_the_getting_started_shows_sessions() -> None:
    assert [cmd.split()[1] for cmd, _ in readme_sessions()] == ["why", "plan"]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "expected"), readme_sessions())
def test_the_getting_started_sessions_print_what_the_readme_shows(
    demo: Path, tmp_path: Path, command: str, expected: list[str]
) -> None:
    import shlex

    args = shlex.split(command)[1:]
    swap = {
        "examples/demo/pressure.toml": str(demo / "pressure.toml"),
        "examples/demo/candidates.csv": str(DEMO / "candidates.csv"),
        "plan.csv": str(tmp_path / "plan.csv"),
    }
    code, out = invoke(*(swap.get(a, a) for a in args))
    assert code == 0, out
    assert out.splitlines() == [line.replace("-> plan.csv", f"-> {tmp_path / 'plan.csv'}") for line in expected]
