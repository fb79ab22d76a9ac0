"""HAProxy in front of a cluster: its configuration, and a runner for one machine.

`configuration` writes the router of docs/cluster.md from the node list: a
request under `/tables/{id}` goes to the backend of the id's slot
(`crc32,mod(256)` of the id, as `pokerd.ops.ring.slot_of`), whose servers
are every node in `ranking(slot, nodes)` order, the first one active and the
others backups, so HAProxy sends the table to the first node of the ranking
that is up, which is `ring.node_of`. Health is checked once, in the backend
`nodes` (also the lobby's: every other request goes to any node), and the
slot backends' servers `track` it. `Router` runs Debian's haproxy with such a
file in a folder of its own, in the foreground, as a child process, until
`stop`: ports above 1024, no chroot, no user switch, so no root.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs

from pokerd.ops.ring import SLOTS, ranking

HAPROXY = Path("/usr/sbin/haproxy")
"""Debian's haproxy package's binary."""
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
NODES_BACKEND = "nodes"
"""The backend of every request that names no table; it also checks health."""


@attrs.frozen
class Checks:
    """How HAProxy tells a node up or down: `GET /healthz` every `inter_ms`,
    each given `timeout_ms` to answer; `fall` failures in a row mark it down,
    `rise` successes up again. A node killed refuses the checks' connections
    at once and is out after about fall x inter (1.5 s by default; measured
    in docs/cluster.md); a node alive but busy is out only after fall checks
    of `timeout_ms` each went unanswered (7.5 s measured), not at its first slow
    answer. A node that starts gets traffic after rise x inter, which
    `pokerd.tables.supervisor.JOIN_DELAY_S` must cover."""

    inter_ms: int = 500
    timeout_ms: int = 2000
    """HAProxy's `timeout check`: unset, a check gets `inter` (500 ms), and
    a node busy for a moment would be marked down and its sessions cut."""
    fall: int = 3
    rise: int = 2


DEFAULT_CHECKS = Checks()

LONG_POLL_S = 30
"""The longest `wait` of `GET /tables/{id}/events` (docs/protocol.md)."""


def slot_backend(slot: int) -> str:
    return f"slot{slot}"


def configuration(
    nodes: Mapping[str, str],
    bind: str = "127.0.0.1:8000",
    *,
    checks: Checks = DEFAULT_CHECKS,
    admin_socket: Path | None = None,
    maxconn: int | None = None,
) -> str:
    """HAProxy's configuration routing tables to `nodes` ({node id: "host:port"})
    as `pokerd.ops.ring.node_of` does, listening on `bind` ("host:port").

    `admin_socket`: a Unix socket for HAProxy's runtime API (`show stat`),
    readable by this user only; none by default. No statistics are served
    on any TCP port.
    """
    if not nodes:
        raise ValueError("a cluster needs at least one node")
    for name, address in nodes.items():
        if not name or any(c.isspace() or c in "/#" for c in name):
            raise ValueError(f"not a usable node id for HAProxy: {name!r}")
        if ":" not in address:
            raise ValueError(f"{name}: expected host:port, not {address!r}")
    check = f"check inter {checks.inter_ms}ms fall {checks.fall} rise {checks.rise}"
    lines = [
        "# Written by pokerd (pokerd/tools/haproxy.py) from the node list.",
        # No `log` line: in the foreground (-db) HAProxy writes its warnings
        # and alerts (a node down or up) to stderr itself; a `log stderr`
        # wrote each twice. Add your own log lines for syslog.
        "global",
    ]
    if maxconn is not None:
        lines.append(f"    maxconn {maxconn}")
    if admin_socket is not None:
        lines.append(f"    stats socket {admin_socket} mode 600 level admin")
    lines += [
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        # A long poll waits up to LONG_POLL_S for events before it answers.
        f"    timeout client {LONG_POLL_S + 30}s",
        f"    timeout server {LONG_POLL_S + 30}s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        # A live stream (WebSocket) is a tunnel once upgraded: its sockets
        # may be quiet for long; pokerd's own keepalive finds dead peers.
        "    timeout tunnel 1h",
        "    timeout client-fin 5s",
        # A node marked down takes its connections with it: its clients
        # reconnect through the router and reach the table's next node.
        "    default-server on-marked-down shutdown-sessions",
        # A request that could not reach a node that just died goes to
        # another server of its backend (the slot's next node) once.
        "    retries 2",
        "    option redispatch 1",
        "",
        "frontend pokerd",
        f"    bind {bind}",
        "    use_backend slot%[path,field(3,/),crc32,mod("
        f"{SLOTS})] if {{ path_beg /tables/ }}",
        f"    default_backend {NODES_BACKEND}",
        "",
        f"backend {NODES_BACKEND}",
        "    balance roundrobin",
        "    option httpchk GET /healthz",
        f"    timeout check {checks.timeout_ms}ms",
    ]
    for name, address in nodes.items():
        lines.append(f"    server {name} {address} {check}")
    for slot in range(SLOTS):
        lines += ["", f"backend {slot_backend(slot)}"]
        # Without `option allbackups` only the first backup that is up
        # serves, in the order written: the ranking.
        for rank, name in enumerate(ranking(slot, nodes)):
            backup = " backup" if rank else ""
            lines.append(
                f"    server {name} {nodes[name]} track {NODES_BACKEND}/{name}{backup}"
            )
    return "\n".join(lines) + "\n"


class RouterError(RuntimeError):
    """HAProxy is missing, refused the configuration or did not start."""


def haproxy_binary() -> Path | None:
    """Debian's haproxy if installed (None if not)."""
    if HAPROXY.exists():
        return HAPROXY
    found = shutil.which("haproxy")
    return Path(found) if found else None


def check_configuration(path: Path, binary: Path | None = None) -> None:
    """`haproxy -c`: raise RouterError with HAProxy's words if it refuses `path`."""
    found = binary or haproxy_binary()
    if found is None:
        raise RouterError("HAProxy is not installed: install the haproxy package")
    result = subprocess.run(
        [str(found), "-c", "-q", "-f", str(path)],
        capture_output=True,
        check=False,
        timeout=START_TIMEOUT_S,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        raise RouterError(f"haproxy -c refused {path}: {output}")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def accepts(address: str) -> bool:
    """Whether something accepts TCP connections at "host:port" now."""
    try:
        with socket.create_connection(_split(address), timeout=1):
            return True
    except OSError:
        return False


class Router:
    """Debian's HAProxy routing `bind` to `nodes`, from a folder of its own.

    `start` writes `haproxy.cfg` there, checks it (`haproxy -c`), starts
    `haproxy -db` (foreground, no master process) and returns once `bind`
    accepts connections; `stop` ends it by its PID and removes the folder
    (kept, with `log` in it, if `folder` was given). The runtime API's socket
    (`admin.sock`) is in the folder: `states` reads the nodes' health from it.
    """

    def __init__(
        self,
        nodes: Mapping[str, str],
        bind: str = "127.0.0.1:8000",
        *,
        checks: Checks = DEFAULT_CHECKS,
        folder: Path | None = None,
        log: Path | None = None,
        maxconn: int | None = None,
    ) -> None:
        binary = haproxy_binary()
        if binary is None:
            raise RouterError("HAProxy is not installed: install the haproxy package")
        self.binary = binary
        self.nodes = dict(nodes)
        self.bind = bind
        self.checks = checks
        self.maxconn = maxconn
        self._own_folder = folder is None
        self.folder = (
            Path(tempfile.mkdtemp(prefix="pokerd-haproxy-"))
            if folder is None
            else folder
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config = self.folder / "haproxy.cfg"
        self.admin_socket = self.folder / "admin.sock"
        self.log = log or self.folder / "haproxy.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Router:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def url(self) -> str:
        host, port = _split(self.bind)
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    def start(self) -> None:
        """Write, check and start; serving at `bind` when this returns."""
        self.config.write_text(
            configuration(
                self.nodes,
                self.bind,
                checks=self.checks,
                admin_socket=self.admin_socket,
                maxconn=self.maxconn,
            )
        )
        check_configuration(self.config, self.binary)
        if accepts(self.bind):
            raise RouterError(f"{self.bind} is in use already")
        self.admin_socket.unlink(missing_ok=True)  # a previous run's
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "-db", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C to the caller is not its
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        # Serving: the public port accepts and the runtime API's socket is there
        # (the socket can come a moment after the port).
        while not (accepts(self.bind) and self.admin_socket.exists()):
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RouterError(f"haproxy exited ({code}): {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RouterError("haproxy did not start in time")
            time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def runtime(self, command: str) -> str:
        """One command of HAProxy's runtime API (e.g. "show stat"), its answer."""
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(5)
            connection.connect(str(self.admin_socket))
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """Each node's health as HAProxy sees it now: "UP", "DOWN", or a
        transition such as "UP 1/2" (going down) or "DOWN 1/2" (coming up)."""
        lines = self.runtime("show stat -1 4 -1").splitlines()
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == NODES_BACKEND:
                states[row["svname"]] = row["status"]
        return states

    def stop(self) -> None:
        """Stop HAProxy by its PID (SIGTERM, SIGKILL if it lingers)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def router(nodes: Mapping[str, str], bind: str, **options: object) -> Iterator[Router]:
    """A started Router, stopped on leaving."""
    with Router(nodes, bind, **options) as started:  # type: ignore[arg-type]
        yield started
