"""The converter: wire names, refusing malformed input, and what it never stores."""

from __future__ import annotations

import json
import random
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pokerd.engine import (
    Act,
    Command,
    CreateTable,
    Event,
    SitDown,
    TableConfig,
    TableCreated,
    TableState,
    fold,
    handle,
    view,
)
from pokerd.tables.dealer import random_action, start_hand
from pokerd.wire import codec


def test_every_event_and_command_has_a_stable_snake_case_wire_name() -> None:
    events = [codec.type_tag(cls) for cls in typing.get_args(Event)]
    commands = [codec.type_tag(cls) for cls in typing.get_args(Command)]

    assert events == [
        "table_created",
        "player_seated",
        "player_left",
        "leave_scheduled",
        "player_sat_out",
        "player_returned",
        "chips_added",
        "hand_started",
        "action_taken",
        "turn_started",
        "board_dealt",
        "hole_cards_shown",
        "hole_cards_mucked",
        "hand_ended",
        "table_closing",
        "table_closed",
    ]
    assert commands == [
        "create_table",
        "sit_down",
        "leave",
        "sit_out",
        "come_back",
        "top_up",
        "close_table",
        "start_hand",
        "act",
        "time_out",
    ]


def test_a_command_is_read_from_its_tagged_form() -> None:
    command = codec.structure_command(
        {"type": "act", "seat": 2, "action": "raise", "amount": 40, "now_ms": 7}
    )

    assert command == Act(seat=2, action="raise", amount=40, now_ms=7)


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"type": "act", "seat": "two", "action": "fold", "now_ms": 1}, "seat: "),
        ({"type": "act", "seat": 2, "action": "shove", "now_ms": 1}, "action: "),
        ({"type": "act", "seat": 2, "action": "fold", "now_ms": 1, "x": 1}, "(x)"),
        ({"type": "act", "action": "fold", "now_ms": 1}, "seat: "),
    ],
)
def test_a_malformed_command_is_refused_naming_what_is_wrong(
    message: dict[str, object], complaint: str
) -> None:
    with pytest.raises(codec.DecodeError) as refused:
        codec.structure_command(message)

    assert complaint in str(refused.value)


@pytest.mark.parametrize(
    ("message", "complaint"),
    [
        ({"type": "steal_pot", "seat": 1}, "unknown type 'steal_pot'"),
        ({"seat": 1}, "unknown type None"),
        (["act"], "expected a JSON object, not list"),
        ({"type": [], "seat": 1}, "unknown type []"),
        ({"type": {"a": 1}}, "unknown type {'a': 1}"),
    ],
)
def test_a_message_that_is_no_known_command_is_refused(
    message: object, complaint: str
) -> None:
    with pytest.raises(codec.DecodeError) as refused:
        codec.structure_command(message)

    assert complaint in str(refused.value)


def test_a_table_state_is_stored_without_its_pokerkit_cache_and_reads_back_equal() -> (
    None
):
    rng = random.Random(11)
    state = TableState()
    for command in (
        CreateTable(config=TableConfig()),
        SitDown(seat=0, name="ann", buy_in=100),
        SitDown(seat=3, name="bo", buy_in=100),
        SitDown(seat=4, name="cy", buy_in=60),
        start_hand(1_000, rng),
    ):
        state = handle(state, command)[1]
    for _ in range(3):
        action = random_action(state, rng, 2_000)
        if action is not None:
            state = handle(state, action)[1]

    stored = json.dumps(codec.unstructure(state))
    restored = codec.structure(json.loads(stored), TableState)

    assert "cell" not in stored
    assert restored == state
    assert view(restored, 3) == view(state, 3)
    assert view(restored, None) == view(state, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "8"), ("amount", 8.7), ("amount", True), ("id", 5), ("id", None)],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(
    field: str, value: object
) -> None:
    request: dict[str, object] = {"id": "c1", "action": "raise", "amount": 8}
    request[field] = value

    with pytest.raises(codec.DecodeError) as refused:
        codec.structure_seat_request({**request, "type": "act"})

    assert str(refused.value).startswith(f"{field}: expected ")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_compact_json_is_json_dumps_with_compact_separators(value: object) -> None:
    assert codec.compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_compact_json_refuses_what_json_cannot_encode() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        codec.compact_json({"cards": object()})


@pytest.mark.parametrize(
    ("value", "said"),
    [(None, "null"), ("", '""'), (True, "true"), (8.5, "8.5"), ("x" * 50, '"xxx')],
)
def test_a_config_field_of_the_wrong_type_is_named_in_words(
    value: object, said: str
) -> None:
    # The lobby's form sends null for an empty number field: the answer is
    # said as a person reads it, field first, with the value as it was sent.
    with pytest.raises(codec.DecodeError) as refused:
        codec.structure({"min_buy_in": value}, TableConfig)

    message = str(refused.value)
    assert message.startswith(f"min_buy_in: expected a whole number, got {said}")
    assert len(message) < 100


def test_a_config_from_a_log_written_before_tables_had_names_loads_unnamed() -> None:
    old = {"max_seats": 2, "small_blind": 1, "big_blind": 2, "min_buy_in": 40}

    config = codec.structure(old, TableConfig)

    assert config.name == ""
    assert config.max_seats == 2


def test_an_old_log_without_creators_or_closing_still_decodes() -> None:
    """Logs and snapshots written before tables could be closed lack the
    creator's hash and the closing flags: they read as a table nobody may close."""
    created = codec.structure_event(
        {"type": "table_created", "config": codec.unstructure(TableConfig())}
    )
    assert created == TableCreated(config=TableConfig(), creator_hash="")
    state = fold([created])
    stored = codec.unstructure(state)
    for field in ("creator_hash", "closing", "closed"):
        del stored[field]
    assert codec.structure(stored, TableState) == state


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ('{"type": "act", "id": "c-1", "action": "raise", "amount": 40}', False),
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a":' * 65 + "1" + "}" * 65, True),
        ('{"name": "' + "[" * 100 + '"}', False),  # brackets in a string
        ('["\\"' + "[" * 100 + '"]', False),  # after an escaped quote, too
    ],
)
def test_nesting_is_measured_without_following_it(text: str, deeper: bool) -> None:
    assert codec.nests_deeper_than(text, codec.MAX_NESTING) is deeper


def test_json_nested_too_deep_is_refused_before_it_is_decoded() -> None:
    # Decoded, 65 levels parse fine; refused first, no recursion runs at all
    # (a collection starting deep in the decoder's recursion ran its
    # callbacks without stack left: an error nothing could report).
    for text in ("[" * 65 + "]" * 65, ("[" * 65 + "]" * 65).encode()):
        with pytest.raises(codec.DecodeError, match="nests too deeply"):
            codec.parse_json(text)
        with pytest.raises(codec.DecodeError, match="nests too deeply"):
            codec.parse_json(text, any_integer=True)
    assert codec.parse_json("[" * 64 + "]" * 64) is not None
