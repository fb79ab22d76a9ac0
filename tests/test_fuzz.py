"""Fuzzing: random input of every shape gets a documented answer, never a crash.

In this process, the decoders: any text or bytes decode to a client message
of one of the protocol's types or to a DecodeError; a decoded seat request,
table config or sit-down becomes a command the table decides or refuses with
one of its rule codes; a path and method match a route or are not found or
not allowed. Against one `pokerd serve` process for the module, over raw
sockets: random requests to every documented route, random bytes on the
port, and random WebSocket frame sequences on the live stream; every HTTP
answer is a documented success or an `error` whose code goes with its
status, every socket answer a documented message or code and every close a
documented close code, and the server's log has no traceback. The generators
and the judge are fuzz_inputs and fuzz_judge (benchmarks/fuzz.py runs them
for minutes); the example counts keep this module to seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import attrs
import pytest
from fuzz_inputs import (
    MESSAGE_CLASSES,
    MESSAGE_TYPES,
    REFUSED,
    SIT_DOWN_FIELDS,
    HttpRequest,
    RawBytes,
    Ref,
    Text,
    WsSession,
    any_text,
    client_messages,
    http_requests,
    http_routes,
    mutated,
    object_of,
    raw_bytes,
    ws_sessions,
)
from fuzz_judge import (
    LIVE_ROUTE,
    SERVER_MESSAGE_TYPES,
    Route,
    documented,
    documented_error_codes,
    judge_decoding,
    judge_log,
    rule_error_calls,
)
from fuzz_live import LiveFuzz, pokerd_process, stop
from gwt import deal, given, table
from hypothesis import HealthCheck, settings
from hypothesis import given as for_any
from hypothesis import strategies as st
from werkzeug.exceptions import MethodNotAllowed, NotFound

from pokerd.engine import (
    CreateTable,
    RuleError,
    SitDown,
    TableConfig,
    handle,
    initial_state,
)
from pokerd.server.app import SitDownBody, create_app
from pokerd.server.service import PokerService
from pokerd.store.log import EventStore
from pokerd.wire import codec
from pokerd.wire.protocol import (
    CloseCode,
    ErrorCode,
    ServerMessage,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
"""Examples per fuzz test and parameter (benchmarks/fuzz.py runs for
minutes instead)."""
SUITE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
"""The same examples every run: a failure here is a bug, never luck."""


def placeholder(ref: Ref) -> str:
    """What a Ref stands for in this process, where no server runs."""
    return f"{ref.kind}-{ref.slot}"


# The documented set is read from the documents and the code


def test_the_documented_error_codes_are_the_protocols_codes() -> None:
    assert sorted(documented_error_codes()) == sorted(code.value for code in ErrorCode)
    assert documented().http_statuses["bad_request"] == {400}
    assert documented().live_code("bad_message")


def test_every_rule_error_has_a_code_the_fuzz_can_read() -> None:
    unread = [where for code, where in rule_error_calls() if code is None]

    assert unread == [], "give RuleError its code as a string literal"
    assert {"not_your_turn", "seat_taken", "invalid_config"} <= documented().rule_codes


ANY_PLACEHOLDER = re.compile(r"<[^>]*>|\{\w+\}")
"""A placeholder in a route: the app's `<int:number>`, the document's `{n}`."""


def test_the_documented_routes_are_the_apps(tmp_path: Path) -> None:
    with EventStore(tmp_path / "routes.db") as store:
        app = create_app(PokerService(store))
    served = {
        f"{method} {ANY_PLACEHOLDER.sub('{}', rule.rule)}"
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }

    listed = {
        f"{route.method} {ANY_PLACEHOLDER.sub('{}', route.template)}"
        for route in documented().routes
    }
    assert listed == served
    assert LIVE_ROUTE not in listed, "the live stream is not one of the app's routes"


def test_the_fuzz_knows_every_message_the_server_sends() -> None:
    assert {
        codec.type_tag(cls) for cls in get_args(ServerMessage)
    } == SERVER_MESSAGE_TYPES


def test_the_sit_down_body_is_sit_down_without_the_token() -> None:
    body = {field.name for field in attrs.fields(SitDownBody)}

    assert body == set(SIT_DOWN_FIELDS)
    assert body < {field.name for field in attrs.fields(SitDown)}


# The decoders, in this process


HEADS_UP = given(*table(100, 100), deal())
"""Seat 0 to act, pre-flop."""
BETWEEN_HANDS = given(*table(100, 100, None))


@pytest.mark.parametrize("kind", MESSAGE_TYPES)
def test_any_text_or_bytes_decode_to_a_message_the_table_takes_or_an_error(
    kind: str,
) -> None:
    """Messages of type `kind`, changed or not, among any text and bytes: each
    decodes to a client message or a DecodeError, and a seat request is
    decided by the table or refused with one of its rule codes."""
    decoded: set[str | None] = set()
    cls = MESSAGE_CLASSES[MESSAGE_TYPES.index(kind)]

    @SUITE
    @for_any(
        st.one_of(
            client_messages((cls,)),
            client_messages((cls,)),
            any_text(),
        ).map(lambda text: text.encode(placeholder))
        | st.binary(max_size=200)
    )
    def example(payload: bytes) -> None:
        decoded_as, problems = judge_decoding(payload, [HEADS_UP, BETWEEN_HANDS])
        assert problems == []
        decoded.add(decoded_as)

    example()
    assert kind in decoded


def test_a_table_config_body_creates_a_table_or_is_refused_with_a_code() -> None:
    @SUITE
    @for_any(object_of(TableConfig).flatmap(lambda data: mutated(data, None)))
    def example(text: Text) -> None:
        try:
            config = codec.structure(
                codec.parse_json(text.encode(placeholder)), TableConfig
            )
        except codec.DecodeError:
            return  # bad_request
        try:
            events, _ = handle(initial_state(), CreateTable(config=config))
        except RuleError as refused:
            assert refused.code in documented().rule_codes
            return
        assert [
            codec.structure_event(codec.unstructure_event(e)) for e in events
        ] == events

    example()


def test_a_sit_down_body_seats_a_player_or_is_refused_with_a_code() -> None:
    @SUITE
    @for_any(
        object_of(SitDownBody).flatmap(lambda data: mutated(data, None)),
        st.sampled_from([HEADS_UP, BETWEEN_HANDS]),
    )
    def example(text: Text, state: Any) -> None:
        try:
            body = codec.structure(
                codec.parse_json(text.encode(placeholder)), SitDownBody
            )
        except codec.DecodeError:
            return  # bad_request
        command = SitDown(seat=body.seat, name=body.name, buy_in=body.buy_in)
        try:
            handle(state, command)
        except RuleError as refused:
            assert refused.code in documented().rule_codes

    example()


def test_a_path_matches_a_route_or_is_not_found_or_not_allowed(tmp_path: Path) -> None:
    with EventStore(tmp_path / "routes.db") as store:
        adapter = create_app(PokerService(store)).url_map.bind("127.0.0.1")

    @SUITE
    @for_any(http_requests())
    def example(request: HttpRequest) -> None:
        target = request.encode(placeholder, "127.0.0.1").split(b" ", 2)[1]
        path = target.decode("latin-1").partition("?")[0]
        with contextlib.suppress(NotFound, MethodNotAllowed):
            adapter.match(path, request.method)

    example()


# A real server


@pytest.fixture(scope="module")
def live_fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveFuzz]:
    """One server for the module's fuzz; then stopped, it must exit cleanly
    with nothing in its log that says something failed (each input's
    answer is also checked against what the log gained meanwhile)."""
    with pokerd_process(tmp_path_factory.mktemp("fuzz")) as server:
        yield LiveFuzz(server)
        status = stop(server.process)
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert judge_log(log.splitlines()) == []
    assert status == 0


@pytest.mark.parametrize("route", http_routes(), ids=lambda route: route.name)
def test_every_http_answer_is_documented(live_fuzz: LiveFuzz, route: Route) -> None:
    """Requests by `route`, changed or not, with any query, headers and body."""

    @SUITE
    @for_any(http_requests((route,)))
    def example(request: HttpRequest) -> None:
        live_fuzz.http(request)

    example()
    assert route.name in live_fuzz.tally.covered["http"]


def test_any_bytes_on_the_port_get_documented_answers_or_none(
    live_fuzz: LiveFuzz,
) -> None:
    @SUITE
    @for_any(raw_bytes())
    def example(data: RawBytes) -> None:
        live_fuzz.raw(data)

    example()
    assert live_fuzz.tally.tried["raw"] > EXAMPLES // 2


@pytest.mark.parametrize("kind", MESSAGE_TYPES)
def test_every_live_answer_and_close_is_documented(
    live_fuzz: LiveFuzz, kind: str
) -> None:
    """Frame sequences whose messages are mostly of type `kind`."""
    cls = MESSAGE_CLASSES[MESSAGE_TYPES.index(kind)]

    @SUITE
    @for_any(ws_sessions((cls,)))
    def example(session: WsSession) -> None:
        live_fuzz.websocket(session)

    example()
    assert kind in live_fuzz.tally.covered["websocket"]


REFUSED_WITH = {
    "binary": CloseCode.UNSUPPORTED_DATA,
    "not UTF-8": CloseCode.INVALID_PAYLOAD,
    "close reason not UTF-8": CloseCode.INVALID_PAYLOAD,
}
"""The close code of each kind of frame to refuse (docs/protocol.md, Close
codes): the rest break RFC 6455, PROTOCOL_ERROR."""


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_frame_to_refuse_closes_the_socket_with_its_documented_code(
    live_fuzz: LiveFuzz, kind: str
) -> None:
    """Frame sequences with one frame of `kind` the server must refuse: it
    closes the socket with the documented code, answering nothing after."""

    @settings(SUITE, max_examples=max(10, EXAMPLES // 3))
    @for_any(ws_sessions(refused=kind))
    def example(session: WsSession) -> None:
        live_fuzz.websocket(session)

    example()
    codes = {code for why, code in live_fuzz.tally.refusals if why == kind}
    # A socket at no table, or whose seat went, may be closed before the
    # server reads the frame.
    own_reasons = {CloseCode.TABLE_GONE, CloseCode.SEAT_LOST}
    assert codes - own_reasons == {REFUSED_WITH.get(kind, CloseCode.PROTOCOL_ERROR)}
