"""HubSpot, Brevo, Mailchimp and SFMC sandboxes plus export files in one workspace, over HTTP.

The generator's three brands feed HubSpot (maison-paris), Brevo (velo) and the files
connector (maison-outlet); two more brands are made from the same exports with other
addresses, so each platform has people of its own: maison-web on Mailchimp and velo-pro
on SFMC. The clean run and its rerun, and a run killed mid-push, run on both ledgers
(SQLite, and PostgreSQL through ``PRESSURE_LEDGER``); the kills mid-pull run on SQLite.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pressure_connector_brevo.testing import BrevoSandbox
from pressure_connector_hubspot.testing import HubSpotSandbox
from pressure_connector_mailchimp.testing import MailchimpSandbox
from pressure_connector_sfmc.testing import SfmcSandbox

from .e2e_support import BOTH_LEDGERS, Sandboxed, generate, ledger_content

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
    out = generate(tmp_path_factory.mktemp("exports"), contacts=200, days=20)
    derive(out / "maison-outlet", out / "maison-web", "maison-web", "web")
    derive(out / "velo", out / "velo-pro", "velo-pro", "pro")
    return out


class Four(Sandboxed):
    """Four platform sandboxes seeded from the exports, and a workspace using them and files."""

    def __init__(self, root: Path, exports: Path, ledger_url: str | None = None) -> None:
        super().__init__(root, ledger_url)
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
        self.config.write_text(workspace_toml(self, exports))
        self.env.update(
            HUBSPOT_TOKEN=self.hubspot.credential,
            BREVO_API_KEY=self.brevo.credential,
            MAILCHIMP_KEY=self.mailchimp.credential,
            **self.sfmc.env(SFMC_ENV),
        )

    def boxes(self) -> list[Any]:
        return [self.hubspot, self.brevo, self.mailchimp, self.sfmc]

    def lists(self) -> dict[str, set[str]]:
        """Each platform's suppression list as the platform holds it."""
        return {
            "hubspot": self.hubspot.list_members("paris-marketing-email"),
            "brevo": self.brevo.list_members("velo-marketing-email"),
            "mailchimp": self.mailchimp.segment_members("web-marketing-email"),
            "sfmc": self.sfmc.emails("pressure-pro-marketing-email"),
        }


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
def four(tmp_path: Path, exports: Path, ledger_url: str | None, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``four(name)``: a workspace of its own, on the test's backend (a new database each on PostgreSQL)."""
    made: list[Four] = []

    def make(name: str = "ws") -> Four:
        url = ledger_url and (request.getfixturevalue("postgres_server").new_database() if made else ledger_url)
        p = Four(tmp_path / name, exports, url)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


@BOTH_LEDGERS
def test_one_run_over_four_platforms_and_files_then_a_rerun_changes_nothing(four: Any) -> None:
    p = four()
    first = p.run("run", "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    by_name = {a["name"]: a for a in json.loads(first.stdout)["accounts"]}
    assert set(by_name) == {"maison-paris", "velo", "maison-web", "velo-pro", "maison-outlet"}
    for name, acc in by_name.items():
        assert acc["ok"] and acc["touches_added"] > 0, (name, acc)
        assert acc["lists"][0]["pushed"] and acc["lists"][0]["size"] > 0, (name, acc)
    # what each platform holds is what the ledger recorded as confirmed
    content = ledger_content(p)
    confirmed: dict[str, set[str]] = {}
    for account, _lst, email in content["lists"]:
        confirmed.setdefault(str(account), set()).add(str(email))
    lists = p.lists()
    assert lists["hubspot"] == confirmed["maison-paris"]
    assert lists["brevo"] == confirmed["velo"]
    assert lists["mailchimp"] == confirmed["maison-web"]
    assert lists["sfmc"] == confirmed["velo-pro"]
    # another person's address on another platform: the +web and +pro people never mix
    assert all("+web@" in e for e in lists["mailchimp"]) and all("+pro@" in e for e in lists["sfmc"])
    second = p.run("run", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    for acc in json.loads(second.stdout)["accounts"]:
        assert acc["touches_added"] == 0 and acc["lists"][0]["added"] == acc["lists"][0]["removed"] == 0, acc
    assert ledger_content(p) == content
    assert p.lists() == lists


@pytest.mark.parametrize(
    ("platform", "phase", "path", "skip", "ledger_url"),
    [
        ("mailchimp", "pull", "/email-activity", 1, "sqlite"),
        ("mailchimp", "push", "/segments/", 0, "sqlite"),
        ("sfmc", "pull", "/soap", 3, "sqlite"),
        ("sfmc", "push", "/rows", 0, "sqlite"),
        ("sfmc", "push", "/rows", 0, "postgresql"),
    ],
    indirect=["ledger_url"],
)
def test_a_run_killed_on_mailchimp_or_sfmc_converges(
    four: Any, platform: str, phase: str, path: str, skip: int
) -> None:
    clean = four("clean")
    assert clean.run("run").returncode == 0
    killed = four("killed")
    # hold one request of the phase open, kill the run while it waits, then rerun
    killed.kill_while_held(getattr(killed, platform), path, skip, phase)
    rerun = killed.run("run")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert ledger_content(killed) == ledger_content(clean)
    assert killed.lists() == clean.lists()
