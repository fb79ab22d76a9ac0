"""A table's memory of request ids: answers kept compact, oldest forgotten first."""

from __future__ import annotations

from pokerd.server.service import (
    REMEMBERED_IDS,
    Answer,
    RequestMemory,
    Settled,
    request_digest,
)
from pokerd.store.log import AppliedRequest
from pokerd.wire.protocol import Ack, ComeBackRequest, SitOutRequest


def sit_out(request_id: str) -> SitOutRequest:
    return SitOutRequest(id=request_id)


def test_a_settled_request_keeps_only_its_request_and_answer() -> None:
    memory = RequestMemory()
    pending = memory.claim("token", "r1", request_digest(sit_out("r1")))
    assert memory.get("token", "r1") is pending
    pending.answer = Answer(200, Ack(id="r1", seq=7))

    memory.settle("token", "r1", pending)

    assert memory.get("token", "r1") == Settled(
        request_digest(sit_out("r1")), Answer(200, Ack(id="r1", seq=7))
    )


def test_a_request_without_an_answer_is_forgotten_not_settled() -> None:
    memory = RequestMemory()
    pending = memory.claim("token", "r1", request_digest(sit_out("r1")))

    memory.settle("token", "r1", pending)
    assert memory.get("token", "r1") is pending  # still running
    memory.forget("token", "r1", pending)

    assert memory.get("token", "r1") is None


def test_each_token_remembers_its_latest_ids_only() -> None:
    memory = RequestMemory()
    for number in range(REMEMBERED_IDS + 5):
        pending = memory.claim("token", f"r{number}", f"digest{number}")
        pending.answer = Answer(200, Ack(id=f"r{number}", seq=number))
        memory.settle("token", f"r{number}", pending)

    assert all(memory.get("token", f"r{number}") is None for number in range(5))
    assert memory.get("token", f"r{REMEMBERED_IDS + 4}") is not None
    assert memory.get("token", "r5") is not None


def test_requests_recalled_from_the_log_are_answered_with_their_ack() -> None:
    memory = RequestMemory()
    digest = request_digest(sit_out("r1"))

    memory.recall([AppliedRequest("token", "r1", digest, seq=12)])

    assert memory.get("token", "r1") == Settled(
        digest, Answer(200, Ack(id="r1", seq=12))
    )
    assert memory.get("other", "r1") is None


def test_a_sit_out_and_a_come_back_under_one_id_differ() -> None:
    assert request_digest(sit_out("r1")) != request_digest(ComeBackRequest(id="r1"))
