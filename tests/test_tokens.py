"""Seat tokens: random, stored only hashed, bound to one seating, never shown."""

from __future__ import annotations

import json

import pytest

from pokerd.engine import (
    CreateTable,
    Leave,
    PlayerSeated,
    RuleError,
    SitDown,
    TableConfig,
    TableState,
    fold,
    handle,
    redact,
    view,
)
from pokerd.engine.events import Event
from pokerd.tables.tokens import new_token, token_hash
from pokerd.wire import codec


def test_a_token_has_128_random_bits_and_the_table_keeps_only_its_hash() -> None:
    tokens = {new_token() for _ in range(1000)}

    assert len(tokens) == 1000
    for token, hashed in tokens:
        assert len(token) >= 22  # 16 bytes, base64url
        assert hashed == token_hash(token) != token
        assert len(hashed) == 64


def seated_table() -> tuple[TableState, list[Event], str, str]:
    ann, ann_hash = new_token()
    bo, bo_hash = new_token()
    state, log = TableState(), []
    for command in (
        CreateTable(config=TableConfig()),
        SitDown(seat=0, name="ann", buy_in=100, token_hash=ann_hash),
        SitDown(seat=3, name="bo", buy_in=100, token_hash=bo_hash),
    ):
        events, state = handle(state, command)
        log += events
    return state, log, ann, bo


def test_a_token_acts_for_the_seat_it_was_issued_with_and_a_restart_keeps_it() -> None:
    state, log, ann, bo = seated_table()

    assert state.seat_of_token(token_hash(ann)) == 0
    assert state.seat_of_token(token_hash(bo)) == 3
    assert state.seat_of_token(token_hash("guess")) is None
    assert state.seat_of_token("") is None
    assert fold(log).seat_of_token(token_hash(bo)) == 3


def test_leaving_revokes_the_token_and_a_newcomer_gets_a_new_one() -> None:
    state, _, ann, _ = seated_table()
    _, state = handle(state, Leave(seat=0, now_ms=0))
    carl, carl_hash = new_token()
    _, state = handle(
        state, SitDown(seat=0, name="carl", buy_in=100, token_hash=carl_hash)
    )

    assert state.seat_of_token(token_hash(ann)) is None
    assert state.seat_of_token(token_hash(carl)) == 0


def test_one_token_cannot_sit_in_two_seats() -> None:
    state, _, ann, _ = seated_table()
    command = SitDown(seat=1, name="ann2", buy_in=100, token_hash=token_hash(ann))

    with pytest.raises(RuleError) as refused:
        handle(state, command)

    assert refused.value.code == "token_in_use"


def test_no_viewer_ever_receives_a_token_hash() -> None:
    state, log, ann, bo = seated_table()
    hashes = {token_hash(ann), token_hash(bo)}

    for viewer in (None, 0, 3):
        for event in log:
            public = redact(event, viewer)
            if isinstance(public, PlayerSeated):
                assert public.token_hash == ""
            text = json.dumps(codec.unstructure_event(public))
            assert not any(hashed in text for hashed in hashes)
        table = json.dumps(codec.unstructure(view(state, viewer)))
        assert not any(hashed in table for hashed in hashes)
