"""The one converter: every wire and storage format of pokerd's values.

Domain classes know nothing of JSON. Events, commands and table states are
turned into plain dicts and lists here, with tagged unions (`"type":
"hand_started"`) for events and commands, and extra keys refused so a
malformed message is an error rather than silently half-read.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from pokerd.engine.commands import Command
from pokerd.engine.events import Event, HandDealt, PublicEvent
from pokerd.engine.state import HandState

T = TypeVar("T")

TAG = "type"


def type_tag(cls: type) -> str:
    """`HandStarted` -> `hand_started`: the wire name of an event or command."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
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
    return converter


converter = _make_converter()


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def unstructure_event(event: Event | PublicEvent) -> dict[str, Any]:
    """An event as a dict with its `type` tag (the union's form, not the class's)."""
    union = PublicEvent if isinstance(event, HandDealt) else Event
    data: dict[str, Any] = converter.unstructure(event, unstructure_as=union)
    return data


def structure(data: Any, cls: type[T]) -> T:
    """Build a `cls` from plain data; raises cattrs' errors on bad input."""
    return converter.structure(data, cls)


def structure_event(data: Any) -> Event:
    result: Event = converter.structure(data, Event)  # type: ignore[arg-type]
    return result


def structure_public_event(data: Any) -> PublicEvent:
    result: PublicEvent = converter.structure(data, PublicEvent)  # type: ignore[arg-type]
    return result


def structure_command(data: Any) -> Command:
    result: Command = converter.structure(data, Command)  # type: ignore[arg-type]
    return result


def describe_error(error: Exception) -> str:
    """A short message naming what was wrong in a structuring error."""
    if isinstance(error, cattrs.ClassValidationError | cattrs.IterableValidationError):
        return "; ".join(cattrs.transform_error(error))
    return str(error)
