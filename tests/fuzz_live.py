"""The live fuzz: a `pokerd serve` process, raw sockets to it, and the tally.

Raw sockets, because a client library would refuse to send most of what the
fuzz sends (random methods and headers, frames that break RFC 6455). Each
input is sent, every answer judged (fuzz_judge), and the server's log read
for what it wrote meanwhile; `LiveFuzz` raises `UndocumentedError` when anything is
not documented, so Hypothesis shrinks the input that caused it. The `Scene`
keeps a few tables with seated players for inputs to name (`Ref`), so that
requests reach the tables' rules and not only the decoders.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
from fuzz_inputs import (
    CLOSE,
    PING,
    TEXT,
    Frame,
    HttpRequest,
    RawBytes,
    Ref,
    Resolve,
    WsSession,
    frame_bytes,
)
from fuzz_judge import (
    LIVE_PATH,
    HttpAnswer,
    Problem,
    UndocumentedError,
    judge_close,
    judge_http,
    judge_live_message,
    judge_log,
)

from pokerd.wire.protocol import TABLE_GONE_CODES

STEP_S = 10.0
"""The longest wait for any one answer: generous, never expected."""
SENTINEL = "fuzz-sentinel-5f0c1e"
"""The id of the message sent after a session's frames: its answer (always an
error carrying this id) says the server has answered everything before it."""
HOST = "127.0.0.1"
REFUSE_WAIT_S = 2.0
"""How long the server may take to close a socket after a frame it must
refuse (no sentinel follows one: see `WsSession.sent`)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# A server process


@attrs.frozen
class ServerProcess:
    port: int
    log: Path
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def pokerd_process(directory: Path, *flags: str) -> Iterator[ServerProcess]:
    """`pokerd serve` on a free port of 127.0.0.1, its output in
    `directory/server.log`; stopped with SIGTERM (killed if it does not stop),
    by its PID."""
    port = free_port()
    log = directory / "server.log"
    command = [
        sys.executable,
        "-m",
        "pokerd",
        "serve",
        "--db",
        str(directory / "fuzz.db"),
        "--port",
        str(port),
        "--next-hand-delay-ms",
        "0",
        *flags,
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 2 * STEP_S
        while True:
            try:
                answer = call(port, "GET", "/healthz")
            except OSError:
                answer = None
            if answer is not None and answer.status == 200:
                break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield ServerProcess(port, log, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM and the exit status (killed after STEP_S)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STEP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class LogWatch:
    """The lines a log file gained since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def new_lines(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        return data[:complete].decode("utf-8", "replace").splitlines()


# Raw HTTP


class Reader:
    """A socket's bytes, read as they are needed."""

    def __init__(self, sock: socket.socket, data: bytes = b"") -> None:
        self.sock = sock
        self.buffer = bytearray(data)
        self.eof = False

    def fill(self) -> bool:
        """Read more; False at the end of the stream."""
        if self.eof:
            return False
        try:
            data = self.sock.recv(65_536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def until(self, marker: bytes) -> bytes | None:
        while (at := self.buffer.find(marker)) < 0:
            if not self.fill():
                return None
        found = bytes(self.buffer[: at + len(marker)])
        del self.buffer[: at + len(marker)]
        return found

    def exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self.fill():
                return None
        found = bytes(self.buffer[:size])
        del self.buffer[:size]
        return found

    def rest(self) -> bytes:
        while self.fill():
            pass
        found = bytes(self.buffer)
        self.buffer.clear()
        return found


class NotHttpError(Exception):
    """What came back is not an HTTP/1.1 answer."""


def read_answer(reader: Reader, method: str) -> HttpAnswer | None:
    """The next final HTTP answer (1xx skipped); None if the stream ended
    first. NotHttpError if it is not HTTP/1.1."""
    while True:
        if not reader.buffer and not reader.fill():
            return None
        head = reader.until(b"\r\n\r\n")
        if head is None:
            raise NotHttpError(bytes(reader.buffer[:200]).decode("latin-1"))
        status_line, *fields = head.decode("latin-1").split("\r\n")[:-2]
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or not parts[1].isdigit():
            raise NotHttpError(status_line[:200])
        status = int(parts[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (field.partition(":") for field in fields)
        }
        if 100 <= status < 200 and status != 101:
            continue
        break
    body: bytes | None
    if method == "HEAD" or status in (101, 204, 304):
        body = b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = read_chunked(reader)
    elif "content-length" in headers:
        body = reader.exactly(int(headers["content-length"]))
    else:
        body = reader.rest()
    return HttpAnswer(status, headers, body or b"", complete=body is not None)


def read_chunked(reader: Reader) -> bytes | None:
    """A chunked body; None if the stream ended before its last chunk."""
    body = b""
    while True:
        line = reader.until(b"\r\n")
        if line is None:
            return None
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            raise NotHttpError(f"a chunk's size line {line!r}") from None
        if size == 0:
            reader.until(b"\r\n")
            return body
        chunk = reader.exactly(size + 2)
        if chunk is None:
            return None
        body += chunk[:-2]


def connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=STEP_S)
    sock.settimeout(STEP_S)
    return sock


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
) -> HttpAnswer | None:
    """A well-formed request with a JSON body; its answer."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    head += f"Content-Length: {len(data)}\r\n\r\n"
    with connect(port) as sock:
        sock.sendall(head.encode() + data)
        return read_answer(Reader(sock), method)


# The scene: tables with players for inputs to name


@attrs.define
class Seated:
    table: int
    seat: int
    name: str
    token: str


class Scene:
    """Tables with seated players, kept that way: slot 0 is heads-up, slot 1
    has three of six seats taken, slot 2 starts empty (the fuzz's own
    sit-downs take its seats, and their tokens join the scene's)."""

    LAYOUT = ({"max_seats": 2}, {"max_seats": 6}, {"max_seats": 3})
    KEPT = ((0, 1), (0, 1, 2), ())
    """The seats the scene keeps taken at each table."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.tables: list[str] = []
        self.epochs: list[str] = []
        self.seated: list[Seated] = []
        self._names = 0

    def set_up(self) -> None:
        for config in self.LAYOUT:
            created = self._call("POST", "/tables", config)
            self.tables.append(created["table"])
            self.epochs.append(created["epoch"])
        self.keep()

    def resolver(self, parts: Iterable[object]) -> Resolve:
        """How to resolve the Refs of an input whose target is `parts`: a
        token is one of a player at the scene table the target names, if
        it names one (else of anyone seated), so that it holds a seat there."""
        tables = [p.slot for p in parts if isinstance(p, Ref) and p.kind == "table"]
        here = tables[0] % len(self.tables) if tables else None
        return partial(self.resolve, here=here)

    def resolve(self, ref: Ref, here: int | None = None) -> str:
        if ref.kind == "table":
            return self.tables[ref.slot % len(self.tables)]
        if ref.kind == "epoch":
            return self.epochs[ref.slot % len(self.epochs)]
        players = [s for s in self.seated if s.table == here] or self.seated
        if not players:
            return "no-token-seated"
        return players[ref.slot % len(players)].token

    def keep(self) -> None:
        """Forget players who left; seat new ones in the kept seats that are
        empty; bring back (topped up) those sitting out."""
        for slot, table in enumerate(self.tables):
            view = self._call("GET", f"/tables/{table}")
            seats = view["seats"]
            here = [s for s in self.seated if s.table == slot]
            for seated in here:
                now = seats[seated.seat] if seated.seat < len(seats) else None
                if now is None or now["name"] != seated.name:
                    self.seated.remove(seated)
                elif now["sitting_out"]:
                    self._bring_back(seated, now["stack"], view["config"])
            for seat in self.KEPT[slot]:
                if seats[seat] is None:
                    self._sit(slot, seat, view["config"]["max_buy_in"])

    def learn(self, request: HttpRequest, target: str, answer: HttpAnswer) -> None:
        """A fuzzed sit-down that succeeded at a scene table: its player joins."""
        data = answer.json
        if answer.status != 201 or not isinstance(data, dict) or "token" not in data:
            return
        for slot, table in enumerate(self.tables):
            if target.startswith(f"/tables/{table}/seats"):
                name = self._call("GET", f"/tables/{table}")["seats"][data["seat"]]
                if name is not None:
                    self.seated.append(
                        Seated(slot, data["seat"], name["name"], data["token"])
                    )

    def _sit(self, slot: int, seat: int, buy_in: int) -> None:
        self._names += 1
        name = f"keeper{self._names}"
        answer = call(
            self.port,
            "POST",
            f"/tables/{self.tables[slot]}/seats",
            {"seat": seat, "name": name, "buy_in": buy_in},
        )
        if answer is not None and answer.status == 201:
            self.seated.append(Seated(slot, seat, name, answer.json["token"]))

    def _bring_back(self, seated: Seated, stack: int, config: dict[str, Any]) -> None:
        path = f"/tables/{self.tables[seated.table]}/requests"
        if stack < config["min_buy_in"]:
            request = {
                "type": "top_up",
                "id": os.urandom(8).hex(),
                "amount": config["min_buy_in"],
            }
            call(self.port, "POST", path, request, seated.token)
        request = {"type": "come_back", "id": os.urandom(8).hex()}
        call(self.port, "POST", path, request, seated.token)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = call(self.port, method, path, body)
        assert answer is not None and answer.status in (200, 201), answer
        return answer.json


# The tally


@attrs.define
class Tally:
    """What a fuzz run tried and saw."""

    tried: Counter[str] = attrs.Factory(Counter)
    """Inputs sent, by target."""
    codes: Counter[str] = attrs.Factory(Counter)
    """Answers by kind: `http 404`, `error not_found`, `close 4004`, ..."""
    covered: dict[str, set[str]] = attrs.Factory(dict)
    """Routes and message types sent well-formed, by target."""
    tracebacks: int = 0
    """Server log lines that start a traceback."""
    refusals: set[tuple[str, int | None]] = attrs.Factory(set)
    """(why a frame was to be refused, the close code it got)."""

    def cover(self, target: str, names: set[str]) -> None:
        self.covered.setdefault(target, set()).update(names)

    def seen(self, kind: str) -> None:
        self.codes[kind] += 1


# The fuzz


class LiveFuzz:
    """Inputs to one server process, each judged, with its log."""

    KEEP_EVERY = 25
    """Inputs between two looks at the scene."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.port = server.port
        self.host = f"{HOST}:{server.port}"
        self.scene = Scene(server.port)
        self.scene.set_up()
        self.tally = Tally()
        self.log = LogWatch(server.log)
        self._sent = 0

    def _before(self, target: str) -> None:
        self._sent += 1
        self.tally.tried[target] += 1
        if self._sent % self.KEEP_EVERY == 0:
            self.scene.keep()

    def _after(self, problems: list[Problem]) -> None:
        lines = self.log.new_lines()
        self.tally.tracebacks += sum("Traceback" in line for line in lines)
        problems = problems + judge_log(lines)
        if problems:
            raise UndocumentedError(problems)

    def http(self, request: HttpRequest) -> None:
        """Send a request; its answer must be documented."""
        self._before("http")
        if request.route is not None:
            self.tally.cover("http", {request.route.name})
        data = request.encode(self.scene.resolver(request.target), self.host)
        problems: list[Problem] = []
        with connect(self.port) as sock:
            sock.sendall(data)
            try:
                answer = read_answer(Reader(sock), request.method)
            except NotHttpError as error:
                answer = None
                problems.append(Problem("not an HTTP answer", str(error)))
            except TimeoutError:
                answer = None
                problems.append(
                    Problem("no answer in time", data[:200].decode("latin-1"))
                )
        if answer is not None:
            self.tally.seen(f"http {answer.status}")
            code = _error_code(answer.json)
            if code is not None:
                self.tally.seen(f"error {code}")
            target = data.split(b" ", 2)[1].decode("latin-1")
            self.scene.learn(request, target, answer)
        if not problems:
            problems = judge_http(request.method, answer)
        self._after(problems)

    def raw(self, raw: RawBytes) -> None:
        """Send bytes and end the sending side; every answer must be
        documented, or none come."""
        target = raw.request.target if raw.request is not None else ()
        data = raw.encode(self.scene.resolver(target), self.host)
        if _routes_to_the_stream(data):
            # A WebSocket handshake, whole or not: the WebSocket fuzz's.
            return
        self._before("raw")
        problems: list[Problem] = []
        with connect(self.port) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            reader = Reader(sock)
            # The first answer's body depends on its request's method (none
            # to a HEAD); after it, the bytes are garbage or requests anyway.
            method = data.split(b" ", 1)[0].decode("latin-1")
            try:
                while (answer := read_answer(reader, method)) is not None:
                    self.tally.seen(f"http {answer.status}")
                    problems += judge_http(method, answer, parsed_as_http=False)
                    method = "GET"
            except NotHttpError as error:
                problems.append(Problem("not an HTTP answer", str(error)))
            except TimeoutError:
                problems.append(
                    Problem("neither answered nor closed", repr(data[:200]))
                )
        self._after(problems)

    def websocket(self, session: WsSession) -> None:
        """Open a socket at `session`'s path and send its frames, then the
        sentinel; every answer, and how it ends, must be documented."""
        self._before("websocket")
        self.tally.cover("websocket", session.kinds())
        resolve = self.scene.resolver(session.path)
        path = "".join(
            quote(resolve(part), safe="") if isinstance(part, Ref) else part
            for part in session.path
        )
        live = LIVE_PATH.fullmatch(path.partition("?")[0]) is not None
        with connect(self.port) as sock:
            problems = self._session(sock, path, live, session, resolve)
        self._after(problems)

    def _session(
        self,
        sock: socket.socket,
        path: str,
        live: bool,
        session: WsSession,
        resolve: Resolve,
    ) -> list[Problem]:
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode("latin-1", "replace")
        )
        reader = Reader(sock)
        try:
            handshake = read_answer(reader, "GET")
        except NotHttpError as error:
            return [Problem("not an HTTP answer to a handshake", str(error))]
        if handshake is None:
            return [Problem("no answer to a handshake", path)]
        self.tally.seen(f"http {handshake.status}")
        if not live:
            if handshake.status == 101:
                return [Problem("a stream at a path that is not a stream's", path)]
            code = _error_code(handshake.json)
            if code is not None:
                self.tally.seen(f"error {code}")
            return judge_http("GET", handshake)
        if handshake.status != 101:
            return [Problem("a stream's handshake refused", handshake.label())]
        data = b"".join(item.encode(resolve) for item in session.sent())
        if session.ending() is None:
            sentinel = json.dumps({"type": "ping", "id": SENTINEL}).encode()
            data += frame_bytes(TEXT, sentinel)
        with contextlib.suppress(OSError):  # the server may close first
            sock.sendall(data)
        return self._answers(sock, reader, session)

    def _answers(
        self, sock: socket.socket, reader: Reader, session: WsSession
    ) -> list[Problem]:
        """Read to the sentinel's answer (then close) or the server's close;
        after a frame to refuse, wait REFUSE_WAIT_S for the close."""
        problems: list[Problem] = []
        ending = session.ending()
        refused = ending.refused if ending is not None else None
        if refused:
            sock.settimeout(REFUSE_WAIT_S)
        echo_of = (
            _close_code(ending)
            if ending is not None and ending.opcode == CLOSE
            else False
        )
        answered = closed = False
        seen: list[str] = []
        try:
            while True:
                frame = read_frame(reader)
                if frame is None:
                    break
                opcode, payload = frame
                if opcode == TEXT:
                    text = payload.decode("utf-8", "replace")
                    seen.append(text)
                    problems += judge_live_message(text)
                    self._count_message(text)
                    if _answers_sentinel(text) and not answered:
                        answered = True
                        with contextlib.suppress(OSError):
                            sock.sendall(frame_bytes(CLOSE, struct.pack("!H", 1000)))
                        echo_of = 1000 if echo_of is False else echo_of
                elif opcode == CLOSE:
                    code = (
                        struct.unpack("!H", payload[:2])[0]
                        if len(payload) >= 2
                        else None
                    )
                    echoed = echo_of is not False and code == echo_of
                    self.tally.seen("close echo" if echoed else f"close {code}")
                    if refused:
                        self.tally.refusals.add((refused, code))
                    problems += judge_close(code, echo_of=echo_of)
                    closed = True
                    with contextlib.suppress(OSError):
                        sock.sendall(frame_bytes(CLOSE, payload[:2]))
                    break
                elif opcode == PING:
                    with contextlib.suppress(OSError):
                        sock.sendall(frame_bytes(0xA, payload))
        except TimeoutError:
            if refused:
                return [
                    *problems,
                    Problem(
                        f"a frame to refuse was taken ({refused})",
                        f"no close within {REFUSE_WAIT_S:g} s",
                    ),
                ]
            return [
                *problems,
                Problem("no answer in time", "neither the sentinel's nor a close"),
            ]
        if not closed:
            if ending is not None and self._closing_anyway(seen):
                # The client's close frame, or a frame to refuse, crossed the
                # server's close (docs/protocol.md, Close codes): trio-websocket
                # may close the socket before writing its own close frame.
                self.tally.seen("close crossed")
                return problems
            self.tally.seen("close missing")
            why = f" after a frame to refuse ({refused})" if refused else ""
            problems.append(Problem("ended without a close frame" + why, "EOF"))
        return problems

    @staticmethod
    def _closing_anyway(seen: list[str]) -> bool:
        """Whether the server said it was closing for a reason of its own
        (an error after which the socket is closed)."""
        return any(_error_code(_json(text)) in TABLE_GONE_CODES for text in seen)

    def _count_message(self, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            return
        code = _error_code(data)
        if code is not None:
            self.tally.seen(f"error {code}")
        elif isinstance(data, dict):
            self.tally.seen(f"message {data.get('type')}")


def read_frame(reader: Reader) -> tuple[int, bytes] | None:
    """The server's next frame (opcode, payload); None at the end of the stream."""
    head = reader.exactly(2)
    if head is None:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        extended = reader.exactly(2)
        size = struct.unpack("!H", extended)[0] if extended else 0
    elif size == 127:
        extended = reader.exactly(8)
        size = struct.unpack("!Q", extended)[0] if extended else 0
    payload = reader.exactly(size)
    if payload is None:
        return None
    return opcode, payload


def _close_code(frame: Frame) -> int | None:
    payload = frame.payload
    if isinstance(payload, bytes) and len(payload) >= 2:
        code: int = struct.unpack("!H", payload[:2])[0]
        return code
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _answers_sentinel(text: str) -> bool:
    data = _json(text)
    return isinstance(data, dict) and data.get("id") == SENTINEL


def _error_code(data: Any) -> str | None:
    if isinstance(data, dict) and data.get("type") == "error":
        code = data.get("code")
        return code if isinstance(code, str) else None
    return None


def _routes_to_the_stream(data: bytes) -> bool:
    """Whether pokerd's listener hands these bytes to the live stream, or
    waits for more of them to tell (docs/design.md, "One port": a request
    line that is a GET of a stream's path, or may still become one)."""
    prefix = b"GET /tables/"
    if not prefix.startswith(data[: len(prefix)]):
        return False
    target = data[len(b"GET ") :]
    end = re.search(rb"[ ?\r\n]", target[: len("/tables/") + 64 + len("/live") + 1])
    if end is None:
        return True
    return LIVE_PATH.fullmatch(target[: end.start()].decode("latin-1")) is not None
