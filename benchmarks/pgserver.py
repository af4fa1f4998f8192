"""A throwaway PostgreSQL server for the benchmark, from the system's binaries.

``bench.py --start-postgres`` uses it; by hand::

    python benchmarks/pgserver.py          # prints the URL; Ctrl-C or `kill PID` stops it

It runs ``initdb`` and ``pg_ctl`` from the newest ``/usr/lib/postgresql/*/bin`` (or the
``PATH``) in a temporary folder, on a free local port, with the settings the test suite's
server uses (``fsync=off``, ``synchronous_commit=off``, ``full_page_writes=off``): the
benchmark's figures are ratios against raw PostgreSQL on the same server, so both sides
are spared the disk flushes alike. Run as root, the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class PostgresError(RuntimeError):
    """The server could not be started; the message says what to install or check."""


class TempPostgres:
    """A PostgreSQL server in a temporary folder; ``url`` names its ``postgres`` database."""

    def __init__(self, shared_buffers_mb: int = 256) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        initdb = bins[-1] if bins else shutil.which("initdb")
        if initdb is None:
            msg = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql"
            raise PostgresError(msg)
        bindir = os.path.dirname(initdb)
        self.root = tempfile.mkdtemp(prefix="pressure-bench-pg-")
        data = os.path.join(self.root, "data")
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                msg = "running as root and there is no `postgres` user to run PostgreSQL as"
                raise PostgresError(msg) from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._pg_ctl = [*run_as, os.path.join(bindir, "pg_ctl"), "-D", data]
        self._run([*run_as, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.root}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c shared_buffers={shared_buffers_mb}MB -c max_wal_size=4GB"
        )
        self._run([*self._pg_ctl, "-l", os.path.join(self.root, "server.log"), "-o", opts, "-w", "-t", "60", "start"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = ""
            path = os.path.join(self.root, "server.log")
            if os.path.exists(path):
                with open(path) as f:
                    log = f.read()[-3000:]
            shutil.rmtree(self.root, ignore_errors=True)
            msg = f"{' '.join(cmd)} exited {done.returncode}\n{done.stdout}{done.stderr}{log}"
            raise PostgresError(msg)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        subprocess.run([*self._pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    # a background process ignores Ctrl-C's signal: `kill PID` stops the server cleanly too
    signal.signal(signal.SIGTERM, _stop_on_term)
    signal.signal(signal.SIGINT, _stop_on_term)
    server = TempPostgres()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    sys.exit(0)
