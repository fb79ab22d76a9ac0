"""`pokerd cluster` and its library (pokerd/tools/cluster.py), as real processes:
PostgreSQL, pokerd nodes and HAProxy on this machine, reached through the
public port only, as clients reach them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import STEP_S, free_port

from pokerd.cli import main
from pokerd.ops.ring import SLOTS, ranking
from pokerd.tables.supervisor import JOIN_DELAY_S
from pokerd.tools.cluster import LocalCluster
from pokerd.tools.haproxy import DEFAULT_CHECKS, check_configuration, configuration

TAKEOVER_BOUND_S = 4 * STEP_S
"""Bound on waiting for a dead node's table to be served again (never expected)."""


@pytest.fixture
def tools(haproxy: Path, postgres_binaries: Path) -> None:
    """HAProxy and PostgreSQL are installed (skipped, or failed under CI, if not)."""


@pytest.fixture
def folder(tools: None) -> Iterator[Path]:
    """The cluster's folder. Not under pytest's tmp_path: as root, PostgreSQL
    runs as the postgres user, who may not enter pytest's folders (0700)."""
    made = Path(tempfile.mkdtemp(prefix="pokerd-cluster-"))
    made.chmod(0o755)
    yield made / "cluster"
    shutil.rmtree(made, ignore_errors=True)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def new_table(url: str) -> str:
    answer = httpx.post(f"{url}/tables", json={"max_seats": 6}, timeout=STEP_S)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["table"])


def eventually_ok(url: str) -> httpx.Response:
    """GET `url` until it answers 200 (a table moving answers otherwise for a while)."""
    deadline = time.monotonic() + TAKEOVER_BOUND_S
    while True:
        try:
            answer = httpx.get(url, timeout=STEP_S)
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code == 200:
            return answer
        assert time.monotonic() < deadline, answer
        time.sleep(0.1)


@pytest.fixture
def cluster(folder: Path) -> Iterator[LocalCluster]:
    """Two nodes configured, one started (node2 is the late one), on free ports."""
    with LocalCluster(
        folder,
        nodes=2,
        start_nodes=1,
        port=0,
        node_port_base=0,
        fsync=False,
    ) as started:
        yield started


def test_pokerd_cluster_serves_through_haproxy_and_sigint_stops_every_child(
    folder: Path,
) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pokerd",
        "cluster",
        "--nodes",
        "2",
        "--port",
        str(port),
        "--node-port-base",
        "0",
        "--folder",
        str(folder),
    ]
    said = folder.parent / "said.txt"
    with said.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    try:
        text = wait_said(said, process, "HAProxy: pid")
        assert "up in" in text, text
        pids = [int(pid) for pid in re.findall(r"pid (\d+)", text)]
        assert len(pids) == 4, text  # two nodes, PostgreSQL, HAProxy
        public = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{public}/healthz", timeout=STEP_S).json()["ok"] is True
        table = new_table(public)
        # Served by the node HAProxy sends it to, once the node that created
        # it (any node: round robin) has handed it over, with no redirect.
        view: Any = eventually_ok(f"{public}/tables/{table}").json()
        assert view["seq"] >= 1
        process.send_signal(signal.SIGINT)
        assert process.wait(STEP_S * 2) == 0
        assert [pid for pid in pids if not gone(pid)] == []
    finally:
        stop_leftovers(process, said)


def stop_leftovers(process: subprocess.Popen[bytes], said: Path) -> None:
    """After a failure: SIGINT (it stops its children), SIGKILL if it lingers,
    then SIGKILL to any child it said it started that still runs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(2 * STEP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in re.findall(r"pid (\d+)", said.read_text()):
        if not gone(int(pid)):
            os.kill(int(pid), signal.SIGKILL)


def wait_said(path: Path, process: subprocess.Popen[bytes], words: str) -> str:
    """What the process wrote to `path`, once it has written `words` (bounded)."""
    deadline = time.monotonic() + 3 * STEP_S
    while words not in (text := path.read_text()):
        assert process.poll() is None, text
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text


def test_the_lobby_answers_through_a_killed_node_and_the_tables_outlive_it(
    cluster: LocalCluster,
) -> None:
    public = cluster.public_url
    tables = [new_table(public) for _ in range(4)]
    cluster.start_node("node2")  # the late node: HAProxy sends it requests now
    assert cluster.router.states() == {"node1": "UP", "node2": "UP"}
    cluster.kill_node("node1")
    for _ in range(4):  # round robin: each node asked, one of them dead
        answer = httpx.get(f"{public}/tables", timeout=STEP_S)
        assert answer.status_code == 200
    for table in tables:  # node1 ran them all; node2 takes them
        eventually_ok(f"{public}/tables/{table}")
    assert cluster.dead() == []  # killed on purpose: not a death to report
    cluster.stop()  # the whole cluster; PostgreSQL's folder is kept
    assert cluster.pids() == {}
    cluster.start()
    for table in tables:
        eventually_ok(f"{public}/tables/{table}")
    node1 = cluster.pid("node1")
    assert node1 is not None
    os.kill(node1, signal.SIGKILL)  # not through the cluster: a death to report
    deadline = time.monotonic() + STEP_S
    while cluster.dead() != ["node1"]:
        assert time.monotonic() < deadline, cluster.dead()
        time.sleep(0.05)


def test_the_printed_haproxy_configuration_is_the_ring_and_haproxy_takes_it(
    haproxy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = {"a": "10.0.0.1:8000", "b": "10.0.0.2:8000", "c": "10.0.0.3:8000"}
    flags = [f"--node={name}={address}" for name, address in nodes.items()]
    assert (
        main(["cluster", "--print-haproxy-config", "--bind", "0.0.0.0:80", *flags]) == 0
    )
    text = capsys.readouterr().out
    assert "    bind 0.0.0.0:80\n" in text
    for slot in (0, 17, SLOTS - 1):  # each slot's servers in ranking order
        block = text.split(f"\nbackend slot{slot}\n")[1].split("\n\n")[0]
        assert [line.split()[1] for line in block.splitlines()] == ranking(slot, nodes)
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    check_configuration(config)  # raises with HAProxy's words if refused


def test_print_haproxy_config_refuses_a_node_without_an_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["cluster", "--print-haproxy-config", "--node", "a"]) == 2
    assert "NAME=HOST:PORT" in capsys.readouterr().err


def test_a_health_check_gets_longer_than_its_interval_and_joining_waits_for_rise() -> (
    None
):
    # Without `timeout check` a check gets `inter` to answer, and a node busy
    # for half a second is marked down with every session through HAProxy.
    text = configuration({"a": "127.0.0.1:8001", "b": "127.0.0.1:8002"})
    nodes_backend = text.split("\nbackend nodes\n")[1].split("\n\n")[0]
    assert f"    timeout check {DEFAULT_CHECKS.timeout_ms}ms\n" in nodes_backend
    assert DEFAULT_CHECKS.timeout_ms > DEFAULT_CHECKS.inter_ms
    assert "check inter 500ms fall 3 rise 2" in nodes_backend
    # A node counts as up for placing tables only once HAProxy sends it
    # requests: its first check (within `inter`) and `rise` checks passed.
    rise_s = DEFAULT_CHECKS.rise * DEFAULT_CHECKS.inter_ms / 1000
    assert rise_s + DEFAULT_CHECKS.inter_ms / 1000 <= JOIN_DELAY_S
