"""The README's Python examples run, and the API names and signatures it gives match the code."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pressure_sdk
from pressure_sdk import Batch, Candidate, Decision, Reason, Touch, Workspace
from pressure_sdk.explain import Membership, membership
from pressure_sdk.ledger import Ledger

README = (Path(__file__).parents[1] / "README.md").read_text()
_API_AT = README.index("\n## Python API\n")
# the section runs to the next top-level heading, whichever comes next
API = README[_API_AT : README.index("\n## ", _API_AT + 1)]

CONFIG = """
[workspace]
ledger = "ledger.db"

[brands.acme]

[[accounts]]
name = "acme"
connector = "files"
brand = "acme"
lists = [{ name = "acme-marketing-email" }]

[[rules]]
id = "email-weekly"
kind = "cap"
max = 1
window = "7d"
channels = ["email"]
families = ["marketing"]
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_blocks(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[Any], str]:
    """Run the Python API blocks in order, in one namespace, from a workspace folder."""
    monkeypatch.chdir(folder)
    sent: list[Any] = []
    ns: dict[str, Any] = {"send": lambda *a, **k: sent.append(a), "__name__": "readme"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in python_blocks(API):
            exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 - the README's own examples
    return ns, sent, out.getvalue()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pressure.toml").write_text(CONFIG)
    return tmp_path


def test_the_python_api_has_two_examples() -> None:
    blocks = python_blocks(API)
    assert len(blocks) == 2
    assert "ws.decide(" in blocks[0] and "membership(" in blocks[1]


def test_the_examples_run_on_a_fresh_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ns, sent, out = run_blocks(workspace, monkeypatch)
    assert sent == [(Ellipsis,)]  # allowed: the example sent and recorded
    with Ledger(workspace / "ledger.db") as led:
        assert led.count("touches") == 2  # the recorded send and the reserved trigger
    # the plan's candidate at the same instant would be a second marketing email in 7 days
    assert "[('c1', False, ['email-weekly'])]" in out
    # sends recorded by code are not the account's audience: not on its list
    assert isinstance(ns["m"], Membership) and ns["m"].on_list is False
    assert "is NOT on list acme-marketing-email (account acme)" in out


def test_the_examples_run_on_a_saturated_contact(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Workspace.open(workspace / "pressure.toml") as ws:
        t = ws.now() - 3600
        ws.ledger.ingest(
            Batch(touches=[Touch("old", "ana@example.com", "email", "acme", "marketing", t)]), account="acme"
        )
    ns, sent, out = run_blocks(workspace, monkeypatch)
    assert sent == []  # blocked: explained instead
    assert "BLOCKED: marketing email from acme to ana@example.com" in out
    assert "cap:email-weekly 1/1 in 7d (brand acme)" in out
    assert f"True {t + 7 * 86400}" in out  # on the list, and when it leaves
    assert "is ON list acme-marketing-email (account acme)" in out


# -- names and signatures ---------------------------------------------------------------


def bare(fn: Callable[..., Any]) -> str:
    """``name(params)`` as the README writes it: no self, no annotations, double quotes."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values() if p.name != "self"]
    text = str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))
    return fn.__name__ + text.replace("'", '"')


@pytest.mark.parametrize(
    "fn",
    [
        Workspace.decide,
        Workspace.reserve,
        Workspace.record,
        Workspace.plan,
        Workspace.explain,
        Workspace.open,
        Workspace.contact,
        Workspace.value_table,
        membership,
    ],
    ids=lambda f: f.__name__,
)
def test_each_documented_signature_is_the_code_s(fn: Callable[..., Any]) -> None:
    written = re.findall(rf"`(?:pressure_sdk\.explain\.|Workspace\.)?({fn.__name__}\([^`]*\))(?: -> [^`]*)?`", API)
    assert written, f"{fn.__name__} is not documented in the Python API section"
    assert written[0] == bare(fn)


@pytest.mark.parametrize("cls", [Touch, Candidate], ids=lambda c: c.__name__)
def test_the_documented_constructors_are_the_code_s(cls: type) -> None:
    (written,) = re.findall(rf"`({cls.__name__}\([^`]*\))`", API)
    params = []
    for f in dataclasses.fields(cls):
        default = "" if f.default is dataclasses.MISSING else "=" + repr(f.default).replace("'", '"')
        params.append(f.name + default)
    assert written == f"{cls.__name__}({', '.join(params)})"


def test_the_documented_fields_exist() -> None:
    named = set(re.findall(r"`([a-z_]+)`", API[API.index("- `Decision`:") :]))
    fields = {f.name for f in dataclasses.fields(Decision)} | {f.name for f in dataclasses.fields(Reason)}
    assert {"allowed", "exempt", "candidate", "reasons", "next_allowed_at", "rule_id", "until", "touches"} <= named
    assert named - {"rule"} <= fields  # `rule` is the JSON key of `rule_id`
    bullet = API[API.index("pressure_sdk.explain.membership") :].split("\n- ")[0]
    for attr in re.findall(r"`([a-z_]+)(?:\(\))?`", bullet):
        if attr not in {"why"}:
            assert hasattr(Membership, attr), attr


def test_every_pressure_sdk_import_in_the_readme_resolves() -> None:
    imports = [
        (module, [n.strip() for n in names.split(",")])
        for block in python_blocks(README)
        for module, names in re.findall(r"^from (pressure_sdk[\w.]*) import ([\w, ]+)$", block, flags=re.M)
    ]
    assert len(imports) >= 6
    for module, names in imports:
        mod = __import__(module, fromlist=names)
        for name in names:
            assert hasattr(mod, name), f"from {module} import {name}"
    assert {"Workspace", "Touch", "Candidate"} <= set(pressure_sdk.__all__)
