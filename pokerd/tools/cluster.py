"""A whole cluster on one machine: PostgreSQL, N `pokerd serve` nodes, HAProxy.

`LocalCluster` is `pokerd cluster` (and `make cluster`) and a library for the
tests and the benchmarks: PostgreSQL in a folder of its own (kept between
runs, so the tables survive a restart of the cluster), the nodes as child
processes on 127.0.0.1, each with its own port and log, and HAProxy in front
on the public port, routing each table to the node `pokerd.ops.ring` names
(pokerd/tools/haproxy.py). Every process is a child, stopped by its PID:
the nodes first, with SIGTERM so they release their leases, then HAProxy,
then PostgreSQL. Every wait is bounded. docs/cluster.md tells the how and why.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import attrs

from pokerd.tools.haproxy import (
    DEFAULT_CHECKS,
    Checks,
    Router,
    RouterError,
    accepts,
)
from pokerd.tools.pgcluster import Cluster, ClusterError, _free_port

DEFAULT_FOLDER = Path("data/cluster")
DATABASE = "pokerd"
LEASE_TTL_S = 2.0
"""The nodes' lease ttl: a killed node's tables are taken over in about this."""
ROUTING_FLAGS: tuple[str, ...] = ("--cluster-routing",)
"""Each node places tables as HAProxy routes them (docs/cluster.md)."""
NODE_START_TIMEOUT_S = 30.0
NODE_STOP_TIMEOUT_S = 20.0
"""Bound on a node's clean stop: its shutdown grace (5 s) and closing its log."""
ROUTER_READY_TIMEOUT_S = 20.0
CRASH_LOOP_S = 10.0
"""A node that dies sooner than this after its start is not restarted."""


class StartError(RuntimeError):
    """Part of the cluster could not start; the message says which and why."""


def default_nodes() -> int:
    """One node per core."""
    return os.cpu_count() or 1


@attrs.define
class Node:
    """One `pokerd serve` of the cluster: its name, port and log, and the
    process while it runs."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    """time.monotonic() of its last start."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def healthy(url: str) -> bool:
    """Whether `GET url/healthz` answers 200 now."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class LocalCluster:
    """PostgreSQL, `nodes` pokerd nodes (node1, node2, ...) and HAProxy at
    127.0.0.1:`port`, all on this machine, from `folder`.

    `start` brings up PostgreSQL, the first `start_nodes` nodes (all by
    default: the others are configured, in HAProxy too, for `start_node`
    later) and HAProxy, and returns once HAProxy sees every started node up.
    Node K listens on `node_port_base` + K (0: a free port each). `node_flags`
    are added to every node's `pokerd serve` command line.
    """

    def __init__(
        self,
        folder: Path = DEFAULT_FOLDER,
        *,
        nodes: int | None = None,
        start_nodes: int | None = None,
        port: int = 8000,
        node_port_base: int | None = None,
        lease_ttl_s: float = LEASE_TTL_S,
        node_flags: Sequence[str] = (),
        checks: Checks = DEFAULT_CHECKS,
        fsync: bool = True,
    ) -> None:
        count = default_nodes() if nodes is None else nodes
        if count < 1:
            raise ValueError("a cluster needs at least one node")
        self.folder = folder.resolve()
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        base = port if node_port_base is None else node_port_base
        self.nodes = {
            f"node{k}": Node(
                f"node{k}",
                base + k if base else _free_port(),
                self.logs / f"node{k}.log",
            )
            for k in range(1, count + 1)
        }
        self.start_nodes = count if start_nodes is None else start_nodes
        self.lease_ttl_s = lease_ttl_s
        self.node_flags = tuple(node_flags)
        self.postgres = Cluster(fsync=fsync, folder=self.folder / "postgres")
        self.router = Router(
            {name: node.address for name, node in self.nodes.items()},
            f"127.0.0.1:{self.port}",
            checks=checks,
            folder=self.folder / "haproxy",
            log=self.logs / "haproxy.log",
        )
        self.database_url = ""
        self._started = False

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def public_url(self) -> str:
        """HAProxy's address: where clients go."""
        return self.router.url

    def node_url(self, name: str) -> str:
        return self.nodes[name].url

    def pid(self, name: str) -> int | None:
        return self.nodes[name].pid

    def pids(self) -> dict[str, int]:
        """Every process of the cluster running now, by name (nodes,
        "haproxy", "postgres")."""
        found = {name: n.pid for name, n in self.nodes.items() if n.running()}
        if self.router.running():
            found["haproxy"] = self.router.pid
        found["postgres"] = self.postgres.pid
        return {name: pid for name, pid in found.items() if pid is not None}

    def start(self) -> None:
        """PostgreSQL, the nodes to start and HAProxy: serving when this returns."""
        if self._started:
            return
        self._started = True
        atexit.register(self.stop)
        try:
            if accepts(self.router.bind):
                raise StartError(f"the public port {self.router.bind} is in use")
            self.postgres.start()
            self.database_url = self.postgres.ensure_database(DATABASE)
            self._migrate()
            starting = list(self.nodes.values())[: self.start_nodes]
            for node in starting:
                self._spawn(node)
            for node in starting:
                self._wait_healthy(node)
            self.router.start()
            self.wait_routed()
        except (ClusterError, RouterError, StartError, OSError):
            self.stop()
            raise

    def _migrate(self) -> None:
        """The schema once, before the nodes (not each node at its start)."""
        result = subprocess.run(
            [sys.executable, "-m", "pokerd", "migrate", "--db", self.database_url],
            capture_output=True,
            check=False,
            timeout=NODE_START_TIMEOUT_S,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise StartError(f"pokerd migrate failed: {output.strip()}")

    def command(self, name: str) -> list[str]:
        """Node `name`'s `pokerd serve` command line."""
        node = self.nodes[name]
        return [
            sys.executable,
            "-m",
            "pokerd",
            "serve",
            "--db",
            self.database_url,
            "--node-id",
            name,
            "--host",
            "127.0.0.1",
            "--port",
            str(node.port),
            # Only where its /metrics and /healthz are: with cluster routing
            # a node never sends a client to another node's address (they go
            # through HAProxy), so none goes to this one.
            "--advertise",
            node.url,
            "--lease-ttl-s",
            str(self.lease_ttl_s),
            *ROUTING_FLAGS,
            *self.node_flags,
        ]

    def _spawn(self, node: Node) -> None:
        if node.running():
            raise StartError(f"{node.name} is running already")
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                self.command(node.name),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C reaches it through us, in order
            )
        node.started_at = time.monotonic()

    def _wait_healthy(self, node: Node) -> None:
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while not healthy(node.url):
            assert node.process is not None
            if node.process.poll() is not None:
                raise StartError(
                    f"{node.name} exited ({node.process.returncode}) at its start; "
                    f"its log, {node.log}:\n{_tail(node.log)}"
                )
            if time.monotonic() > deadline:
                raise StartError(f"{node.name} did not answer /healthz in time")
            time.sleep(0.05)

    def wait_routed(self, timeout_s: float = ROUTER_READY_TIMEOUT_S) -> None:
        """Until HAProxy's checks see exactly the running nodes up (bounded)."""
        deadline = time.monotonic() + timeout_s
        while True:
            expected = {
                name: "UP" if node.running() else "DOWN"
                for name, node in self.nodes.items()
            }
            try:
                states = self.router.states()
            except OSError as error:  # the runtime API not answering yet
                states = {"runtime API": str(error)}
            if states == expected:
                return
            if time.monotonic() > deadline:
                raise StartError(f"HAProxy sees {states}, not {expected}")
            time.sleep(0.05)

    def start_node(self, name: str, *, routed: bool = True) -> None:
        """Start node `name` (again, or for the first time) and wait for its
        /healthz, and, if `routed`, until HAProxy sends it requests."""
        node = self.nodes[name]
        self._spawn(node)
        self._wait_healthy(node)
        if routed:
            self.wait_routed()

    def stop_node(self, name: str) -> int:
        """SIGTERM (a clean stop: its leases released); its exit status."""
        node = self.nodes[name]
        if node.process is None:
            raise StartError(f"{name} was never started")
        node.process.terminate()
        try:
            return node.process.wait(NODE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()
            return -signal.SIGKILL

    def kill_node(self, name: str) -> None:
        """SIGKILL: the node dies at once, its leases left to run out."""
        node = self.nodes[name]
        if node.process is None:
            raise StartError(f"{name} was never started")
        node.process.kill()
        node.process.wait()

    def dead(self) -> list[str]:
        """Nodes started and not stopped through this object that have exited."""
        return [
            name
            for name, node in self.nodes.items()
            if node.process is not None
            and node.process.returncode is None
            and node.process.poll() is not None
        ]

    def stop(self) -> None:
        """Every node (SIGTERM, at once, then waited for), HAProxy, PostgreSQL."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        running = [node for node in self.nodes.values() if node.running()]
        for node in running:
            assert node.process is not None
            node.process.terminate()
        deadline = time.monotonic() + NODE_STOP_TIMEOUT_S
        for node in running:
            assert node.process is not None
            try:
                node.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        self.router.stop()
        self.postgres.stop()

    def describe(self) -> Iterator[str]:
        """Where everything is, a line each."""
        yield f"public URL (HAProxy): {self.public_url}"
        for name, node in self.nodes.items():
            state = f"pid {node.pid}" if node.running() else "not started"
            yield f"{name}: {node.url} ({node.url}/metrics), {state}, log {node.log}"
        yield f"database: {self.database_url}"
        yield (
            f"PostgreSQL: pid {self.postgres.pid}, data and log in "
            f"{self.postgres.folder}"
        )
        yield (
            f"HAProxy: pid {self.router.pid}, configuration {self.router.config}, "
            f"log {self.router.log}"
        )


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


def run_cluster(cluster: LocalCluster, out: TextIO, *, restart: bool = True) -> int:
    """`pokerd cluster`: start, say where everything is, watch the nodes until
    SIGINT or SIGTERM, then stop everything. A node that dies is said, and
    started again unless `restart` is off or it died within CRASH_LOOP_S of
    its start (it would only die again). Exit status 0, or 2 if the cluster
    could not start."""
    stopping: list[int] = []

    def stop_asked(number: int, _: object) -> None:
        stopping.append(number)

    previous = {
        number: signal.signal(number, stop_asked)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        started_at = time.monotonic()
        try:
            cluster.start()
        except (ClusterError, RouterError, StartError, OSError) as error:
            print(f"pokerd cluster: {error}", file=sys.stderr)
            return 2
        print(
            f"pokerd cluster: up in {time.monotonic() - started_at:.1f}s "
            "(Ctrl-C stops it)",
            file=out,
        )
        for line in cluster.describe():
            print(f"  {line}", file=out)
        out.flush()
        while not stopping:
            for name in cluster.dead():
                _report_death(cluster, name, out, restart=restart)
            time.sleep(0.2)
        print(
            f"pokerd cluster: {signal.Signals(stopping[0]).name}: stopping the "
            "nodes, then HAProxy, then PostgreSQL",
            file=out,
        )
        out.flush()
        return 0
    finally:
        with contextlib.suppress(Exception):
            cluster.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)


def _report_death(
    cluster: LocalCluster, name: str, out: TextIO, *, restart: bool
) -> None:
    node = cluster.nodes[name]
    assert node.process is not None
    code = node.process.returncode
    lived_s = time.monotonic() - node.started_at
    print(
        f"pokerd cluster: {name} (pid {node.pid}) exited with status {code} "
        f"after {lived_s:.0f}s; its log: {node.log}",
        file=out,
    )
    node.process = None  # said once
    if restart and lived_s >= CRASH_LOOP_S:
        try:
            cluster.start_node(name, routed=False)
        except StartError as error:
            print(f"pokerd cluster: {name} not restarted: {error}", file=out)
        else:
            print(f"pokerd cluster: {name} started again (pid {node.pid})", file=out)
    else:
        print(f"pokerd cluster: {name} left down", file=out)
    out.flush()
