"""`pokerd serve` nodes on one PostgreSQL database, for the node benchmarks.

A node runs as a child process with its output in a log file of its own;
`live_owners` reads which node holds each live lease. Shared by two_nodes.py
(crash.py's two-node mode) and handoff.py.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import psycopg
import trio

from pokerd.client import Http

STARTUP_BOUND_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Node:
    """One `pokerd serve` on the database at `url`, dealing hands back to back."""

    def __init__(
        self,
        name: str,
        url: str,
        folder: Path,
        ttl_s: float,
        flags: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.port = free_port()
        self.db = url
        self.ttl_s = ttl_s
        self.flags = tuple(flags)
        """More `pokerd serve` flags."""
        self.log = folder / f"{name}.log"
        self.process: trio.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the node and wait until it answers /healthz."""
        command = [
            sys.executable,
            "-m",
            "pokerd",
            "serve",
            "--db",
            self.db,
            "--port",
            str(self.port),
            "--node-id",
            self.name,
            "--lease-ttl-s",
            str(self.ttl_s),
            "--next-hand-delay-ms",
            "0",
            *self.flags,
        ]
        descriptor = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            self.process = await trio.lowlevel.open_process(
                command, stdout=descriptor, stderr=descriptor
            )
        finally:
            os.close(descriptor)
        http = Http(self.url, timeout_s=2.0)
        with trio.fail_after(STARTUP_BOUND_S):
            while True:
                try:
                    await http.health()
                    return
                except Exception:
                    await trio.sleep(0.05)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def live_owners(url: str) -> dict[str, str]:
    """Each table whose lease is live, with the node holding it."""
    with closing(psycopg.connect(url, autocommit=True)) as connection:
        rows = connection.execute(
            "SELECT table_id, owner FROM leases WHERE lease_until >= now()"
        ).fetchall()
    return {str(table): str(owner) for table, owner in rows}
