"""HubSpot, Brevo, Mailchimp and SFMC sandboxes plus export files in one workspace, over HTTP.

The generator's three brands feed HubSpot (maison-paris), Brevo (velo) and the files
connector (maison-outlet); two more brands are made from the same exports with other
addresses, so each platform has people of its own: maison-web on Mailchimp and velo-pro
on SFMC.
"""

from __future__ import annotations

import csv
import gzip
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo.testing import BrevoSandbox
from pressure_connector_hubspot.testing import HubSpotSandbox
from pressure_connector_mailchimp.testing import MailchimpSandbox
from pressure_connector_sfmc.testing import SfmcSandbox

ROOT = Path(__file__).parents[1]
GENERATOR = ROOT / "examples" / "demo" / "generate.py"
SFMC_ENV = "VELO_PRO_SFMC"

pytestmark = pytest.mark.slow


def derive(source: Path, target: Path, brand: str, tag: str) -> None:
    """Copy an export folder under another brand, each address made another person's."""
    target.mkdir(parents=True)
    for f in sorted(source.glob("*.csv.gz")):
        with gzip.open(f, "rt", newline="") as src, gzip.open(target / f.name, "wt", newline="") as dst:
            rows = csv.DictReader(src)
            out = csv.DictWriter(dst, fieldnames=list(rows.fieldnames or []))
            out.writeheader()
            for row in rows:
                local, _, domain = row["email"].partition("@")
                row["email"] = f"{local}+{tag}@{domain}"
                if "event_id" in row:
                    row["event_id"] = f"{tag}-{row['event_id']}"
                if row.get("brand"):
                    row["brand"] = brand
                out.writerow(row)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    subprocess.run(
        [sys.executable, str(GENERATOR), "--contacts", "200", "--days", "20", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    derive(out / "maison-outlet", out / "maison-web", "maison-web", "web")
    derive(out / "velo", out / "velo-pro", "velo-pro", "pro")
    return out


class Four:
    """Four platform sandboxes seeded from the exports, and a workspace using them and files."""

    def __init__(self, root: Path, exports: Path) -> None:
        self.root = root
        self.hubspot = HubSpotSandbox(limits={})
        self.brevo = BrevoSandbox(limits={})
        self.mailchimp = MailchimpSandbox()
        self.sfmc = SfmcSandbox(limits={}, async_polls=1)
        self.hubspot.load_exports(exports / "maison-paris")
        self.brevo.load_exports(exports / "velo")
        self.mailchimp.load_exports(exports / "maison-web")
        self.sfmc.load_exports(exports / "velo-pro")
        for box in self.boxes():
            box.start()
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "pressure.toml"
        self.config.write_text(workspace_toml(self, exports))
        self.env = {
            **os.environ,
            "HUBSPOT_TOKEN": self.hubspot.credential,
            "BREVO_API_KEY": self.brevo.credential,
            "MAILCHIMP_KEY": self.mailchimp.credential,
            **self.sfmc.env(SFMC_ENV),
        }

    def boxes(self) -> list[Any]:
        return [self.hubspot, self.brevo, self.mailchimp, self.sfmc]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pressure_sdk", "run", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
        )

    def start_run(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pressure_sdk", "run", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def lists(self) -> dict[str, set[str]]:
        """Each platform's suppression list as the platform holds it."""
        return {
            "hubspot": self.hubspot.list_members("paris-marketing-email"),
            "brevo": self.brevo.list_members("velo-marketing-email"),
            "mailchimp": self.mailchimp.segment_members("web-marketing-email"),
            "sfmc": self.sfmc.emails("pressure-pro-marketing-email"),
        }

    def stop(self) -> None:
        for box in self.boxes():
            box.stop()


def workspace_toml(p: Four, exports: Path) -> str:
    retry = "{ max_attempts = 3, backoff = 0.05, max_backoff = 0.2 }"
    return f"""
[workspace]
ledger = "ledger.db"
timezone = "Europe/Paris"
now = "2026-11-16T09:00:00+01:00"
guard_min_size = 100000

[brands.maison-paris]
group = "maison"
[brands.maison-outlet]
group = "maison"
[brands.maison-web]
group = "maison"
[brands.velo]
[brands.velo-pro]

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
name = "maison-web"
connector = "mailchimp"
brand = "maison-web"
credential_env = "MAILCHIMP_KEY"
base_url = "{p.mailchimp.url}"
settings = {{ timeout = 5, retry = {retry}, list_id = "{p.mailchimp.list_id}", batch_poll_interval = 0 }}
lists = [{{ name = "web-marketing-email" }}]

[[accounts]]
name = "velo-pro"
connector = "sfmc"
brand = "velo-pro"
credential_env = "{SFMC_ENV}"
base_url = "{p.sfmc.url}"
settings = {{ timeout = 5, retry = {retry}, async_poll_interval = 0 }}
lists = [{{ name = "pro-marketing-email" }}]

[[accounts]]
name = "maison-outlet"
connector = "files"
brand = "maison-outlet"
lists = [{{ name = "outlet-marketing-email" }}]

[accounts.settings]
touches = ["{exports}/maison-outlet/touches.csv.gz"]
engagements = ["{exports}/maison-outlet/engagements.csv.gz"]
out_dir = "out"

# tight, so that every brand's small history gives its list members to push
[[rules]]
id = "email-weekly"
kind = "cap"
channels = ["email"]
families = ["marketing"]
max = 1
window = "7d"
scope = "brand"
"""


@pytest.fixture
def four(tmp_path: Path, exports: Path) -> Iterator[Any]:
    made: list[Four] = []

    def make(name: str = "ws") -> Four:
        p = Four(tmp_path / name, exports)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def ledger_content(p: Four) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(p.root / "ledger.db")
    try:
        return {
            "touches": conn.execute(
                "SELECT t.account, c.email, t.at, t.uid, t.channel, t.family FROM touches t "
                "JOIN contacts c ON c.id = t.contact_id ORDER BY 1, 2, 3, 4"
            ).fetchall(),
            "engagements": conn.execute(
                "SELECT e.account, c.email, e.at, e.uid, e.type FROM engagements e "
                "JOIN contacts c ON c.id = e.contact_id ORDER BY 1, 2, 3, 4"
            ).fetchall(),
            "lists": conn.execute(
                "SELECT m.account, m.list, c.email FROM list_members m JOIN contacts c ON c.id = m.contact_id "
                "ORDER BY 1, 2, 3"
            ).fetchall(),
        }
    finally:
        conn.close()


def test_one_run_over_four_platforms_and_files_then_a_rerun_changes_nothing(four: Any) -> None:
    import json

    p = four()
    first = p.run("--json")
    assert first.returncode == 0, first.stdout + first.stderr
    by_name = {a["name"]: a for a in json.loads(first.stdout)["accounts"]}
    assert set(by_name) == {"maison-paris", "velo", "maison-web", "velo-pro", "maison-outlet"}
    for name, acc in by_name.items():
        assert acc["ok"] and acc["touches_added"] > 0, (name, acc)
        assert acc["lists"][0]["pushed"] and acc["lists"][0]["size"] > 0, (name, acc)
    # what each platform holds is what the ledger recorded as confirmed
    confirmed: dict[str, set[str]] = {}
    for account, _lst, email in ledger_content(p)["lists"]:
        confirmed.setdefault(str(account), set()).add(str(email))
    lists = p.lists()
    assert lists["hubspot"] == confirmed["maison-paris"]
    assert lists["brevo"] == confirmed["velo"]
    assert lists["mailchimp"] == confirmed["maison-web"]
    assert lists["sfmc"] == confirmed["velo-pro"]
    # another person's address on another platform: the +web and +pro people never mix
    assert all("+web@" in e for e in lists["mailchimp"]) and all("+pro@" in e for e in lists["sfmc"])
    second = p.run("--json")
    assert second.returncode == 0, second.stdout + second.stderr
    for acc in json.loads(second.stdout)["accounts"]:
        assert acc["touches_added"] == 0 and acc["lists"][0]["added"] == acc["lists"][0]["removed"] == 0, acc
    assert p.lists() == lists


@pytest.mark.parametrize(
    ("platform", "phase", "path", "skip"),
    [
        ("mailchimp", "pull", "/email-activity", 1),
        ("mailchimp", "push", "/segments/", 0),
        ("sfmc", "pull", "/soap", 3),
        ("sfmc", "push", "/rows", 0),
    ],
)
def test_a_run_killed_on_mailchimp_or_sfmc_converges(
    four: Any, platform: str, phase: str, path: str, skip: int
) -> None:
    clean = four("clean")
    assert clean.run().returncode == 0
    killed = four("killed")
    box = getattr(killed, platform)
    # hold one request of the phase open, kill the run while it waits, then rerun
    box.inject("timeout", path=path, skip=skip, delay=30)
    proc = killed.start_run()
    deadline = time.monotonic() + 120
    while box.count(path=path) <= skip:
        assert proc.poll() is None, f"the run ended before reaching the {phase}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"the run never reached the {phase}"
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    box.clear_faults()
    rerun = killed.run()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert ledger_content(killed) == ledger_content(clean)
    assert killed.lists() == clean.lists()
