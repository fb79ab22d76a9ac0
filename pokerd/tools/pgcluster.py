"""A throwaway PostgreSQL cluster from the installed server binaries.

For the tests and the benchmarks: `initdb` in a temporary folder, the
server started on a free port of 127.0.0.1 (and a socket in that folder),
trust authentication, stopped and removed at the end. Given a folder of its
own (`pokerd cluster`'s), the cluster is made there once and kept: started
again, it has the same databases. PostgreSQL refuses to
run as root, so as root its binaries run as the `postgres` user (Debian's
package creates it) and the folder is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg

DEBIAN_PREFIX = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class ClusterError(RuntimeError):
    """The cluster could not be made or started; the message says why."""


def server_binaries() -> Path | None:
    """The newest installed `/usr/lib/postgresql/N/bin` with initdb and postgres
    (None if PostgreSQL's server is not installed)."""
    if not DEBIAN_PREFIX.is_dir():
        return None
    versions = sorted(
        (int(path.name), path / "bin")
        for path in DEBIAN_PREFIX.iterdir()
        if re.fullmatch(r"\d+", path.name)
    )
    for _, binaries in reversed(versions):
        if (binaries / "initdb").exists() and (binaries / "postgres").exists():
            return binaries
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    """One PostgreSQL server of its own, in a temporary folder, until `stop`.

    `fsync=False` keeps every other durability setting (each commit still
    waits for its WAL to be written) but skips the flush to disk: the tests
    kill pokerd, never the machine, and run several times faster so.
    """

    def __init__(
        self,
        *,
        fsync: bool = True,
        binaries: Path | None = None,
        folder: Path | None = None,
        port: int = 0,
    ) -> None:
        found = binaries or server_binaries()
        if found is None:
            raise ClusterError(
                f"PostgreSQL's server is not installed (no {DEBIAN_PREFIX}/N/bin): "
                "install the postgresql package"
            )
        self.binaries = found
        self.fsync = fsync
        self.port = port
        self.requested_port = port
        """The port asked for (0: a free one at each start)."""
        self.kept = folder is not None
        """Whether the folder stays after `stop` (it was given)."""
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="pokerd-pg-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self._server: subprocess.Popen[bytes] | None = None
        self._user = SERVER_USER if os.geteuid() == 0 else None
        self._created = 0

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self, command: Sequence[str | Path], **options: object) -> None:
        result = subprocess.run(
            [str(part) for part in command],
            user=self._user,
            capture_output=True,
            check=False,
            **options,  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise ClusterError(f"{Path(command[0]).name} failed: {output.strip()}")

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.pid

    def start(self) -> None:
        """initdb (unless the folder has a cluster already) and start the
        server; ready to connect when this returns."""
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.folder.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        self.port = self.requested_port or _free_port()
        options: list[str] = []
        for key, value in self._server_settings().items():
            options += ["-c", f"{key}={value}"]
        with self.log.open("ab") as log:
            self._server = subprocess.Popen(
                [str(self.binaries / "postgres"), "-D", str(self.data), *options],
                user=self._user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C to the tests is not its
            )
        if self._user is not None:
            with contextlib.suppress(PermissionError):
                self.log.chmod(0o644)
        self._wait_ready()

    def _initdb(self) -> None:
        self._run(
            [
                self.binaries / "initdb",
                "-D",
                self.data,
                "-A",
                "trust",
                "-U",
                SERVER_USER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )

    def _server_settings(self) -> dict[str, str]:
        return {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "fsync": "on" if self.fsync else "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
        }

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self._server is not None
            if self._server.poll() is not None:
                raise ClusterError(
                    f"postgres exited ({self._server.returncode}): {self._log_tail()}"
                )
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ClusterError("postgres did not start in time") from None
                time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def url(self, database: str) -> str:
        """The URL of `database` in this cluster (over TCP, as a node connects)."""
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (its URL), named `name` or pokerd_N."""
        if name is None:
            self._created += 1
            name = f"pokerd_{self._created}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def ensure_database(self, name: str) -> str:
        """`name`'s URL, the database created (empty) if it does not exist."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        return self.url(name) if found else self.create_database(name)

    def drop_database(self, name: str) -> None:
        """Drop `name`, closing the connections still open to it."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (a fast shutdown, by its PID) and remove the folder
        (unless it was given)."""
        server, self._server = self._server, None
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                server.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if not self.kept:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def cluster(*, fsync: bool = True) -> Iterator[Cluster]:
    """A started cluster, stopped and removed on leaving."""
    with Cluster(fsync=fsync) as started:
        yield started
