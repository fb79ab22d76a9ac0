"""load.py's cluster: N `pokerd serve` nodes on one PostgreSQL behind HAProxy.

The bots reach the cluster only through HAProxy's port (`http_port`, `live`),
as players would; the orchestrator reads each node's `/metrics` directly and
samples the CPU of every part from /proc: each node, PostgreSQL (its
postmaster and every backend and helper process it forked), HAProxy.
PostgreSQL keeps its default durability (each commit flushed to disk), as
the single node's SQLite does (FULL). Nodes run with `--cluster-routing`
when the installed pokerd has it (they then place tables as the router
does), and a lease ttl of 2 s (a dead node's tables are free after it).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from pokerd.tools.haproxy import Router
from pokerd.tools.pgcluster import Cluster

HOST = "127.0.0.1"
LEASE_TTL_S = 2.0
START_BOUND_S = 60.0
ROUTER_MAXCONN = 9_000
"""Above the 6,000 sockets of scenario 2 (HAProxy's default is smaller), and
below what the file limit allows (HAProxy needs two descriptors a
connection, the client's side and the node's: 20,000 here)."""
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def get(port: int, path: str) -> str:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def serve_flags() -> set[str]:
    """The flags the installed `pokerd serve` accepts."""
    text = subprocess.run(
        [sys.executable, "-m", "pokerd", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return {word.strip(",[]") for word in text.split() if word.startswith("--")}


class Node:
    """One `pokerd serve` of the cluster, its log in the run's folder."""

    def __init__(self, name: str, db: str, folder: Path, routed: bool) -> None:
        self.name = name
        self.port = free_port()
        log = (folder / f"{name}.log").open("w")
        command = [
            sys.executable,
            "-m",
            "pokerd",
            "serve",
            "--db",
            db,
            "--port",
            str(self.port),
            "--node-id",
            name,
            "--advertise",
            f"http://{HOST}:{self.port}",
            "--lease-ttl-s",
            str(LEASE_TTL_S),
            "--log-level",
            "WARNING",
        ]
        if routed:
            command.append("--cluster-routing")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        log.close()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_BOUND_S
        while True:
            try:
                get(self.port, "/healthz")
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, by this node's PID."""
        if self.alive:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ClusterTarget:
    """PostgreSQL, `nodes` nodes (node1..nodeN) and HAProxy, started at once."""

    def __init__(self, folder: Path, nodes: int) -> None:
        self.database = Cluster()
        self.nodes: list[Node] = []
        self.router: Router | None = None
        try:
            self.database.start()
            self.db = self.database.create_database("load")
            routed = "--cluster-routing" in serve_flags()
            self.routed = routed
            self.nodes = [
                Node(f"node{k}", self.db, folder, routed) for k in range(1, nodes + 1)
            ]
            for node in self.nodes:
                node.wait_healthy()
            self.port = free_port()
            self.router = Router(
                {node.name: f"{HOST}:{node.port}" for node in self.nodes},
                f"{HOST}:{self.port}",
                log=folder / "haproxy.log",
                maxconn=ROUTER_MAXCONN,
            )
            self.router.start()
            self._wait_all_up()
        except BaseException:
            self.stop()
            raise
        self.live_port = self.port

    def _wait_all_up(self) -> None:
        """Until HAProxy's checks see every node up (rise x inter)."""
        assert self.router is not None
        deadline = time.monotonic() + START_BOUND_S
        while set(self.router.states().values()) != {"UP"}:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nodes not up for HAProxy: {self.router.states()}")
            time.sleep(0.1)

    def postmaster_pid(self) -> int:
        """PostgreSQL's main process (the first line of its postmaster.pid)."""
        return int((self.database.data / "postmaster.pid").read_text().split()[0])

    def parts(self) -> dict[str, int]:
        """Each part's main PID (a part's CPU counts its descendants too)."""
        assert self.router is not None and self.router.pid is not None
        parts = {node.name: node.process.pid for node in self.nodes if node.alive}
        parts["postgres"] = self.postmaster_pid()
        parts["haproxy"] = self.router.pid
        return parts

    def node_pids(self) -> list[int]:
        return [node.process.pid for node in self.nodes if node.alive]

    def metric(self, name: str) -> float:
        """`name`'s total over the nodes alive."""
        total = 0.0
        for node in self.nodes:
            if not node.alive:
                continue
            for line in get(node.port, "/metrics").splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def owners(self) -> dict[str, str]:
        """Every table with a live lease: the node that holds it."""
        with contextlib.closing(psycopg.connect(self.db, autocommit=True)) as db:
            rows = db.execute(
                "SELECT table_id, owner FROM leases WHERE lease_until >= now()"
            ).fetchall()
        return {str(table): str(owner) for table, owner in rows}

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def verify(self) -> list[str]:
        """`pokerd replay --verify` of every table: the lines not `: ok`."""
        result = subprocess.run(
            [sys.executable, "-m", "pokerd", "replay", "--verify", "--db", self.db],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        bad = [line for line in result.stdout.splitlines() if not line.endswith(": ok")]
        if result.returncode != 0 and not bad:
            bad.append(f"exit status {result.returncode}: {result.stderr[-300:]}")
        return bad

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.router is not None:
            self.router.stop()
        self.database.stop()


def tree_pids(pid: int) -> list[int]:
    """`pid` and its live descendants (/proc/PID/task/TID/children)."""
    found = [pid]
    for parent in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    found += [int(child) for child in f.read().split()]
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid`, of its live descendants, and of those it reaped."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for index, member in enumerate(tree_pids(pid)):
        try:
            with open(f"/proc/{member}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        used = int(fields[11]) + int(fields[12])
        if index == 0:
            used += int(fields[13]) + int(fields[14])  # reaped children
        total += used / ticks
    return total
