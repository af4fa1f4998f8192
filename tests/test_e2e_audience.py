"""Lists are computed over each account's audience (DESIGN §6.4), end to end over HTTP.

A contact saturated by brand A's sends on HubSpot, and present in brand B's audience on
Brevo without a single event there, lands on B's list on Brevo, and leaves it once the
window has passed. On both ledgers (SQLite, and PostgreSQL through ``PRESSURE_LEDGER``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pressure_connector_brevo.testing import BrevoSandbox
from pressure_connector_hubspot.testing import HubSpotSandbox

from .e2e_support import BOTH_LEDGERS

pytestmark = pytest.mark.slow

DAY = 86400
SATURATED = "sat@example.com"
QUIET = "quiet@example.com"


def workspace(root: Path, hub: HubSpotSandbox, brevo: BrevoSandbox) -> Path:
    retry = "{ max_attempts = 3, backoff = 0.05, max_backoff = 0.2 }"
    config = root / "pressure.toml"
    config.write_text(
        f"""
[workspace]
ledger = "ledger.db"
timezone = "UTC"

[brands.maison-paris]
[brands.velo]

[[accounts]]
name = "maison-paris"
connector = "hubspot"
brand = "maison-paris"
credential_env = "HUBSPOT_TOKEN"
base_url = "{hub.url}"
settings = {{ timeout = 5, retry = {retry} }}
lists = [{{ name = "paris-marketing-email" }}]

[[accounts]]
name = "velo"
connector = "brevo"
brand = "velo"
credential_env = "BREVO_API_KEY"
base_url = "{brevo.url}"
settings = {{ timeout = 5, retry = {retry}, import_poll_interval = 0 }}
lists = [{{ name = "velo-marketing-email" }}]

# at most 3 marketing emails in any 7 days, whichever brand sends them
[[rules]]
id = "all-weekly"
kind = "cap"
channels = ["email"]
families = ["marketing"]
max = 3
window = "7d"
scope = "all"
"""
    )
    return config


def run(config: Path, env: dict[str, str], *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "pressure_sdk", "run", "--config", str(config), "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@BOTH_LEDGERS
def test_a_contact_saturated_by_one_brand_lands_on_the_other_brands_list_through_its_audience(
    tmp_path: Path, ledger_url: str | None
) -> None:
    hub, brevo = HubSpotSandbox(limits={}), BrevoSandbox(limits={})
    now = int(time.time())
    # three maison-paris campaigns to SATURATED in the last three days, none from velo
    for i in range(3):
        hub.add_send(SATURATED, (now - (i + 1) * DAY) * 1000, campaign=i + 1)
    brevo.add_contact(SATURATED, at=now - 30 * DAY)
    brevo.add_contact(QUIET, at=now - 30 * DAY)
    hub.start()
    brevo.start()
    try:
        config = workspace(tmp_path, hub, brevo)
        env = {k: v for k, v in os.environ.items() if k != "PRESSURE_LEDGER"}
        env.update(HUBSPOT_TOKEN=hub.credential, BREVO_API_KEY=brevo.credential)
        if ledger_url:
            env["PRESSURE_LEDGER"] = ledger_url
        first = run(config, env)
        velo = next(a for a in first["accounts"] if a["name"] == "velo")  # type: ignore[union-attr]
        assert velo["ok"] and velo["touches_added"] == 0, velo
        assert brevo.list_members("velo-marketing-email") == {SATURATED}
        assert hub.list_members("paris-marketing-email") == {SATURATED}
        # a second run changes nothing
        again = run(config, env)
        assert all(lst["added"] == 0 and lst["removed"] == 0 for a in again["accounts"] for lst in a["lists"])  # type: ignore[union-attr, index]
        # eight days later the window has passed: off both lists
        later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 8 * DAY))
        run(config, env, "--now", later)
        assert brevo.list_members("velo-marketing-email") == set()
        assert hub.list_members("paris-marketing-email") == set()
    finally:
        hub.stop()
        brevo.stop()
