import pressure_sdk


def test_public_names_are_pinned() -> None:
    assert sorted(pressure_sdk.__all__) == sorted(
        [
            "APIError",
            "AuthError",
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
            "PayloadError",
            "PermanentAPIError",
            "Policy",
            "PressureError",
            "RateLimitError",
            "Reason",
            "Touch",
            "TransientAPIError",
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
        "scoring.py",
        "validate.py",
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


def test_toolkit_and_kit_names_are_pinned() -> None:
    import pressure_sdk.connectors
    import pressure_sdk.http
    import pressure_sdk.testing

    assert sorted(pressure_sdk.connectors.__all__) == [
        "ApiCredential",
        "Connector",
        "Credentials",
        "CursorState",
        "HttpConnector",
        "HttpSettings",
        "HttpStream",
        "IncrementalCursor",
        "ListSink",
        "PushBatch",
        "RemoteList",
        "RemoteMember",
        "Targets",
        "Window",
        "available",
        "contact_ids",
        "env_field",
        "get_connector",
        "pull_windows",
        "register",
        "stable_id",
    ]
    assert {
        "HttpClient",
        "RetryPolicy",
        "HeaderPacer",
        "BearerToken",
        "ApiKeyHeader",
        "OAuth2ClientCredentials",
    } <= set(pressure_sdk.http.__all__)
    assert {"ContractHarness", "connector_contract", "Sandbox", "route", "Reply"} <= set(pressure_sdk.testing.__all__)
    for module in (pressure_sdk.connectors, pressure_sdk.http, pressure_sdk.testing):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_kit_modules_pin_their_names() -> None:
    from pressure_sdk.connectors import credentials, sinks, streams

    assert sorted(streams.__all__) == [
        "CursorState",
        "DAY",
        "HttpStream",
        "IncrementalCursor",
        "Row",
        "RowDedupe",
        "Window",
        "day_start",
        "last_day_before",
        "pull_windows",
        "stable_id",
        "utc_day",
    ]
    assert sorted(sinks.__all__) == ["ListSink", "Targets", "contact_ids", "require"]
    assert sorted(credentials.__all__) == ["ApiCredential", "Credentials", "env_field"]
    for module in (streams, sinks, credentials):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def test_api_errors_are_connector_errors_and_auth_is_not_transient() -> None:
    assert issubclass(pressure_sdk.APIError, pressure_sdk.ConnectorError)
    assert issubclass(pressure_sdk.RateLimitError, pressure_sdk.TransientAPIError)
    assert issubclass(pressure_sdk.PayloadError, pressure_sdk.PermanentAPIError)
    assert not issubclass(pressure_sdk.AuthError, pressure_sdk.TransientAPIError)
