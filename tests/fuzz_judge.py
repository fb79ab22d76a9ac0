"""What pokerd documents it answers, read from docs/protocol.md and the code, and
the judge of each answer the fuzz gets (tests/test_fuzz.py, benchmarks/fuzz.py).

The documented set is read, not copied: the error codes and the HTTP statuses
they go with from docs/protocol.md's "Error codes" table, the routes and their
success statuses from its HTTP API table, the rule codes from every
`RuleError("code", ...)` in pokerd/engine, the close codes from `CloseCode`.
A judge returns `Problem`s (empty: the answer is documented); a problem's
`kind` names what is wrong without the input's details, so that a long run
counts each kind of failure once.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, get_args

import attrs

from pokerd.engine import RuleError, TableState, handle
from pokerd.wire import codec
from pokerd.wire.protocol import (
    CloseCode,
    ErrorCode,
    SeatRequest,
    request_id_problem,
    to_command,
)

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"
ENGINE = ROOT / "pokerd" / "engine"
WEB = ROOT / "pokerd" / "web"

LIVE_ROUTE = "GET /tables/{id}/live"
"""The live stream's one route (docs/protocol.md, WebSocket live stream)."""
LIVE_PATH = re.compile(r"/tables/[A-Za-z0-9_-]{1,64}/live")
"""Its path: `{id}` is 1 to 64 of `A-Z a-z 0-9 _ -`, as docs/protocol.md says."""
UNREADABLE = frozenset({400, 501})
"""Statuses of HTTP's own answer, with no body, to what cannot be read as an
HTTP request (501: a transfer coding other than chunked)."""
PARTIAL_STATUSES = frozenset({206, 304})
"""A static file or page answering a conditional or range request."""


@attrs.frozen
class Route:
    """A documented HTTP route: `method` and `template` (`/tables/{id}`)."""

    method: str
    template: str
    success: int
    """The status of its documented success: 201 where the table says so."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def placeholders(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)


@attrs.frozen
class Documented:
    """Everything the judge accepts, each read from where it is documented."""

    http_statuses: dict[str, frozenset[int]]
    """Error code -> the HTTP statuses it is documented with."""
    live_codes: frozenset[str]
    """Error codes documented on the live stream."""
    rule_codes: frozenset[str]
    """The table's rule codes: HTTP 409 and the live stream."""
    close_codes: frozenset[int]
    """Close codes the server sends for a reason of its own."""
    routes: tuple[Route, ...]

    def error_statuses(self, code: str) -> frozenset[int]:
        """The HTTP statuses `code` may come with (none: not over HTTP)."""
        if code in self.rule_codes:
            return frozenset({409})
        generic = re.fullmatch(r"http_(\d{3})", code)
        if generic is not None and int(generic[1]) not in self.statuses_with_codes:
            return frozenset({int(generic[1])})
        return self.http_statuses.get(code, frozenset())

    @property
    def statuses_with_codes(self) -> frozenset[int]:
        """Statuses that have codes of their own (so no `http_<status>`)."""
        return frozenset(
            s for statuses in self.http_statuses.values() for s in statuses
        )

    def live_code(self, code: str) -> bool:
        return code in self.live_codes or code in self.rule_codes


def doc_section(title: str) -> str:
    """The text of docs/protocol.md's section `title` (a heading line), up to
    the next heading."""
    text = PROTOCOL_DOC.read_text(encoding="utf-8")
    assert f"\n{title}\n" in text, f"no section {title!r} in docs/protocol.md"
    return text.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


def documented_error_codes() -> dict[str, str]:
    """Code -> the "sent" column of docs/protocol.md's Error codes table."""
    table = doc_section("## Error codes")
    return dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, flags=re.MULTILINE))


def documented_routes() -> tuple[Route, ...]:
    """The routes of docs/protocol.md's HTTP API table."""
    table = doc_section("## HTTP API")
    routes = []
    for method, target, what in re.findall(
        r"^\| `([A-Z]+) (/[^`]*)` \|(.*)$", table, flags=re.MULTILINE
    ):
        success = re.search(r"\b(20\d) ", what)
        template = target.split("?", 1)[0]
        routes.append(Route(method, template, int(success[1]) if success else 200))
    return tuple(routes)


def rule_codes() -> frozenset[str]:
    """Every code the engine raises a `RuleError` with."""
    return frozenset(code for code, _ in rule_error_calls() if code is not None)


def rule_error_calls() -> list[tuple[str | None, str]]:
    """Each `RuleError(...)` call in pokerd/engine: its code (None unless a
    string literal) and where it is."""
    found = []
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "RuleError"
            ):
                first = node.args[0] if node.args else None
                code = (
                    first.value
                    if isinstance(first, ast.Constant) and isinstance(first.value, str)
                    else None
                )
                found.append((code, f"{path.name}:{node.lineno}"))
    return found


@cache
def documented() -> Documented:
    sent = documented_error_codes()
    return Documented(
        http_statuses={
            code: frozenset(int(status) for status in re.findall(r"HTTP (\d{3})", how))
            for code, how in sent.items()
        },
        live_codes=frozenset(code for code, how in sent.items() if "live" in how),
        rule_codes=rule_codes(),
        close_codes=frozenset(
            code
            for code in CloseCode
            if code not in (CloseCode.ABNORMAL_CLOSURE, CloseCode.INTERNAL_ERROR)
        ),
        routes=documented_routes(),
    )


def static_files() -> list[str]:
    """The paths under /static/ that name a file."""
    return sorted(
        path.relative_to(WEB).as_posix() for path in WEB.rglob("*") if path.is_file()
    )


# The judge


@attrs.frozen
class Problem:
    """An answer that is not documented: `kind` says how, `detail` what it was."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class UndocumentedError(AssertionError):
    """An input got an undocumented answer (or the server logged a failure)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @property
    def kind(self) -> str:
        return " + ".join(sorted({problem.kind for problem in self.problems}))


@attrs.frozen
class HttpAnswer:
    """One HTTP response as it came."""

    status: int
    headers: dict[str, str]
    """Names lower-case (the last of a repeated header)."""
    body: bytes
    complete: bool = True
    """False: the connection ended before the whole body came."""

    @property
    def json(self) -> Any:
        """The body as JSON if it says it is JSON, else None."""
        if not self.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def label(self) -> str:
        data = self.json
        code = data.get("code") if isinstance(data, dict) else None
        return f"{self.status} {code}" if code else str(self.status)


def judge_http(
    method: str, answer: HttpAnswer | None, *, parsed_as_http: bool = True
) -> list[Problem]:
    """Whether `answer` to a `method` request is documented: a success of a
    route, or an `error` whose code goes with its status. `parsed_as_http`
    False: the request was not meant to be well-formed HTTP (then the
    connection closed without an answer, or an answer cut short, is fine
    too)."""
    doc = documented()
    if answer is None:
        if parsed_as_http:
            return [Problem("no answer", "the connection ended without one")]
        return []
    status = answer.status
    if not answer.complete:
        if parsed_as_http:
            return [Problem("an answer cut short", answer.label())]
        # Hypercorn stops answering a client that ended its side of the
        # connection (the raw fuzz does, not to wait for the connection to
        # time out): the status is all there is to judge.
        if status < 500:
            return []
        return [Problem(f"status {status}", "(cut short)")]
    data = answer.json
    if status in UNREADABLE and not answer.body:
        # Hypercorn's (or trio-websocket's) answer to a request it cannot
        # read, or that is not the upgrade a stream's path serves.
        return []
    if status >= 500 and status not in doc.error_statuses(_code(data) or ""):
        return [Problem(f"status {status}", answer.body[:300].decode("latin-1"))]
    if method == "HEAD":
        # A GET's answer without its body: its status is all there is to judge
        # (the GETs of the fuzz judge the codes).
        if status in (200, *PARTIAL_STATUSES) or 400 <= status < 500:
            return []
        return [Problem(f"status {status} to HEAD", _shown(answer))]
    if isinstance(data, dict) and data.get("type") == "error":
        return _judge_error(status, data)
    if status >= 400:
        return [Problem(f"status {status} without an error", _shown(answer))]
    if status == 201 and method != "POST":
        return [Problem("201 to a method other than POST", method)]
    if status in PARTIAL_STATUSES and method not in ("GET", "HEAD"):
        return [Problem(f"{status} to {method}", _shown(answer))]
    if status not in (200, 201, *PARTIAL_STATUSES):
        return [Problem(f"status {status}", _shown(answer))]
    return []


def _code(data: Any) -> str | None:
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def _judge_error(status: int, data: dict[str, Any]) -> list[Problem]:
    doc = documented()
    code = _code(data)
    if code is None:
        return [Problem("an error without a code", json.dumps(data))]
    if code == ErrorCode.INTERNAL:
        return [Problem("internal error", str(data.get("message")))]
    statuses = doc.error_statuses(code)
    if not statuses:
        return [Problem("undocumented code over HTTP", f"{status} {code}")]
    if status not in statuses:
        return [Problem("code with another status", f"{status} {code}")]
    return []


def _shown(answer: HttpAnswer) -> str:
    return f"{answer.status} {answer.body[:200]!r}"


SERVER_MESSAGE_TYPES = frozenset(
    {"welcome", "event", "snapshot", "ack", "error", "pong"}
)
"""What the server sends on the live stream (docs/protocol.md, Server to
client); tests/test_fuzz.py checks it against `ServerMessage`."""


def judge_live_message(text: str) -> list[Problem]:
    """Whether a text message the server sent on a live socket is documented."""
    try:
        data = json.loads(text)
    except ValueError:
        return [Problem("a message that is not JSON", text[:200])]
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in SERVER_MESSAGE_TYPES:
        return [Problem("an unknown message type", text[:200])]
    if kind != "error":
        return []
    code = _code(data)
    if code == ErrorCode.INTERNAL:
        return [Problem("internal error", text[:200])]
    if code is None or not documented().live_code(code):
        return [Problem("undocumented code on the live stream", str(code))]
    return []


def judge_close(
    code: int | None, *, echo_of: int | bool | None = False
) -> list[Problem]:
    """Whether the server's close code is documented. `echo_of`: the code of
    the close frame the client sent first (None: one without a code), which
    the server's reply may repeat; False: the client sent none."""
    if echo_of is not False and code == echo_of:
        return []
    if code == CloseCode.INTERNAL_ERROR:
        return [Problem("closed as internal error", str(code))]
    if code not in documented().close_codes:
        return [Problem("undocumented close code", str(code))]
    return []


def judge_decoding(
    payload: bytes, states: Sequence[TableState]
) -> tuple[str | None, list[Problem]]:
    """What the live stream's decoding makes of `payload`: the type of the
    client message it decodes to (None: a DecodeError, `bad_message`), and the
    problems: any other exception, a message that does not encode back to
    itself, a seat request that the table in one of `states` neither decides
    (for seat 0 or 1) nor refuses with a rule code."""
    try:
        message = codec.decode_client_message(payload)
    except codec.DecodeError:
        return None, []
    except Exception as error:  # a bug: the transports would answer 500 or 1011
        return None, [Problem("the decoder raised", f"{type(error).__name__}: {error}")]
    kind = codec.type_tag(type(message))
    if codec.decode_client_message(codec.encode_message(message)) != message:
        return kind, [Problem("a message that does not encode back to itself", kind)]
    if not isinstance(message, get_args(SeatRequest)) or request_id_problem(message.id):
        return kind, []
    problems = []
    for state in states:
        for seat in (0, 1):
            try:
                handle(state, to_command(message, seat, now_ms=0))
            except RuleError as refused:
                if refused.code not in documented().rule_codes:
                    problems.append(Problem("an unknown rule code", refused.code))
            except Exception as error:
                problems.append(
                    Problem("the table raised", f"{type(error).__name__}: {error}")
                )
    return kind, problems


LOG_FAILURE = re.compile(r"Traceback|\b(ERROR|CRITICAL)\b")
"""A server log line that says something failed."""


def judge_log(lines: Iterable[str]) -> list[Problem]:
    """The server log's lines that say something failed."""
    return [Problem("server log", line) for line in lines if LOG_FAILURE.search(line)]
