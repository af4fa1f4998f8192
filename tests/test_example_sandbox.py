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


def test_the_readme_gives_two_commands_that_start_the_four_sandboxes_then_run() -> None:
    first, second = commands()
    sandboxes = [shlex.split(part) for part in first.split("&") if part.strip()]
    assert [s[:3] for s in sandboxes] == [
        ["pressure-sync", "sandbox", "hubspot"],
        ["pressure-sync", "sandbox", "brevo"],
        ["pressure-sync", "sandbox", "mailchimp"],
        ["pressure-sync", "sandbox", "sfmc"],
    ]
    assert "pressure-sync run --config examples/sandbox/pressure.toml" in second
    assert ". examples/sandbox/sandbox.env" in second


def test_ports_and_credentials_match_the_workspace() -> None:
    first = commands()[0]
    sandboxes = {s[2]: s for s in (shlex.split(p) for p in first.split("&") if p.strip())}
    env = dict(re.findall(r"export (\w+)=(\S+)", (FOLDER / "sandbox.env").read_text()))
    cfg = load_config(FOLDER / "pressure.toml")
    by_connector = {a.connector: a for a in cfg.accounts}
    for platform in ("hubspot", "brevo", "mailchimp", "sfmc"):
        args = sandboxes[platform]
        port = args[args.index("--port") + 1]
        credential = args[args.index("--credential") + 1]
        account = by_connector[platform]
        assert account.base_url is not None and f":{port}" in account.base_url
        assert account.credential_env is not None
        # SFMC's credential is three variables; its secret is the one the sandbox is given
        var = f"{account.credential_env}_CLIENT_SECRET" if platform == "sfmc" else account.credential_env
        assert env[var] == credential
        seed = args[args.index("--seed") + 1]
        assert seed == "demo" if platform in ("hubspot", "brevo") else seed == f"examples/sandbox/data/{account.brand}"
    # the SFMC sandbox's fixed client id and account id
    from pressure_connector_sfmc.testing import SfmcSandbox

    box = SfmcSandbox()
    assert env["VELO_PRO_SFMC_CLIENT_ID"] == box.client_id and env["VELO_PRO_SFMC_ACCOUNT_ID"] == box.account_id
    # the Mailchimp account names the sandbox's audience
    from pressure_connector_mailchimp.testing import MailchimpSandbox

    assert by_connector["mailchimp"].settings["list_id"] == MailchimpSandbox().list_id


def test_the_derived_exports_are_what_derive_py_makes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("derive", FOLDER / "derive.py")
    assert spec is not None and spec.loader is not None
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    derive.main(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv.gz"))
    committed = sorted(p.relative_to(FOLDER / "data") for p in (FOLDER / "data").rglob("*.csv.gz"))
    assert made == committed and len(made) == 5
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (FOLDER / "data" / rel).read_bytes(), rel
