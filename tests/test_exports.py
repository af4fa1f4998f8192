import pressure_sdk


def test_public_names_are_pinned() -> None:
    assert sorted(pressure_sdk.__all__) == sorted(
        [
            "Batch",
            "Candidate",
            "ConfigError",
            "ConnectorError",
            "ContactUpdate",
            "Decision",
            "Engagement",
            "GuardError",
            "InputError",
            "Ledger",
            "LedgerError",
            "LockedError",
            "Policy",
            "PressureError",
            "Reason",
            "Touch",
            "UnknownConnectorError",
            "Workspace",
            "WorkspaceConfig",
            "__version__",
            "load_config",
            "parse_config",
        ]
    )
    for name in pressure_sdk.__all__:
        assert hasattr(pressure_sdk, name), name


def test_errors_share_one_root_and_config_errors_exit_2() -> None:
    for name in ("ConfigError", "ConnectorError", "GuardError", "InputError", "LedgerError", "LockedError"):
        assert issubclass(getattr(pressure_sdk, name), pressure_sdk.PressureError)
    assert pressure_sdk.ConfigError("x").exit_code == 2
    assert pressure_sdk.UnknownConnectorError("x").exit_code == 2
    assert pressure_sdk.ConnectorError("x").exit_code == 1


def test_core_imports_no_cli_or_connector() -> None:
    import ast
    from pathlib import Path

    root = Path(pressure_sdk.__file__).parent
    core = [
        "models.py",
        "policy.py",
        "arbiter.py",
        "segments.py",
        "tiers.py",
        "state.py",
        "config.py",
        "timeutil.py",
        "ledger/store.py",
        "ledger/schema.py",
    ]
    for rel in core:
        tree = ast.parse((root / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                assert not mod.endswith(("cli", "sync")) and "connectors" not in mod, f"{rel} imports {mod}"
                assert not mod.startswith("pressure_connector"), f"{rel} imports {mod}"
