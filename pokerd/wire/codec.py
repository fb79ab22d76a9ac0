"""The one converter: every wire and storage format of pokerd's values.

Domain classes know nothing of JSON. Events, commands and table states are
turned into plain dicts and lists here, with tagged unions (`"type":
"hand_started"`) for events and commands, and extra keys refused so a
malformed message is an error rather than silently half-read.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from json.encoder import (  # type: ignore[attr-defined]
    c_make_encoder,
    encode_basestring_ascii,
)
from typing import Any, TypeVar, get_args

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union
from cattrs.v import format_exception

from pokerd.engine.commands import Command
from pokerd.engine.config import MAX_SAFE_INTEGER
from pokerd.engine.events import Event, HandDealt, PublicEvent
from pokerd.engine.state import HandState
from pokerd.wire.protocol import ClientMessage, SeatRequest, ServerMessage

T = TypeVar("T")

TAG = "type"


def type_tag(cls: type) -> str:
    """`HandStarted` -> `hand_started`: the wire name of an event or command.

    Protocol messages drop their class-name suffix: `ActRequest` -> `act`,
    `EventMessage` -> `event`.
    """
    name = cls.__name__
    for suffix in ("Request", "Message"):
        if name.endswith(suffix) and name != suffix and cls.__module__ == _PROTOCOL:
            name = name.removesuffix(suffix)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_PROTOCOL = "pokerd.wire.protocol"


class _WrongTypeError(TypeError):
    """A value of the wrong type; the message says, in JSON's words, what
    was expected and what came (`describe_error` shows it as it is)."""

    def __init__(self, expected: str, value: object) -> None:
        super().__init__(f"expected {expected}, got {_as_json(value)}")


def _as_json(value: object) -> str:
    """A value as the client wrote it (its JSON), shortened to fit a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _strict_int(value: object, _: type) -> int:
    # cattrs would turn "8" into 8, 8.7 into 8 and true into 1: a client
    # sending those has a bug it should hear about.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _WrongTypeError("a whole number", value)
    return value


def _strict_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise _WrongTypeError("true or false", value)
    return value


def _strict_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise _WrongTypeError("a string", value)
    return value


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    # A hand's PokerKit game is a cache rebuilt from its events: never stored.
    converter.register_unstructure_hook(
        HandState,
        make_dict_unstructure_fn(HandState, converter, cell=override(omit=True)),
    )
    converter.register_structure_hook(
        HandState,
        make_dict_structure_fn(
            HandState,
            converter,
            cell=override(omit=True),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    configure_tagged_union(Event, converter, tag_generator=type_tag, tag_name=TAG)
    configure_tagged_union(PublicEvent, converter, tag_generator=type_tag, tag_name=TAG)
    configure_tagged_union(Command, converter, tag_generator=type_tag, tag_name=TAG)
    for union in (ClientMessage, SeatRequest, ServerMessage):
        configure_tagged_union(union, converter, tag_generator=type_tag, tag_name=TAG)
    return converter


converter = _make_converter()


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def unstructure_event(event: Event | PublicEvent) -> dict[str, Any]:
    """An event as a dict with its `type` tag (the union's form, not the class's)."""
    union = PublicEvent if isinstance(event, HandDealt) else Event
    data: dict[str, Any] = converter.unstructure(event, unstructure_as=union)
    return data


class DecodeError(ValueError):
    """Input that does not decode to the type asked for; the message says why."""


def structure(data: Any, cls: type[T]) -> T:
    """Build a `cls` from plain data; raises DecodeError on bad input."""
    try:
        return converter.structure(data, cls)
    except (
        cattrs.BaseValidationError,
        AttributeError,
        KeyError,
        TypeError,
        ValueError,
    ) as error:
        raise DecodeError(describe_error(error)) from error


def _structure_union(data: Any, union: Any, names: frozenset[str]) -> Any:
    if not isinstance(data, dict):
        raise DecodeError(f"expected a JSON object, not {type(data).__name__}")
    tag = data.get(TAG)
    # A list or an object cannot be looked up in `names` (unhashable).
    if not isinstance(tag, str) or tag not in names:
        known = ", ".join(sorted(names))
        raise DecodeError(f"unknown {TAG} {tag!r}; expected one of: {known}")
    return structure(data, union)


_EVENT_TAGS = frozenset(type_tag(cls) for cls in get_args(Event))
_PUBLIC_EVENT_TAGS = frozenset(type_tag(cls) for cls in get_args(PublicEvent))
_COMMAND_TAGS = frozenset(type_tag(cls) for cls in get_args(Command))
_CLIENT_TAGS = frozenset(type_tag(cls) for cls in get_args(ClientMessage))
_SEAT_REQUEST_TAGS = frozenset(type_tag(cls) for cls in get_args(SeatRequest))
_SERVER_TAGS = frozenset(type_tag(cls) for cls in get_args(ServerMessage))


def structure_event(data: Any) -> Event:
    event: Event = _structure_union(data, Event, _EVENT_TAGS)
    return event


def structure_public_event(data: Any) -> PublicEvent:
    event: PublicEvent = _structure_union(data, PublicEvent, _PUBLIC_EVENT_TAGS)
    return event


def structure_command(data: Any) -> Command:
    command: Command = _structure_union(data, Command, _COMMAND_TAGS)
    return command


def structure_client_message(data: Any) -> ClientMessage:
    message: ClientMessage = _structure_union(data, ClientMessage, _CLIENT_TAGS)
    return message


def structure_seat_request(data: Any) -> SeatRequest:
    request: SeatRequest = _structure_union(data, SeatRequest, _SEAT_REQUEST_TAGS)
    return request


def structure_server_message(data: Any) -> ServerMessage:
    message: ServerMessage = _structure_union(data, ServerMessage, _SERVER_TAGS)
    return message


def unstructure_message(message: ClientMessage | ServerMessage) -> dict[str, Any]:
    """A protocol message as a dict with its `type` tag."""
    union = ServerMessage if type(message) in get_args(ServerMessage) else ClientMessage
    data: dict[str, Any] = converter.unstructure(message, unstructure_as=union)
    return data


def _compact_encoder() -> Any:
    """json's C encoder, made once with `json.dumps`'s defaults but compact
    separators and no check for reference cycles (unstructured values have
    none)."""
    if c_make_encoder is None:  # a Python built without _json
        encoder = json.JSONEncoder(separators=(",", ":"))
        return lambda value, _level: [encoder.encode(value)]
    default = json.JSONEncoder().default  # raises TypeError, as dumps does
    return c_make_encoder(
        None, default, encode_basestring_ascii, None, ":", ",", False, False, True
    )


_encode_compact = _compact_encoder()


def compact_json(value: Any) -> str:
    """`json.dumps(value, separators=(",", ":"))`, for a fraction of the cost.

    `json.dumps` makes a new encoder on every call: about 3 us, more than
    encoding a whole seat, and the live stream encodes dozens of small
    values per batch (docs/performance.md).
    """
    return "".join(_encode_compact(value, 0))


def encode_message(message: ClientMessage | ServerMessage) -> str:
    """A protocol message as the compact JSON text sent over the wire."""
    return compact_json(unstructure_message(message))


_SAFE_DIGITS = len(str(MAX_SAFE_INTEGER))


class _UnsafeIntegerError(ValueError):
    """An integer in a client's JSON beyond what JavaScript holds exactly."""


def _safe_int(digits: str) -> int:
    # A browser's JSON.parse rounds an integer past 2**53 - 1, so a client
    # could not even say what it sent: such a number is refused wherever it
    # is, the same for every field (docs/protocol.md, Numbers).
    size = len(digits.lstrip("-"))
    number = int(digits) if size <= _SAFE_DIGITS else None
    if number is None or abs(number) > MAX_SAFE_INTEGER:
        raise _UnsafeIntegerError(
            f"not JSON pokerd reads: an integer of {size} digits, beyond"
            f" 2**53 - 1 ({MAX_SAFE_INTEGER}), the largest a browser's"
            " JSON.parse holds exactly"
        )
    return number


_CLIENT_JSON = json.JSONDecoder(parse_int=_safe_int)
"""Made once: `json.loads` with an argument makes a decoder on every call."""


MAX_NESTING = 64
"""How deep a client's JSON may nest (pokerd's messages nest three deep).
Deeper input is refused before it is decoded: Python's decoder follows it by
recursion, and near the recursion limit a garbage collection that starts
there runs its callbacks with no stack left, an error nothing can report."""
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_TOO_DEEP = "not JSON pokerd reads: it nests too deeply"


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON `text` opens more than `limit` arrays or objects inside
    one another (brackets in strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # a message of pokerd's: no need to look closer
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


def parse_json(text: str | bytes, *, any_integer: bool = False) -> Any:
    """JSON text from a client as Python values; DecodeError if it is not
    JSON, nests deeper than `MAX_NESTING`, or holds an integer beyond
    +-(2**53 - 1) (unless `any_integer`: to find what a refused message
    was, say)."""
    try:
        if not isinstance(text, str):  # as json.loads reads bytes
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        if nests_deeper_than(text, MAX_NESTING):
            raise DecodeError(_TOO_DEEP)
        if any_integer:
            return json.loads(text)
        return _CLIENT_JSON.decode(text)
    except DecodeError:
        raise
    except _UnsafeIntegerError as error:
        raise DecodeError(str(error)) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DecodeError(f"not JSON: {error}") from None
    except RecursionError:  # the decoder's own limit, should one come first
        raise DecodeError(_TOO_DEEP) from None


def decode_client_message(text: str | bytes) -> ClientMessage:
    """A client's WebSocket message; DecodeError says what is wrong with it."""
    return structure_client_message(parse_json(text))


def describe_error(error: Exception) -> str:
    """A short message naming what was wrong in a structuring error, a field
    first: `min_buy_in: expected a whole number, got null`."""
    if isinstance(error, cattrs.ClassValidationError | cattrs.IterableValidationError):
        lines = cattrs.transform_error(error, format_exception=_format_exception)
        return "; ".join(_field_first(line) for line in lines)
    if isinstance(error, KeyError):
        return f"missing {error.args[0]}"
    return str(error)


def _format_exception(error: BaseException, cls: type | None) -> str:
    if isinstance(error, _WrongTypeError):
        return str(error)
    return format_exception(error, cls)


def _field_first(line: str) -> str:
    """cattrs' `what @ $.path` as `path: what` (`what` alone at the top)."""
    what, _, path = line.rpartition(" @ ")
    if not what or not path.startswith("$"):
        return line
    field = path.removeprefix("$").removeprefix(".")
    return f"{field}: {what}" if field else what
