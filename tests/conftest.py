"""Shared fixtures: an in-memory workspace built from a config mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pressure_sdk.config import parse_config
from pressure_sdk.ledger import Ledger
from pressure_sdk.workspace import Workspace


@pytest.fixture
def make_workspace() -> Iterator[Callable[..., Workspace]]:
    """``make_workspace(rules=[...], families={...}, brands={...}, **sections)`` on ``:memory:``."""
    opened: list[Workspace] = []

    def make(
        rules: list[dict[str, Any]] | None = None,
        families: dict[str, Any] | None = None,
        brands: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Workspace:
        data: dict[str, Any] = {"brands": brands if brands is not None else {"acme": {}}, **sections}
        if rules is not None:
            data["rules"] = rules
        if families is not None:
            data["families"] = families
        ws = Workspace(parse_config(data), Ledger(":memory:"))
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


# -- PostgreSQL ---------------------------------------------------------------------------
#
# The ledger's behavioural tests run on SQLite and on a real PostgreSQL server that the
# session starts from the system's PostgreSQL binaries (Debian's `postgresql` package):
# initdb in a temporary folder, pg_ctl on a free localhost port, as the `postgres` user
# when the tests run as root. Each test gets a database of its own. Nothing is skipped: a
# server that cannot start fails the tests that need it, saying why.


class PostgresServer:
    """A throwaway PostgreSQL server; :meth:`new_database` returns the URL of an empty database."""

    def __init__(self) -> None:
        import glob
        import os
        import pwd
        import shutil
        import socket
        import subprocess
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        initdb = bins[-1] if bins else shutil.which("initdb")
        if initdb is None:
            pytest.fail(
                "PostgreSQL is not installed: the ledger tests need its server binaries "
                "(apt-get install -y postgresql, as .ci/run does)",
                pytrace=False,
            )
        bindir = os.path.dirname(initdb)
        self.root = tempfile.mkdtemp(prefix="pressure-pg-")
        data = os.path.join(self.root, "data")
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root and there is no `postgres` user to run PostgreSQL as", pytrace=False)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._pg_ctl = [*run_as, os.path.join(bindir, "pg_ctl"), "-D", data]

        def run(cmd: list[str]) -> None:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                log = ""
                if os.path.exists(os.path.join(self.root, "server.log")):
                    with open(os.path.join(self.root, "server.log")) as f:
                        log = f.read()[-3000:]
                pytest.fail(
                    f"PostgreSQL did not start: {' '.join(cmd)} exited {done.returncode}\n"
                    f"{done.stdout}{done.stderr}{log}",
                    pytrace=False,
                )

        run([*run_as, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.root}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        run([*self._pg_ctl, "-l", os.path.join(self.root, "server.log"), "-o", opts, "-w", "-t", "60", "start"])
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._n = 0
        self._shared: str | None = None
        self.data = data

    def new_database(self) -> str:
        import psycopg

        self._n += 1
        name = f"ledger_{self._n}"
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.base}/{name}"

    def copy_database(self, url: str) -> str:
        """The URL of a new database holding a copy of the one at ``url`` (nobody may be connected to it)."""
        import psycopg

        self._n += 1
        name = f"ledger_{self._n}"
        source = url.rsplit("/", 1)[1].split("?")[0]
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
        return f"{self.base}/{name}"

    def new_schema(self) -> str:
        """The URL of an empty schema of its own in a shared database (quicker to make than a database)."""
        import psycopg

        if self._shared is None:
            self._shared = self.new_database()
        self._n += 1
        name = f"ledger_{self._n}"
        with psycopg.connect(self._shared, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self._shared}?options=-c%20search_path%3D{name}"

    def stop(self) -> None:
        import shutil
        import subprocess

        subprocess.run([*self._pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of an empty database of its own for this test."""
    from pressure_sdk.ledger.postgres import close_pool

    url = postgres_server.new_database()
    yield url
    close_pool(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The ledger backend a test runs on."""
    return str(request.param)


@pytest.fixture
def ledger_target(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Where a test's ledger lives: a file path for SQLite, a fresh database's URL for PostgreSQL."""
    if backend == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ledger_factory(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """``ledger_factory()`` opens a new, empty ledger on the test's backend.

    On PostgreSQL each call empties the test's own schema and closes the ledger the
    previous call gave (a property test's examples would otherwise keep a connection each).
    """
    opened: list[Any] = []
    urls: list[str] = []

    def make() -> Any:
        if backend == "sqlite":
            led: Any = Ledger(":memory:")
        else:
            from pressure_sdk.ledger.postgres import PostgresLedger

            if not urls:
                server: PostgresServer = request.getfixturevalue("postgres_server")
                urls.append(server.new_schema())
            elif opened:
                last = opened.pop()
                tables = [
                    t
                    for (t,) in last.conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "AND tablename <> 'ledger_migrations'"
                    )
                ]
                last.conn.execute("; ".join(f"DELETE FROM {t}" for t in tables))
                for led in (*opened, last):
                    led.close()
                opened.clear()
            led = PostgresLedger(urls[0])
        opened.append(led)
        return led

    yield make
    from pressure_sdk.ledger.postgres import close_pool

    for led in opened:
        led.close()
    for url in urls:
        close_pool(url)


@pytest.fixture
def ledger_url(request: pytest.FixtureRequest) -> str | None:
    """Where an end-to-end workspace keeps its ledger: None for its SQLite file, or a new
    PostgreSQL database's URL when a test is parametrized with ``ledger_url="postgresql"``
    (``indirect=True``); ``pressure-sync`` then finds it in ``PRESSURE_LEDGER``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_server").new_database())


@pytest.fixture
def new_ledger_target(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> Callable[[], str]:
    """``new_ledger_target()``: where a new, empty ledger of the test's backend would be (not created yet
    for SQLite: a file path in a new folder; an empty database's URL for PostgreSQL)."""
    made = iter(range(1_000_000))

    def make() -> str:
        if backend == "sqlite":
            return str(tmp_path / f"ledger{next(made)}" / "ledger.db")
        return str(request.getfixturevalue("postgres_server").new_database())

    return make


@pytest.fixture
def make_backend_workspace(backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Workspace]]:
    """``make_workspace`` on the test's backend, each call on a new ledger of its own (a new
    schema on PostgreSQL), so a test may keep several workspaces side by side."""
    opened: list[Workspace] = []
    urls: list[str] = []

    def make(
        rules: list[dict[str, Any]] | None = None,
        families: dict[str, Any] | None = None,
        brands: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Workspace:
        data: dict[str, Any] = {"brands": brands if brands is not None else {"acme": {}}, **sections}
        if rules is not None:
            data["rules"] = rules
        if families is not None:
            data["families"] = families
        if backend == "sqlite":
            led: Any = Ledger(":memory:")
        else:
            from pressure_sdk.ledger.postgres import PostgresLedger

            urls.append(request.getfixturevalue("postgres_server").new_schema())
            led = PostgresLedger(urls[-1])
        ws = Workspace(parse_config(data), led)
        opened.append(ws)
        return ws

    yield make
    from pressure_sdk.ledger.postgres import close_pool

    for ws in opened:
        ws.close()
    for url in urls:
        close_pool(url)


@pytest.fixture
def make_ledger_workspace(ledger_factory: Callable[[], Any]) -> Callable[..., Workspace]:
    """``make_workspace`` on a new ledger of the test's backend (SQLite in memory or PostgreSQL)."""

    def make(
        rules: list[dict[str, Any]] | None = None,
        families: dict[str, Any] | None = None,
        brands: dict[str, Any] | None = None,
        **sections: Any,
    ) -> Workspace:
        data: dict[str, Any] = {"brands": brands if brands is not None else {"acme": {}}, **sections}
        if rules is not None:
            data["rules"] = rules
        if families is not None:
            data["families"] = families
        return Workspace(parse_config(data), ledger_factory())

    return make
