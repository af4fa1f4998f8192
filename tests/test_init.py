"""``pressure-sync init`` writes a commented workspace that loads, checks and runs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from pressure_sdk.cli import cli
from pressure_sdk.config import load_config


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


def test_default_workspace_loads_checks_and_runs(tmp_path: Path) -> None:
    ws = tmp_path / "shop"
    code, out = invoke("init", "--dir", str(ws))
    assert code == 0, out
    assert f"wrote {ws / 'pressure.toml'}: 1 brand, 1 account, 4 rules" in out
    text = (ws / "pressure.toml").read_text()
    assert text.startswith("# pressure-sdk workspace")
    assert sum(line.startswith("#") for line in text.splitlines()) > 20  # commented
    cfg = load_config(ws / "pressure.toml")
    assert cfg.workspace.name == "shop" and list(cfg.brands) == ["my-brand"]
    (acc,) = cfg.accounts
    assert (acc.name, acc.connector, acc.brand, [lst.name for lst in acc.lists]) == (
        "my-brand",
        "files",
        "my-brand",
        ["my-brand-marketing-email"],
    )
    assert [r.id for r in cfg.rules] == ["email-weekly", "all-brands-weekly", "spacing", "after-complaint"]
    # the files account starts from header-only exports: check passes, a run imports nothing
    assert (ws / "data" / "my-brand" / "touches.csv").read_text().startswith("event_id,email,channel,brand,family")
    code, out = invoke("check", "--config", str(ws / "pressure.toml"), "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    code, out = invoke("run", "--config", str(ws / "pressure.toml"), "--json")
    assert code == 0, out
    assert json.loads(out)["accounts"][0]["lists"][0]["size"] == 0


def test_exports_dropped_in_are_imported_and_the_rules_apply(tmp_path: Path) -> None:
    ws = tmp_path / "shop"
    assert invoke("init", "--dir", str(ws), "--brand", "acme", "--timezone", "Europe/Paris")[0] == 0
    (ws / "data" / "acme" / "touches.csv").write_text(
        "event_id,email,channel,brand,family,sent_at\n"
        + "".join(f"t{i},ana@example.com,email,acme,marketing,2026-11-1{i}T10:00:00\n" for i in range(3))
    )
    code, out = invoke("run", "--config", str(ws / "pressure.toml"), "--now", "2026-11-13T12:00:00", "--json")
    assert code == 0, out
    (lst,) = json.loads(out)["accounts"][0]["lists"]
    assert (lst["name"], lst["size"]) == ("acme-marketing-email", 1)
    code, out = invoke(
        "why", "--config", str(ws / "pressure.toml"), "ana@example.com", "--list", "acme-marketing-email",
        "--now", "2026-11-13T12:00:00",
    )  # fmt: skip
    assert code == 0 and "cap:email-weekly 3/3 in 7d (brand acme)" in out


def test_http_connectors_name_their_credential_variables_and_check_runs(tmp_path: Path) -> None:
    ws = tmp_path / "agency"
    code, out = invoke(
        "init", "--dir", str(ws), "--connector", "hubspot", "--connector", "brevo",
        "--client", "maison", "--client", "velo", "--brand", "maison:paris", "--brand", "maison:outlet",
        "--brand", "velo:velo",
    )  # fmt: skip
    assert code == 0, out
    assert "paris-hubspot: export HUBSPOT_TOKEN_PARIS=" in out and "velo-brevo: export BREVO_API_KEY_VELO=" in out
    cfg = load_config(ws / "pressure.toml")
    assert cfg.client_names == ["maison", "velo"]
    assert {b: cfg.client_of_brand(b) for b in cfg.brands} == {"paris": "maison", "outlet": "maison", "velo": "velo"}
    assert [(a.name, a.connector, a.credential_env) for a in cfg.accounts] == [
        ("paris-hubspot", "hubspot", "HUBSPOT_TOKEN_PARIS"),
        ("outlet-hubspot", "hubspot", "HUBSPOT_TOKEN_OUTLET"),
        ("velo-hubspot", "hubspot", "HUBSPOT_TOKEN_VELO"),
        ("paris-brevo", "brevo", "BREVO_API_KEY_PARIS"),
        ("outlet-brevo", "brevo", "BREVO_API_KEY_OUTLET"),
        ("velo-brevo", "brevo", "BREVO_API_KEY_VELO"),
    ]
    assert not (ws / "data").exists()  # no export folder for platforms
    # the file is valid (not exit 2); each account fails only for its missing credential
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_TOKEN", "BREVO_API_KEY"))}
    code, out = invoke("check", "--config", str(ws / "pressure.toml"), "--json", env=clean)
    assert code == 1, out
    failed = {r["account"]: r["message"] for r in json.loads(out)["accounts"] if not r["ok"]}
    assert set(failed) == {a.name for a in cfg.accounts}
    assert all(a.credential_env in failed[a.name] for a in cfg.accounts)


def test_one_brand_per_client_by_default_and_a_single_credential_variable(tmp_path: Path) -> None:
    code, out = invoke("init", "--dir", str(tmp_path), "--client", "a", "--client", "b", "--connector", "hubspot")
    assert code == 0, out
    cfg = load_config(tmp_path / "pressure.toml")
    assert {b: cfg.client_of_brand(b) for b in cfg.brands} == {"a": "a", "b": "b"}
    code, _ = invoke("init", "--dir", str(tmp_path / "one"), "--connector", "hubspot", "--brand", "acme", "--force")
    assert code == 0
    assert load_config(tmp_path / "one" / "pressure.toml").accounts[0].credential_env == "HUBSPOT_TOKEN"


def test_an_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "pressure.toml"
    target.write_text("# mine\n")
    code, out = invoke("init", "--dir", str(tmp_path))
    assert code == 2 and f"{target} already exists; pass --force to overwrite it" in out
    assert target.read_text() == "# mine\n"
    export = tmp_path / "data" / "my-brand" / "touches.csv"
    export.parent.mkdir(parents=True)
    export.write_text("event_id,email,channel,brand,family,sent_at\nt1,a@x.com,email,my-brand,marketing,2026-01-01\n")
    code, out = invoke("init", "--dir", str(tmp_path), "--force")
    assert code == 0, out
    load_config(target)
    assert "t1,a@x.com" in export.read_text()  # exports are never overwritten
    assert (tmp_path / "data" / "my-brand" / "contacts.csv").exists()


def test_the_file_is_written_as_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert invoke("init", "--dir", str(tmp_path))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "pressure.toml").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--brand", "a b"], "brand name 'a b': use letters, digits, '-' and '_'"),
        (["--client", "x", "--client", "y", "--brand", "z"], "say which owns it: --brand CLIENT:z"),
        (["--client", "x", "--brand", "w:z"], "--brand w:z: unknown client 'w'; declare it with --client w"),
        (["--brand", "a", "--brand", "a"], "brand 'a' given twice"),
        (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
        (["--connector", "acme"], "Invalid value for '--connector'"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = invoke("init", "--dir", str(tmp_path / "ws"), *args)
    assert code == 2 and message in out
    assert not (tmp_path / "ws").exists()


def test_mailchimp_and_sfmc_accounts_name_what_to_set_and_check_says_it_once(tmp_path: Path) -> None:
    code, out = invoke(
        "init", "--dir", str(tmp_path), "--connector", "mailchimp", "--connector", "sfmc", "--brand", "acme"
    )
    assert code == 0, out
    assert "acme-mailchimp: export MAILCHIMP_API_KEY=" in out
    assert "acme-sfmc: export SFMC_CLIENT_ID=<…> SFMC_CLIENT_SECRET=<…> SFMC_ACCOUNT_ID=<…>" in out
    cfg = load_config(tmp_path / "pressure.toml")
    by_connector = {a.connector: a for a in cfg.accounts}
    assert by_connector["mailchimp"].settings["list_id"] == "0000000000"
    assert by_connector["sfmc"].credential_env == "SFMC" and "subdomain" in by_connector["sfmc"].settings
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MAILCHIMP_API_KEY", "SFMC_"))}
    code, out = invoke("check", "--config", str(tmp_path / "pressure.toml"), "--json", env=clean)
    assert code == 1, out  # valid settings (not exit 2); only the credentials are missing
    failed = {r["account"]: r["message"] for r in json.loads(out)["accounts"] if not r["ok"]}
    assert "MAILCHIMP_API_KEY" in failed["acme-mailchimp"] and "SFMC_CLIENT_SECRET" in failed["acme-sfmc"]
    assert not [m for m in failed.values() if "account 'acme-" in m]  # the line names the account already
