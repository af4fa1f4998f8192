"""What ``forget`` shows before erasing: per client, everything the ledger holds about the contact."""

from __future__ import annotations

from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.explain import Footprint, footprint
from pressure_sdk.ledger import Ledger
from pressure_sdk.models import Batch, Engagement, Touch

T = 1_790_000_000
DAY = 86400


def ledger_with_two_clients() -> Ledger:
    led = Ledger()
    old = T - 400 * DAY  # far back: the count must not depend on a window
    led.ingest(
        Batch(
            touches=[
                Touch("a1", "Ana@x.com", "email", "m", "marketing", old),
                Touch("a2", "ana@x.com", "sms", "m", "marketing", T),
                Touch("a3", "ana@x.com", "email", "m", "marketing", T + 30 * DAY),  # recorded for the future
            ],
            engagements=[
                Engagement("e1", "ana@x.com", "unsubscribe", T - DAY, "email", "m"),
                Engagement("e2", "ana@x.com", "open", T - 2 * DAY, "email", "m"),
            ],
        ),
        account="m-files",
        client="maison",
    )
    led.ingest(
        Batch(touches=[Touch("v1", "ana@x.com", "email", "v", "marketing", T)]), account="v-files", client="velo"
    )
    led.ingest(
        Batch(touches=[Touch("o1", "bob@x.com", "email", "m", "marketing", T)]), account="m-files", client="maison"
    )
    ana = led.contact("ana@x.com", "maison")
    assert ana is not None
    led.confirm_push("m-files", "m-email", [ana.id], [])
    led.confirm_push("m-files", "m-sms", [ana.id], [])
    bob = led.contact("bob@x.com", "maison")
    assert bob is not None
    led.confirm_push("m-files", "m-other", [bob.id], [])
    return led


def test_footprint_counts_every_row_of_the_contact_per_client() -> None:
    led = ledger_with_two_clients()
    maison, velo, nowhere = footprint(led, "ANA@x.com ", ["maison", "velo", "other"], T)
    assert maison == Footprint("maison", "ana@x.com", True, 3, 2, 1, (("m-files", "m-email"), ("m-files", "m-sms")))
    assert velo == Footprint("velo", "ana@x.com", True, 1, 0, 0, ())
    assert nowhere == Footprint("other", "ana@x.com", False)
    assert maison.text() == (
        "client maison: 3 touches, 2 engagements, 1 consent change, on 2 lists (m-files/m-email, m-files/m-sms)"
    )
    assert velo.text() == "client velo: 1 touch, 0 engagements, 0 consent changes, on no list"
    assert nowhere.text() == "client other: not in the ledger"
    # and what it counted is what forget erases
    assert led.forget("ana@x.com", ["maison"]) == ["maison"]
    assert led.count("touches", "maison") == 1 and led.count("engagements", "maison") == 0
    assert footprint(led, "ana@x.com", ["maison"], T) == [Footprint("maison", "ana@x.com", False)]


CONFIG = """
[workspace]
ledger = "ledger.db"

[clients.maison]
[clients.velo]

[brands.m]
client = "maison"

[brands.v]
client = "velo"
"""


def test_forget_prints_one_line_per_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "pressure.toml").write_text(CONFIG)
    with Ledger(tmp_path / "ledger.db") as led:
        led.ingest(Batch(touches=[Touch("v1", "ana@x.com", "email", "v", "marketing", T)]), account="v", client="velo")
    args = ["forget", "--config", str(tmp_path / "pressure.toml"), "ana@x.com"]
    result = CliRunner().invoke(cli, args, input="n\n")
    assert result.exit_code == 1
    assert result.output.splitlines()[1:3] == [
        "  client maison: not in the ledger",
        "  client velo: 1 touch, 0 engagements, 0 consent changes, on no list",
    ]
    result = CliRunner().invoke(cli, [*args, "--client", "velo", "--yes"])
    assert result.exit_code == 0
    assert "client maison" not in result.output and "erased ana@x.com from velo" in result.output
