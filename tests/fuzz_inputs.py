"""The fuzz's inputs: Hypothesis strategies for JSON, client messages, HTTP
requests and WebSocket frame sequences, meant to reach every part of pokerd's
input handling (tests/test_fuzz.py, benchmarks/fuzz.py).

The message types, their fields and the request bodies are derived from the
code (the `ClientMessage` union, attrs fields, `TableConfig`, `SitDown`), so a
new message type or field is fuzzed without a change here. Inputs that must
name something of a live server (a table's id, a seat token, an epoch) hold a
`Ref` instead, which the live fuzz resolves when it sends them: Hypothesis
then draws and shrinks plain data, whatever the server's state.
"""

from __future__ import annotations

import json
import re
import struct
import types
from collections.abc import Callable
from functools import cache, partial
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import quote

import attrs
from fuzz_judge import LIVE_ROUTE, Route, documented, static_files
from hypothesis import strategies as st

from pokerd.engine.commands import SitDown
from pokerd.engine.config import TableConfig
from pokerd.ops.settings import DEFAULTS
from pokerd.wire.codec import type_tag
from pokerd.wire.protocol import ClientMessage, SeatRequest

MESSAGE_CLASSES: tuple[type, ...] = get_args(ClientMessage)
MESSAGE_TYPES = tuple(type_tag(cls) for cls in MESSAGE_CLASSES)
"""Every message a client may send, by its `type`."""
SEAT_REQUEST_CLASSES: tuple[type, ...] = get_args(SeatRequest)
SIT_DOWN_FIELDS = ("seat", "name", "buy_in")
"""`SitDown`'s fields a client sends (the server adds the token's hash);
tests/test_fuzz.py checks the HTTP body's class has these."""
TABLE_SLOTS = 3
TOKEN_SLOTS = 8
"""How many tables and seat tokens of the live scene inputs may name."""
MAX_BODY = DEFAULTS.max_frame_bytes
"""The largest body or WebSocket message the server takes (the default)."""


@attrs.frozen
class Ref:
    """Something of the live server's, resolved when the input is sent: a
    scene table's id or epoch, or a seat token (`slot` picks one)."""

    kind: Literal["table", "epoch", "token"]
    slot: int


Resolve = Callable[[Ref], str]


def render(value: Any, resolve: Resolve) -> Any:
    """`value` with every Ref replaced by what it names."""
    if isinstance(value, Ref):
        return resolve(value)
    if isinstance(value, dict):
        return {key: render(item, resolve) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, resolve) for item in value]
    return value


SHOWN = 300
"""Characters of a long text shown in a failing example (not 64 kB)."""


@attrs.frozen(repr=False)
class Text:
    """A text payload: JSON (`raw` False) or `value` sent as it is."""

    value: Any
    raw: bool = False
    kind: str | None = None
    """The message type it is a well-formed message of, if it is one."""

    def __repr__(self) -> str:
        shown = repr(self.value)
        if len(shown) > SHOWN:
            shown = f"{shown[:SHOWN]}... ({len(shown)} characters)"
        return f"Text({shown}, raw={self.raw}, kind={self.kind!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows it (it would show every field in full)."""
        printer.text(repr(self))

    def encode(self, resolve: Resolve) -> bytes:
        # A lone surrogate has no UTF-8 form: it goes as "?" (bytes that are
        # not UTF-8 are the refused frames' and the binary bodies' business).
        if self.raw:
            return str(self.value).encode("utf-8", "replace")
        text = json.dumps(render(self.value, resolve), allow_nan=True)
        return text.encode("utf-8", "replace")


# JSON of every shape and size

EDGE_INTEGERS = [
    -1,
    0,
    1,
    2**31,
    2**53,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
]
"""Integers at the edges of what JSON readers, SQLite and JavaScript hold."""


RARELY = 7
"""`draw(st.integers(0, n - 1)) == RARELY % n` is true about one time in n:
Hypothesis draws 0 (and its floats near 0.0) a third of the time or more, so
a rare choice is never the one drawn as 0."""


def weighted(*choices: tuple[st.SearchStrategy[Any], int]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn `weight` times as often as a strategy
    of weight 1 (`st.one_of` alone weighs each branch of a nested `one_of`
    as one of its own)."""
    return st.one_of(
        *(
            st.tuples(choice).map(_first)
            for choice, weight in choices
            for _ in range(weight)
        )
    )


def _first(drawn: tuple[Any]) -> Any:
    return drawn[0]


def quoted(text: str) -> str:
    """`text` URL-quoted as UTF-8 (a lone surrogate as the bytes it would be)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@cache
def integers() -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(-5, 300), st.sampled_from(EDGE_INTEGERS), st.integers()
    )


@cache
def texts() -> st.SearchStrategy[str]:
    """Any text, lone surrogates included (JSON escapes them; raw text sends
    each as "?")."""
    return st.one_of(
        st.text(max_size=30),
        st.text(st.characters(codec="ascii"), max_size=30),
        st.text(st.characters(categories=["Cs", "Cc", "Co"]), max_size=5),
    )


FIELD_NAMES = sorted(
    {
        "type",
        *(field.name for cls in MESSAGE_CLASSES for field in attrs.fields(cls)),
        *(field.name for field in attrs.fields(TableConfig)),
        *SIT_DOWN_FIELDS,
        "epoch",
        "offset",
    }
)


@cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        integers(),
        st.floats(),
        texts(),
        st.sampled_from(MESSAGE_TYPES),
    )
    keys = st.one_of(st.sampled_from(FIELD_NAMES), texts())
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)
        ),
        max_leaves=max_leaves,
    )


@cache
def deep_json() -> st.SearchStrategy[str]:
    """JSON nested deeper than a decoder follows (or just short of it)."""
    return st.builds(
        lambda depth, opener, middle: (
            opener * depth + middle + ("]" if opener == "[" else "}") * depth
        ),
        st.integers(100, 10_000),  # 60 kB at most: under the size limit
        st.sampled_from(["[", '{"a":']),
        st.sampled_from(["", "1", '"x"']),
    )


# Client messages, from their classes


@cache
def request_ids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(
            st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8
        ),
        st.sampled_from(["r-1", "r-2", "", "x" * 64, "x" * 65, "a\nb", "\x00"]),
        texts(),
    )


@cache
def tokens() -> st.SearchStrategy[Any]:
    """Mostly a seated player's token, so that requests reach the tables."""
    seated = st.builds(Ref, st.just("token"), st.integers(0, TOKEN_SLOTS - 1))
    return weighted(
        (seated, 6),
        (st.none(), 1),
        (st.sampled_from(["", " ", "x" * 200]), 1),
        (texts(), 2),
    )


@cache
def _value_for(name: str, kind: Any) -> st.SearchStrategy[Any]:
    """A plausible JSON value for a field `name` of type `kind`: mostly of
    its type, sometimes at its edges."""
    if name == "id":
        return request_ids()
    if name == "token":
        return tokens()
    if name == "epoch":
        return st.one_of(
            st.builds(Ref, st.just("epoch"), st.integers(0, TABLE_SLOTS - 1)),
            texts(),
        )
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_value_for(name, arg) for arg in get_args(kind)))
    if origin is Literal:
        return weighted((st.sampled_from(get_args(kind)), 3), (texts(), 1))
    if origin is tuple:
        return st.lists(_value_for(name, get_args(kind)[0]), max_size=4)
    if kind is type(None):
        return st.none()
    if kind is bool:
        return st.booleans()
    if kind is int:
        return integers()
    if kind is str:
        return texts()
    if attrs.has(kind):
        return object_of(kind)
    return json_values(4)


@cache
def object_of(cls: type, tag: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with `cls`'s fields (one with a default may be left out),
    tagged `tag` if given."""
    attrs.resolve_types(cls)
    parts = []
    for field in attrs.fields(cls):
        value = _value_for(field.name, field.type)
        optional = field.default is not attrs.NOTHING
        parts.append(
            st.tuples(
                st.just(field.name), value, st.booleans() if optional else st.just(True)
            )
        )
    head = {} if tag is None else {"type": tag}
    return st.tuples(*parts).map(
        lambda drawn: {**head, **{name: value for name, value, kept in drawn if kept}}
    )


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any], kind: str | None) -> Text:
    """`valid`, or it changed in one way a client could get wrong."""
    how = draw(
        st.sampled_from(
            ["none"] * 4 + ["drop", "add", "replace", "retag", "untag", "wrap"]
        )
    )
    data = dict(valid)
    keys = sorted(data)
    if how == "drop" and keys:
        del data[draw(st.sampled_from(keys))]
    elif how == "add":
        data[draw(st.sampled_from(FIELD_NAMES) | texts())] = draw(json_values(4))
    elif how == "replace" and keys:
        data[draw(st.sampled_from(keys))] = draw(json_values(6))
    elif how == "retag":
        data["type"] = draw(st.sampled_from(MESSAGE_TYPES) | texts() | json_values(2))
    elif how == "untag":
        data.pop("type", None)
    elif how == "wrap":
        return Text(draw(st.sampled_from([[data], {"message": data}, [], None])))
    return Text(data, kind=kind if how == "none" else None)


@st.composite
def client_messages(
    draw: st.DrawFn, classes: tuple[type, ...] = MESSAGE_CLASSES
) -> Text:
    """A message of one of `classes`, well-formed or mutated."""
    cls = draw(st.sampled_from(classes))
    tag = type_tag(cls)
    return draw(mutated(draw(object_of(cls, tag)), tag))


@cache
def any_text() -> st.SearchStrategy[Text]:
    """A text payload: a client message, other JSON, deep JSON or any text."""
    return st.one_of(
        client_messages(),
        client_messages(),
        st.builds(Text, json_values()),
        st.builds(Text, st.one_of(texts(), deep_json()), st.just(True)),
    )


# HTTP requests

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]


@attrs.frozen
class HttpRequest:
    """One HTTP/1.1 request; `Ref`s in the target, headers and body."""

    method: str
    target: tuple[str | Ref, ...]
    """The path and query in parts; a Ref's value is URL-quoted."""
    headers: tuple[tuple[str, tuple[str | Ref, ...]], ...]
    body: Text | bytes | None
    route: Route | None
    """The documented route it follows (its method and path), if it does."""
    chunked: bool = False

    def encode(self, resolve: Resolve, host: str) -> bytes:
        target = "".join(
            quote(resolve(part), safe="") if isinstance(part, Ref) else part
            for part in self.target
        )
        lines = [f"{self.method} {target} HTTP/1.1"]
        names = {name.lower() for name, _ in self.headers}
        if "host" not in names:
            lines.append(f"Host: {host}")
        for name, value in self.headers:
            shown = "".join(
                resolve(part) if isinstance(part, Ref) else part for part in value
            )
            lines.append(f"{name}: {shown}")
        body = b""
        if isinstance(self.body, Text):
            body = self.body.encode(resolve)
        elif isinstance(self.body, bytes):
            body = self.body
        if self.body is not None:
            if self.chunked:
                lines.append("Transfer-Encoding: chunked")
                body = (
                    b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                    if body
                    else b"0\r\n\r\n"
                )
            else:
                lines.append(f"Content-Length: {len(body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1", "replace") + body


@cache
def table_ids() -> st.SearchStrategy[str | Ref]:
    """Mostly a scene table's id; else one of no table, or not an id."""
    return weighted(
        (st.builds(Ref, st.just("table"), st.integers(0, TABLE_SLOTS - 1)), 6),
        (st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), 2),
        (st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=70), 1),
        (texts().map(quoted), 1),
    )


@cache
def _placeholder(name: str) -> st.SearchStrategy[str | Ref]:
    if name == "id":
        return table_ids()
    if name == "n":
        return st.one_of(integers().map(str), texts().map(quoted))
    if name == "path":
        return st.one_of(
            st.sampled_from(static_files()),
            st.lists(
                st.sampled_from(["..", ".", "js", "%2e%2e", "", "x"])
                | texts().map(quoted),
                min_size=1,
                max_size=4,
            ).map("/".join),
        )
    return texts().map(quoted)


@st.composite
def paths(draw: st.DrawFn, route: Route) -> tuple[tuple[str | Ref, ...], bool]:
    """A path by `route`'s template (its placeholders drawn), or that path
    changed; True if it still follows the template."""
    parts: list[str | Ref] = []
    for index, piece in enumerate(re.split(r"\{(\w+)\}", route.template)):
        parts.append(draw(_placeholder(piece)) if index % 2 else piece)
    how = draw(st.sampled_from(["as is"] * 7 + ["suffix", "random", "random"]))
    if how == "suffix":
        parts.append(
            draw(st.sampled_from(["/", "//", "/x", "/live", "/..", "%00", ";x"]))
        )
    elif how == "random":
        segments = draw(
            st.lists(
                st.sampled_from(["tables", "static", "hands", "live", "", ".."])
                | texts(),
                max_size=5,
            )
        )
        parts = ["/" + "/".join(quoted(segment) for segment in segments)]
    return tuple(parts), how == "as is"


@cache
def query_strings() -> st.SearchStrategy[tuple[str | Ref, ...]]:
    pair = st.one_of(
        st.tuples(st.just("after"), integers().map(str) | texts()),
        st.tuples(
            st.just("wait"),
            st.one_of(
                st.floats(0, 1).map(repr),
                st.sampled_from(["nan", "inf", "-1", "31", "1e400", "0x10", ""]),
                texts(),
            ),
        ),
        st.tuples(st.just("epoch"), texts()),
        st.tuples(texts(), texts()),
    )
    plain = st.lists(pair, max_size=4).map(
        lambda pairs: tuple(
            ("?" if i == 0 else "&") + quoted(k) + "=" + quoted(v)
            for i, (k, v) in enumerate(pairs)
        )
    )
    epoch = st.builds(
        lambda slot: ("?epoch=", Ref("epoch", slot), "&after=0"),
        st.integers(0, TABLE_SLOTS - 1),
    )
    raw = st.text(
        st.characters(codec="ascii", exclude_characters=" #\r\n\t"), max_size=30
    )
    return st.one_of(plain, plain, epoch, raw.map(lambda q: ("?" + q,)))


@cache
def header_values() -> st.SearchStrategy[str]:
    """Header text without line breaks (the raw fuzz sends those)."""
    return st.text(
        st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
        max_size=40,
    )


@cache
def headers() -> st.SearchStrategy[tuple[tuple[str, tuple[str | Ref, ...]], ...]]:
    """Mostly a seated player's token, and any of the headers the routes read
    or HTTP gives a meaning to, with values right or not."""
    token = st.builds(Ref, st.just("token"), st.integers(0, TOKEN_SLOTS - 1))
    authorization = st.one_of(
        st.just(()),
        st.builds(lambda ref: (("Authorization", ("Bearer ", ref)),), token),
        st.builds(lambda ref: (("Authorization", ("Bearer ", ref)),), token),
        st.builds(
            lambda scheme, value: (("Authorization", (scheme, value)),),
            st.sampled_from(["Bearer ", "bearer  ", "Basic ", "Bearer", ""]),
            header_values(),
        ),
    )
    choices = st.one_of(
        st.tuples(
            st.just("Accept"),
            st.tuples(
                st.sampled_from(
                    [
                        "text/html",
                        "application/json",
                        "*/*",
                        "text/html;q=0.1, application/json",
                        "text/*",
                        "",
                    ]
                )
                | header_values()
            ),
        ),
        st.tuples(
            st.just("Content-Type"),
            st.tuples(
                st.sampled_from(
                    [
                        "application/json",
                        "text/plain",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data; boundary=x",
                    ]
                )
                | header_values()
            ),
        ),
        st.tuples(
            st.sampled_from(
                ["Range", "If-None-Match", "If-Modified-Since", "If-Range"]
            ),
            st.tuples(
                st.sampled_from(
                    [
                        "bytes=0-10",
                        "bytes=100000-",
                        "bytes=-5",
                        "*",
                        "Thu, 01 Jan 2099 00:00:00 GMT",
                    ]
                )
                | header_values()
            ),
        ),
        st.tuples(
            st.just("Host"),
            st.tuples(
                st.sampled_from(
                    [".", "a..b", "x" * 64 + ".com", "[", "[::1", "", "h:99999"]
                )
                | header_values()
            ),
        ),
        st.tuples(
            st.just("Transfer-Encoding"),
            st.tuples(st.sampled_from(["gzip", "chunked, gzip", "identity"])),
        ),
        st.tuples(st.just("Expect"), st.tuples(st.just("100-continue"))),
        st.tuples(
            st.text(
                st.characters(codec="ascii", categories=["L", "N"]),
                min_size=1,
                max_size=12,
            ),
            st.tuples(header_values()),
        ),
    )
    return st.builds(
        lambda first, rest: (*first, *rest),
        authorization,
        st.lists(choices, max_size=3),
    )


@cache
def bodies(route: Route | None) -> st.SearchStrategy[Text | bytes | None]:
    """A body for `route`: its documented body, changed or not, or anything."""
    shaped: list[st.SearchStrategy[Text]] = []
    if route is not None and route.name == "POST /tables":
        shaped.append(
            object_of(TableConfig).flatmap(lambda d: mutated(d, "table_config"))
        )
    if route is not None and route.name == "POST /tables/{id}/seats":
        shaped.append(
            object_of(SitDown)
            .map(lambda d: {k: v for k, v in d.items() if k in SIT_DOWN_FIELDS})
            .flatmap(lambda d: mutated(d, "sit_down"))
        )
    if route is not None and route.name == "POST /tables/{id}/requests":
        shaped.append(client_messages(SEAT_REQUEST_CLASSES))
    return st.one_of(
        *shaped,
        *shaped,
        st.none(),
        any_text(),
        st.binary(max_size=64),
        st.integers(MAX_BODY - 2, MAX_BODY + 64).map(
            lambda size: Text("x" * size, raw=True)
        ),
    )


@cache
def http_routes() -> tuple[Route, ...]:
    """The documented routes the HTTP fuzz draws from (the live stream's is
    the WebSocket fuzz's)."""
    return tuple(route for route in documented().routes if route.name != LIVE_ROUTE)


@st.composite
def http_requests(
    draw: st.DrawFn, routes: tuple[Route, ...] | None = None
) -> HttpRequest:
    route = draw(st.sampled_from(routes or http_routes()))
    target, follows = draw(paths(route))
    query = draw(query_strings()) if draw(st.booleans()) else ()
    method = draw(
        st.one_of(
            st.just(route.method),
            st.just(route.method),
            st.sampled_from(METHODS),
            st.text(
                st.characters(codec="ascii", categories=["Lu"]), min_size=1, max_size=8
            ),
        )
    )
    body = draw(bodies(route if follows else None))
    return HttpRequest(
        method=method,
        target=(*target, *query),
        headers=draw(headers()),
        body=body,
        route=route if follows and method == route.method else None,
        chunked=body is not None and draw(st.integers(0, 9)) == RARELY % 10,
    )


@attrs.frozen
class RawBytes:
    """Bytes for the HTTP port: a request with some bytes changed, or any."""

    request: HttpRequest | None
    edits: tuple[tuple[float, str, bytes], ...]
    """(where, how, what): `how` is insert, replace or cut."""
    data: bytes = b""

    def encode(self, resolve: Resolve, host: str) -> bytes:
        if self.request is None:
            return self.data
        data = bytearray(self.request.encode(resolve, host))
        for where, how, what in self.edits:
            at = int(where * len(data))
            if how == "insert":
                data[at:at] = what
            elif how == "replace":
                data[at : at + len(what)] = what
            else:
                del data[at:]
        return bytes(data)


@cache
def raw_bytes() -> st.SearchStrategy[RawBytes]:
    edit = st.tuples(
        st.floats(0, 1),
        st.sampled_from(["insert", "replace", "cut"]),
        st.sampled_from(
            [b"\r\n", b"\r\n\r\n", b"\x00", b" ", b":", b"\xff", b"HTTP/1.1"]
        )
        | st.binary(max_size=8),
    )
    return st.one_of(
        st.builds(RawBytes, st.none(), st.just(()), st.binary(max_size=300)),
        st.builds(
            RawBytes, http_requests(), st.lists(edit, min_size=1, max_size=3).map(tuple)
        ),
    )


# WebSocket frames

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
VALID_CLOSE_CODES = [
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    3000,
    4000,
    4999,
]
"""Codes a client's close frame may carry (RFC 6455, 7.4)."""
INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


@attrs.frozen
class Frame:
    """One frame a client sends (masked unless `masked` is False)."""

    opcode: int
    payload: Text | bytes = b""
    fin: bool = True
    rsv: int = 0
    masked: bool = True
    refused: str | None = None
    """Why the server must refuse this frame (close the connection), if it
    must: a binary frame, text that is not UTF-8, or a frame that breaks
    RFC 6455."""

    def encode(self, resolve: Resolve) -> bytes:
        payload = (
            self.payload.encode(resolve)
            if isinstance(self.payload, Text)
            else self.payload
        )
        return frame_bytes(
            self.opcode, payload, fin=self.fin, rsv=self.rsv, masked=self.masked
        )


MASK = b"\x5a\x13\xc8\x2e"


def frame_bytes(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """A frame as a client sends it (RFC 6455, 5.2)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack("!BB", first, bit | size)
    elif size < 65_536:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, size)
    if not masked:
        return head + payload
    key = int.from_bytes(MASK * (size // 4 + 1), "little") & ((1 << (8 * size)) - 1)
    body = (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")
    return head + MASK + body


@attrs.frozen
class Fragments:
    """A text message sent in pieces (a ping between them, maybe)."""

    text: Text
    cuts: tuple[float, ...]
    ping_after: int | None

    def frames(self, resolve: Resolve) -> list[tuple[int, bytes, bool]]:
        data = self.text.encode(resolve)
        points = sorted({int(cut * len(data)) for cut in self.cuts} - {0})
        pieces = [
            data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)
        ]
        out = []
        for index, piece in enumerate(pieces):
            opcode = TEXT if index == 0 else CONTINUATION
            out.append((opcode, piece, index == len(pieces) - 1))
            if index == self.ping_after and index < len(pieces) - 1:
                out.append((PING, b"between", True))
        return out

    def encode(self, resolve: Resolve) -> bytes:
        return b"".join(
            frame_bytes(opcode, payload, fin=fin)
            for opcode, payload, fin in self.frames(resolve)
        )


def close_payload(code: int | None, reason: str) -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode()[:123]


@cache
def well_formed_frames(
    classes: tuple[type, ...] = MESSAGE_CLASSES,
) -> st.SearchStrategy[Frame | Fragments]:
    """Frames RFC 6455 allows a client: texts (mostly messages of `classes`),
    pings, pongs, a message in fragments, a close."""
    control = st.binary(max_size=125)
    return weighted(
        (st.builds(Frame, st.just(TEXT), client_messages(classes)), 6),
        (st.builds(Frame, st.just(TEXT), any_text()), 2),
        (st.builds(Frame, st.just(PING), control), 1),
        (st.builds(Frame, st.just(PONG), control), 1),
        (
            st.builds(
                Fragments,
                any_text(),
                st.lists(st.floats(0, 1), min_size=1, max_size=3).map(tuple),
                st.none() | st.integers(0, 2),
            ),
            2,
        ),
        (
            # The close ends the session: rarer, so that most go on.
            st.builds(
                lambda code, reason: Frame(CLOSE, close_payload(code, reason)),
                st.none() | st.sampled_from(VALID_CLOSE_CODES),
                st.text(max_size=20),
            ),
            1,
        ),
    )


@cache
def too_big() -> st.SearchStrategy[Frame]:
    return st.integers(MAX_BODY + 1, MAX_BODY + 100).map(
        lambda size: Frame(TEXT, Text("x" * size, raw=True))
    )


def _alone(frame: st.SearchStrategy[Frame]) -> st.SearchStrategy[tuple[Frame, ...]]:
    return frame.map(lambda one: (one,))


REFUSED: dict[str, st.SearchStrategy[tuple[Frame, ...]]] = {
    "binary": _alone(
        st.one_of(
            st.binary(max_size=40),
            any_text().map(lambda text: text.encode(lambda ref: ref.kind)),
        ).map(lambda data: Frame(BINARY, data))
    ),
    "not UTF-8": _alone(
        st.sampled_from(
            [b"\xff", b"\xc3", b'{"type": "ping"\xed\xa0\x80}', b"\x80abc"]
        ).map(lambda data: Frame(TEXT, data))
    ),
    "reserved opcode": _alone(
        st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]).map(
            lambda opcode: Frame(opcode, b"x" if opcode < 8 else b"")
        )
    ),
    "reserved bits": _alone(
        st.integers(1, 7).map(lambda rsv: Frame(TEXT, b'{"type":"ping"}', rsv=rsv))
    ),
    "unmasked": _alone(st.just(Frame(TEXT, b'{"type":"ping"}', masked=False))),
    "bad close code": _alone(
        st.sampled_from(INVALID_CLOSE_CODES).map(
            lambda code: Frame(CLOSE, struct.pack("!H", code))
        )
    ),
    "close payload of one byte": _alone(st.just(Frame(CLOSE, b"\x03"))),
    "close reason not UTF-8": _alone(st.just(Frame(CLOSE, b"\x03\xe8\xff"))),
    "control frame over 125 bytes": _alone(st.just(Frame(PING, b"x" * 126))),
    "fragmented control frame": _alone(st.just(Frame(PING, b"x", fin=False))),
    "continuation without a start": _alone(st.just(Frame(CONTINUATION, b"x"))),
    "a message inside an unfinished one": st.just(
        (Frame(TEXT, b'{"type":', fin=False), Frame(TEXT, b'{"type":"ping"}'))
    ),
}
"""Frames the server must refuse by closing the connection, by why (the last
frame of each is the one to refuse): a binary frame (pokerd's messages are
JSON texts), text that is not UTF-8, or a frame that breaks RFC 6455."""


@cache
def refused_frames(kind: str | None = None) -> st.SearchStrategy[tuple[Frame, ...]]:
    """Frames ending in one to refuse (of `kind`, if given), labelled with why."""
    kinds = sorted(REFUSED) if kind is None else [kind]
    return st.one_of(*(REFUSED[name].map(partial(_labelled, name)) for name in kinds))


def _labelled(why: str, frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
    return (*frames[:-1], attrs.evolve(frames[-1], refused=why))


@attrs.frozen
class WsSession:
    """A WebSocket connection: its handshake's path and the frames sent."""

    path: tuple[str | Ref, ...]
    """A table's live stream, mostly (else the handshake must be refused)."""
    frames: tuple[Frame | Fragments, ...]

    def kinds(self) -> set[str]:
        """The message types sent well-formed (whole or in fragments)."""
        found = set()
        for item in self.frames:
            text = item.text if isinstance(item, Fragments) else item.payload
            if isinstance(text, Text) and text.kind is not None:
                found.add(text.kind)
        return found

    def sent(self) -> tuple[Frame | Fragments, ...]:
        """The frames a client sends: to the first that ends the connection
        (RFC 6455: nothing after a close frame; and bytes the server leaves
        unread when it closes make its kernel reset the connection, which
        may drop what the server sent last, its close frame included)."""
        ending = self.ending()
        if ending is None:
            return self.frames
        return self.frames[: self.frames.index(ending) + 1]

    def ending(self) -> Frame | None:
        """The first frame after which the server closes: a close frame, a
        message over the limit, or a refused frame."""
        for item in self.frames:
            if isinstance(item, Frame) and (
                item.opcode == CLOSE or item.refused or _too_big(item)
            ):
                return item
        return None


def _too_big(frame: Frame) -> bool:
    return (
        isinstance(frame.payload, Text)
        and frame.payload.raw
        and len(str(frame.payload.value)) > MAX_BODY
    )


@cache
def hellos() -> st.SearchStrategy[Frame]:
    """A hello, well-formed or changed; mostly a seated player's."""
    any_hello = object_of(MESSAGE_CLASSES[MESSAGE_TYPES.index("hello")], "hello")
    seated = st.builds(
        lambda slot: {"type": "hello", "token": Ref("token", slot)},
        st.integers(0, TOKEN_SLOTS - 1),
    )
    return (
        weighted((seated, 2), (any_hello, 3))
        .flatmap(lambda data: mutated(data, "hello"))
        .map(lambda text: Frame(TEXT, text))
    )


@st.composite
def ws_sessions(
    draw: st.DrawFn,
    classes: tuple[type, ...] = MESSAGE_CLASSES,
    *,
    refused: str | bool = False,
) -> WsSession:
    """A connection to a table's stream (now and then another path), mostly
    saying hello first, then frames (their messages mostly of `classes`);
    with `refused`, one of them a frame the server must refuse (of that kind,
    if it names one)."""
    path: tuple[str | Ref, ...]
    if draw(st.integers(0, 19)) == RARELY % 20:
        path = draw(paths(draw(st.sampled_from(http_routes()))))[0]
        path = (*path, "/live") if draw(st.booleans()) else path
    else:
        path = ("/tables/", draw(table_ids()), "/live")
        if draw(st.integers(0, 4)) == RARELY % 5:
            path = (*path, "?", quoted(draw(texts())))
    frames: list[Frame | Fragments] = []
    if draw(st.integers(0, 9)) < 8:
        frames.append(draw(hellos()))
    frames += draw(st.lists(well_formed_frames(classes), min_size=1, max_size=8))
    if refused:
        closes = [
            i
            for i, f in enumerate(frames)
            if isinstance(f, Frame) and f.opcode == CLOSE
        ]
        at = draw(st.integers(0, closes[0] if closes else len(frames)))
        kind = None if refused is True else str(refused)
        frames[at:at] = draw(refused_frames(kind))
    elif draw(st.integers(0, 49)) == RARELY % 50:
        frames.append(draw(too_big()))
    return WsSession(path, tuple(frames))
