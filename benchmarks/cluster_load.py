"""load.py's cluster: N `pokerd serve` nodes on one PostgreSQL behind HAProxy.

A thin adapter over `pokerd.tools.cluster.LocalCluster` (what `pokerd
cluster` runs): the bots reach the cluster only through HAProxy's port
(`port`, `live_port`), as players would; the orchestrator reads each node's
`/metrics` directly and samples the CPU of every part from /proc: each node,
PostgreSQL (its postmaster and every backend and helper process it forked),
HAProxy. PostgreSQL keeps its default durability (each commit flushed to
disk), as the single node's SQLite does (FULL). The nodes place tables as
the router does (`--cluster-routing`) when the installed pokerd has it, with
the cluster's lease ttl (2 s: a dead node's tables are free after it).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from pokerd.tools import cluster as cluster_tool
from pokerd.tools.cluster import LocalCluster
from pokerd.tools.haproxy import DEFAULT_CHECKS, Checks

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
ROUTING = "--cluster-routing"
START_ATTEMPTS = 3


def metric_totals(text: str, names: list[str]) -> dict[str, float]:
    """The total of each of `names` in a /metrics `text`: its samples (a
    name, or a name and its labels) summed."""
    totals = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        for name in names:
            if line.startswith(name + " ") or line.startswith(name + "{"):
                totals[name] += float(line.rsplit(" ", 1)[1])
    return totals


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


class ClusterTarget:
    """PostgreSQL, `nodes` nodes (node1..nodeN) and HAProxy, started at once,
    in `folder` (the nodes' and HAProxy's logs under `folder`/logs)."""

    def __init__(
        self,
        folder: Path,
        nodes: int,
        *,
        lease_ttl_s: float | None = None,
        checks: Checks | None = None,
    ) -> None:
        # PostgreSQL runs as its own user when we are root: it must be able
        # to go through `folder` to its data folder.
        folder.chmod(0o711)
        flags = ["--log-level", "WARNING"]
        self.routed = ROUTING in serve_flags()
        if self.routed and ROUTING not in getattr(cluster_tool, "ROUTING_FLAGS", ()):
            flags.append(ROUTING)
        for attempt in range(START_ATTEMPTS):
            self.cluster = LocalCluster(
                folder / f"cluster{attempt}",
                nodes=nodes,
                port=0,
                node_flags=flags,
                lease_ttl_s=lease_ttl_s or cluster_tool.LEASE_TTL_S,
                checks=checks or DEFAULT_CHECKS,
            )
            try:
                self.cluster.start()
                break
            except OSError:
                # Seen under load: HAProxy's runtime socket not there yet
                # when its port already answered (or another process took
                # the free port picked). LocalCluster stopped what it had
                # started; a fresh one, on other ports.
                if attempt + 1 == START_ATTEMPTS:
                    raise
        self.port = self.cluster.port
        self.live_port = self.port
        self._seen: dict[tuple[str, str], float] = {}
        """(node, metric): its value when last read."""

    @property
    def names(self) -> list[str]:
        return list(self.cluster.nodes)

    def parts(self) -> dict[str, int]:
        """Each part's main PID (a part's CPU counts its descendants too)."""
        return self.cluster.pids()

    def node_pids(self) -> list[int]:
        pids = self.cluster.pids()
        return [pids[name] for name in self.names if name in pids]

    def alive(self) -> list[str]:
        return [name for name in self.names if self.cluster.nodes[name].running()]

    def metrics(self, names: list[str]) -> dict[str, float]:
        """Each of `names`' total over the nodes, one scrape a node: read
        from those alive, and for a node killed, its value read just before
        (`kill`)."""
        for node in self.alive():
            self._seen.update(
                {(node, name): value for name, value in self._read(node, names).items()}
            )
        totals = dict.fromkeys(names, 0.0)
        for (_, name), value in self._seen.items():
            if name in totals:
                totals[name] += value
        return totals

    def _read(self, node: str, names: list[str]) -> dict[str, float]:
        return metric_totals(get(self.cluster.nodes[node].port, "/metrics"), names)

    def marked_down(self) -> int:
        """How many times HAProxy's checks have marked a node down so far
        (its log: a node too slow to answer /healthz within `inter` twice
        in a row is down for the router, and its sockets are cut)."""
        try:
            text = self.cluster.router.log.read_text(errors="replace")
        except OSError:
            return 0
        down = re.compile(r"\[WARNING\].* Server nodes/\S+ is DOWN")
        return sum(1 for line in text.splitlines() if down.match(line))

    def owners(self) -> dict[str, str]:
        """Every table with a live lease: the node that holds it."""
        url = self.cluster.database_url
        with contextlib.closing(psycopg.connect(url, autocommit=True)) as db:
            rows = db.execute(
                "SELECT table_id, owner FROM leases WHERE lease_until >= now()"
            ).fetchall()
        return {str(table): str(owner) for table, owner in rows}

    def kill(self, name: str) -> None:
        """kill -9 node `name` (by its PID), its counters read first: they
        still count in the totals (a dead node's would drop out of them)."""
        names = sorted({seen for _, seen in self._seen})
        self._seen.update(
            {(name, metric): value for metric, value in self._read(name, names).items()}
        )
        self.cluster.kill_node(name)

    def verify(self) -> list[str]:
        """`pokerd replay --verify` of every table: the lines not `: ok`."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pokerd",
                "replay",
                "--verify",
                "--db",
                self.cluster.database_url,
            ],
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
        self.cluster.stop()
        # The nodes' and HAProxy's logs outlive the run's folder: where to
        # look when a figure surprises.
        stamp = time.strftime("%H%M%S")
        kept = Path(tempfile.gettempdir()) / f"pokerd-load-logs-{os.getpid()}-{stamp}"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(self.cluster.logs, kept)
        print(f"cluster logs: {kept}", file=sys.stderr, flush=True)


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
