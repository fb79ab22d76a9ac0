"""docs/protocol.md's examples are what the code reads and writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pokerd.engine import Act, ComeBack, Leave, SitOut, TopUp
from pokerd.wire import codec
from pokerd.wire.protocol import (
    ActRequest,
    ComeBackRequest,
    LeaveRequest,
    SitOutRequest,
    TopUpRequest,
    request_id_problem,
    to_command,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
EXAMPLE = re.compile(r"<!-- (client|server) -->\n```json\n(.*?)\n```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    return EXAMPLE.findall(DOC.read_text())


def test_the_protocol_document_has_examples_of_every_message_type() -> None:
    types = {json.loads(text)["type"] for _, text in examples()}

    assert types >= {
        "hello",
        "act",
        "sit_out",
        "come_back",
        "top_up",
        "leave",
        "ping",
        "welcome",
        "event",
        "snapshot",
        "ack",
        "error",
        "pong",
    }


@pytest.mark.parametrize(("side", "text"), examples())
def test_each_example_decodes_and_encodes_back_to_itself(side: str, text: str) -> None:
    data = json.loads(text)
    message = (
        codec.structure_client_message(data)
        if side == "client"
        else codec.structure_server_message(data)
    )

    assert codec.unstructure_message(message) == data


def test_a_client_cannot_send_a_server_message() -> None:
    with pytest.raises(codec.DecodeError, match="unknown type 'ack'"):
        codec.structure_client_message({"id": "x", "seq": 1, "type": "ack"})


def test_a_request_becomes_the_command_for_the_tokens_seat() -> None:
    now = 1_000
    assert to_command(ActRequest(id="a", action="bet", amount=8), 4, now) == Act(
        seat=4, action="bet", amount=8, now_ms=now
    )
    assert to_command(SitOutRequest(id="b"), 4, now) == SitOut(seat=4)
    assert to_command(ComeBackRequest(id="c"), 4, now) == ComeBack(seat=4)
    assert to_command(LeaveRequest(id="d"), 4, now) == Leave(seat=4, now_ms=now)
    assert to_command(TopUpRequest(id="e", amount=9), 4, now) == TopUp(seat=4, amount=9)


@pytest.mark.parametrize("request_id", ["", "x" * 65, "new\nline"])
def test_a_request_id_must_be_short_and_printable(request_id: str) -> None:
    assert request_id_problem(request_id) is not None


def test_a_request_may_not_name_a_seat() -> None:
    with pytest.raises(codec.DecodeError, match="seat"):
        codec.structure_seat_request(
            {"id": "a", "action": "fold", "amount": None, "seat": 2, "type": "act"}
        )
