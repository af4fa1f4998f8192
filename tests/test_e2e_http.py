"""``pressure-sync`` end to end over real HTTP: HubSpot and Brevo sandboxes beside a files account.

The sandboxes run in this process on free ports; ``pressure-sync`` runs as a separate
process, as cron would run it. Data: a small demo generated with the demo's generator.
A clean run and its rerun, and a run killed mid-push, run on both ledgers (SQLite and
PostgreSQL through ``PRESSURE_LEDGER``); the other cases do not depend on the ledger and
run on SQLite only, to keep the suite's time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo import testing as brevo
from pressure_connector_hubspot import testing as hubspot

from .e2e_support import BOTH_LEDGERS, ROOT, Sandboxed, generate, ledger_content

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("exports"), contacts=300, days=20)


class Platforms(Sandboxed):
    """A HubSpot and a Brevo sandbox seeded from the same exports, and a workspace using them."""

    def __init__(self, root: Path, exports: Path, ledger_url: str | None = None) -> None:
        super().__init__(root, ledger_url)
        self.hubspot = hubspot.HubSpotSandbox(limits={})
        self.brevo = brevo.BrevoSandbox(limits={})
        self.hubspot.load_exports(exports / "maison-paris")
        self.brevo.load_exports(exports / "velo")
        self.hubspot.start()
        self.brevo.start()
        self.config.write_text(workspace_toml(self, exports))
        self.env.update(HUBSPOT_TOKEN=self.hubspot.credential, BREVO_API_KEY=self.brevo.credential)

    def boxes(self) -> list[Any]:
        return [self.hubspot, self.brevo]

    def lists(self) -> dict[str, set[str]]:
        return {
            "hubspot": self.hubspot.list_members("paris-marketing-email"),
            "brevo": self.brevo.list_members("velo-marketing-email"),
        }


def workspace_toml(p: Platforms, exports: Path) -> str:
    retry = "{ max_attempts = 3, backoff = 0.05, max_backoff = 0.2 }"
    return f"""
[workspace]
name = "e2e"
ledger = "ledger.db"
timezone = "Europe/Paris"
channels = ["email", "sms", "push", "call"]
now = "2026-11-16T09:00:00+01:00"

[families.transactional]
priority = 100
exempt = true
[families.service]
priority = 90
exempt = true
[families.care]
priority = 80
[families.trigger]
priority = 50
[families.marketing]
priority = 10

[brands.maison-paris]
priority = 20
group = "maison"
[brands.maison-outlet]
priority = 10
group = "maison"
[brands.velo]
priority = 10

[[accounts]]
name = "maison-paris"
connector = "hubspot"
brand = "maison-paris"
credential_env = "HUBSPOT_TOKEN"
base_url = "{p.hubspot.url}"
settings = {{ timeout = 5, retry = {retry}, page_size = 200, membership_batch_size = 20 }}
lists = [{{ name = "paris-marketing-email" }}]

[[accounts]]
name = "velo"
connector = "brevo"
brand = "velo"
credential_env = "BREVO_API_KEY"
base_url = "{p.brevo.url}"
settings = {{ timeout = 5, retry = {retry}, import_poll_interval = 0 }}
lists = [{{ name = "velo-marketing-email" }}]

[[accounts]]
name = "maison-outlet"
connector = "files"
brand = "maison-outlet"
lists = [{{ name = "outlet-marketing-email" }}]

[accounts.settings]
touches = ["{exports}/maison-outlet/touches.csv.gz"]
engagements = ["{exports}/maison-outlet/engagements.csv.gz"]
out_dir = "out"

[[rules]]
id = "email-weekly"
kind = "cap"
channels = ["email"]
families = ["marketing"]
max = 3
window = "7d"
scope = "brand"

[[rules]]
id = "group-weekly"
kind = "cap"
families = ["marketing", "trigger"]
max = 4
window = "7d"
scope = "group"

# velo sends little: a tighter cap of its own gives its list members to push
[[rules]]
id = "velo-weekly"
kind = "cap"
brands = ["velo"]
families = ["marketing"]
max = 1
window = "7d"
"""


@pytest.fixture
def platforms(tmp_path: Path, exports: Path, ledger_url: str | None, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``platforms(name)``: a workspace of its own, on the test's backend (a new database each on PostgreSQL)."""
    made: list[Platforms] = []

    def make(name: str = "ws") -> Platforms:
        url = ledger_url and (request.getfixturevalue("postgres_server").new_database() if made else ledger_url)
        p = Platforms(tmp_path / name, exports, url)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


@BOTH_LEDGERS
def test_run_over_http_pulls_pushes_and_a_rerun_changes_nothing(platforms: Any) -> None:
    p = platforms()
    first = p.run("run", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    rep = report(first)
    by_name = {a["name"]: a for a in rep["accounts"]}
    assert set(by_name) == {"maison-paris", "velo", "maison-outlet"}
    for name in ("maison-paris", "velo"):
        assert by_name[name]["ok"] and by_name[name]["touches_added"] > 0, by_name[name]
        assert by_name[name]["lists"][0]["pushed"] and by_name[name]["lists"][0]["size"] > 0
    content = ledger_content(p)
    # every list on the platforms is what the ledger says the platforms confirmed
    confirmed: dict[str, set[str]] = {}
    for account, lst, email in content["lists"]:
        confirmed.setdefault(f"{account}/{lst}", set()).add(str(email))
    lists = p.lists()
    assert lists["hubspot"] == confirmed["maison-paris/paris-marketing-email"]
    assert lists["brevo"] == confirmed["velo/velo-marketing-email"]
    # the ledger holds what the run reports it added
    assert len(content["touches"]) == sum(a["touches_added"] for a in rep["accounts"]) > 0

    again = p.run("run", "--json")
    assert again.returncode == 0, again.stderr
    for account in report(again)["accounts"]:
        assert account["touches_added"] == 0 and account["engagements_added"] == 0, account
        assert all(lst["added"] == 0 and lst["removed"] == 0 for lst in account["lists"])
    assert ledger_content(p) == content
    assert p.lists() == lists


def test_check_reports_each_account(platforms: Any) -> None:
    p = platforms()
    ok = p.run("check", "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert {a["account"]: a["ok"] for a in json.loads(ok.stdout)["accounts"]} == {
        "maison-paris": True,
        "velo": True,
        "maison-outlet": True,
    }
    p.brevo.revoke()
    bad = p.run("check", "--json")
    assert bad.returncode == 1
    results = {a["account"]: a for a in json.loads(bad.stdout)["accounts"]}
    assert not results["velo"]["ok"] and results["maison-paris"]["ok"]
    assert p.brevo.credential not in bad.stdout + bad.stderr


def test_missing_credential_fails_that_account_only(platforms: Any) -> None:
    p = platforms()
    del p.env["BREVO_API_KEY"]
    proc = p.run("run", "--json")
    assert proc.returncode == 1
    accounts = {a["name"]: a for a in report(proc)["accounts"]}
    assert not accounts["velo"]["ok"] and "BREVO_API_KEY" in accounts["velo"]["error"]
    assert accounts["maison-paris"]["ok"] and accounts["maison-outlet"]["ok"]


@pytest.mark.parametrize(
    ("platform", "phase", "path", "skip", "ledger_url"),
    [
        ("hubspot", "pull", "/email/public/v1/events", 2, "sqlite"),
        ("hubspot", "push", "/memberships/add-and-remove", 1, "sqlite"),
        ("hubspot", "push", "/memberships/add-and-remove", 1, "postgresql"),
        ("brevo", "pull", "/campaignStats", 40, "sqlite"),
        ("brevo", "push", "/contacts/add", 0, "sqlite"),
    ],
    indirect=["ledger_url"],
)
def test_a_run_killed_mid_pull_or_push_converges(
    platforms: Any, platform: str, phase: str, path: str, skip: int
) -> None:
    clean = platforms("clean")
    assert clean.run("run").returncode == 0
    killed = platforms("killed")
    # hold one request of the phase open, kill the run while it waits, then rerun
    killed.kill_while_held(getattr(killed, platform), path, skip, phase, within=60)
    rerun = killed.run("run")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert ledger_content(killed) == ledger_content(clean)
    assert killed.lists() == clean.lists()


def test_sandbox_command_serves_a_seeded_platform(tmp_path: Path) -> None:
    import requests

    proc = subprocess.Popen(
        [sys.executable, "-m", "pressure_sdk", "sandbox", "hubspot", "--seed", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" on ")[1].strip()
        credential = proc.stdout.readline().split(": ", 1)[1].strip()
        events = requests.get(
            f"{url}/email/public/v1/events",
            params={"limit": 5},
            headers={"Authorization": f"Bearer {credential}"},
            timeout=10,
        )
        assert events.status_code == 200 and len(events.json()["events"]) == 5
        refused = requests.get(f"{url}/email/public/v1/events", timeout=10)
        assert refused.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
