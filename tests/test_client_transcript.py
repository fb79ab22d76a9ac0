"""The client's pure parts, with no server: the transcript's fold of what a
viewer received, decoding long-poll pages, how a session's end is read, and
the outbox of requests in flight."""

from __future__ import annotations

import attrs
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from pokerd.client import (
    ClientError,
    Ending,
    HttpConnectionError,
    HttpError,
    Transcript,
)
from pokerd.client.endings import (
    SessionEnd,
    after_close,
    after_poll_error,
    after_refusal,
)
from pokerd.client.outbox import Outbox, Session
from pokerd.client.transcript import (
    EventsPage,
    PageError,
    Received,
    decode_page,
    decode_view_page,
)
from pokerd.engine import PlayerSeated, initial_state, view
from pokerd.engine.views import TableView
from pokerd.wire import codec
from pokerd.wire.protocol import (
    Ack,
    CloseCode,
    Error,
    EventMessage,
    Resume,
    SitOutRequest,
    Welcome,
)

EMPTY_VIEW = view(initial_state(), None)


def event_at(seq: int) -> PlayerSeated:
    """The log's event at `seq`: each seq's event differs from the others'."""
    return PlayerSeated(seat=seq % 10, name=f"p{seq}", stack=seq)


def view_at(seq: int, viewer: int | None = 3) -> TableView:
    """A view marked with the seq it belongs to (as its hand number)."""
    return attrs.evolve(EMPTY_VIEW, hand=seq, viewer=viewer)


def message(seq: int, *, with_view: bool = False) -> EventMessage:
    return EventMessage(
        seq=seq, event=event_at(seq), view=view_at(seq) if with_view else None
    )


def the_log(first: int, last: int) -> list[Received]:
    return [Received(seq, event_at(seq)) for seq in range(first, last + 1)]


# The fold.


@given(
    length=st.integers(0, 60),
    resumes=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 20)), max_size=12),
)
def test_resumes_that_send_seen_events_again_still_give_the_log_once_in_order(
    length: int, resumes: list[tuple[int, int]]
) -> None:
    """Each resume starts up to `back` events before the offset (a server
    sending some again) and runs for a while; the rest follows in order."""
    transcript = Transcript(epoch="e")
    delivered = 0
    for back, run in resumes:
        start = max(1, transcript.offset + 1 - back)
        for seq in range(start, min(start + run, length + 1)):
            transcript.event(message(seq))
            delivered += 1
    for seq in range(transcript.offset + 1, length + 1):
        transcript.event(message(seq))
        delivered += 1

    assert transcript.events == the_log(1, length)
    assert transcript.offset == length
    assert transcript.gaps == 0
    assert transcript.duplicates == delivered - length


@given(st.lists(st.integers(1, 40), max_size=60))
def test_any_order_keeps_each_new_high_seq_and_counts_gaps_and_repeats(
    seqs: list[int],
) -> None:
    """Whatever order the seqs arrive in: an event is kept when its seq is
    above every one before it (the offset), a gap is counted when that skips
    seqs, and everything else is a repeat, reported and left out."""
    transcript = Transcript(epoch="e")
    problems = [transcript.event(message(seq)) for seq in seqs]

    records: list[int] = []
    for seq in seqs:
        if seq > (records[-1] if records else 0):
            records.append(seq)
    jumps = sum(
        1
        for before, seq in zip([0, *records], records, strict=False)
        if seq != before + 1
    )
    assert [item.seq for item in transcript.events] == records
    assert transcript.events == [Received(seq, event_at(seq)) for seq in records]
    assert transcript.offset == max(records, default=0)
    assert transcript.gaps == jumps
    assert transcript.duplicates == len(seqs) - len(records)
    reported = sum(1 for problem in problems if problem is not None)
    assert reported == transcript.gaps + transcript.duplicates


@given(st.lists(st.booleans(), max_size=30))
def test_the_view_is_the_last_one_received_and_knows_its_seq(
    carries_view: list[bool],
) -> None:
    transcript = Transcript(epoch="e")
    for seq, with_view in enumerate(carries_view, start=1):
        transcript.event(message(seq, with_view=with_view))

    with_views = [seq for seq, has in enumerate(carries_view, start=1) if has]
    if not with_views:
        assert (transcript.view, transcript.view_seq, transcript.seat) == (
            None,
            -1,
            None,
        )
    else:
        assert transcript.view_seq == with_views[-1]
        assert transcript.view == view_at(with_views[-1])
        assert transcript.seat == 3


def test_a_snapshot_replaces_the_events_before_it_and_the_next_event_follows_it() -> (
    None
):
    transcript = Transcript(epoch="e", offset=4)
    transcript.snapshot(9, view_at(9, viewer=None))
    assert transcript.event(message(10)) is None

    assert (transcript.recovered, transcript.snapshots) == (False, 1)
    assert transcript.events == the_log(10, 10)
    assert (transcript.offset, transcript.view_seq, transcript.seat) == (10, 9, None)
    assert transcript.gaps == 0


def test_a_hello_resumes_from_the_offset_once_there_is_an_epoch() -> None:
    transcript = Transcript()
    assert transcript.resume() is None
    transcript.welcome(Welcome(table="t", epoch="e1", seat=2, seq=0, recovered=False))
    transcript.snapshot(5, view_at(5, viewer=2))
    assert transcript.resume() == Resume(epoch="e1", offset=5)
    assert transcript.seat == 2


# Long-poll pages.


def wire(message: EventMessage) -> object:
    return codec.unstructure_message(message)


def test_a_page_applies_its_events_and_says_whether_the_view_caught_up() -> None:
    transcript = Transcript(epoch="e")
    first = decode_page(
        {
            "epoch": "e",
            "seq": 3,
            "recovered": True,
            "events": [wire(message(1)), wire(message(2, with_view=True))],
        }
    )
    second = decode_page(
        {"epoch": "e", "seq": 3, "recovered": True, "events": [wire(message(3))]}
    )

    assert transcript.page(first) == ([], True)
    assert transcript.page(second) == ([], False)  # its view is still to come
    assert transcript.events == the_log(1, 3)
    assert transcript.view_seq == 2


def test_a_page_that_was_not_recovered_is_a_snapshot_of_the_viewers_view() -> None:
    page = decode_page(
        {
            "epoch": "e2",
            "seq": 40,
            "recovered": False,
            "events": [],
            "view": codec.unstructure(view_at(40)),
        }
    )
    transcript = Transcript(epoch="e1", offset=7)

    assert transcript.page(page) == ([], True)
    assert (transcript.epoch, transcript.offset, transcript.recovered) == (
        "e2",
        40,
        False,
    )
    assert transcript.view == view_at(40)


def test_an_event_of_a_page_that_does_not_decode_is_reported_and_left_out() -> None:
    page = decode_page(
        {
            "epoch": "e",
            "seq": 2,
            "recovered": True,
            "events": [wire(message(1)), {"type": "event", "seq": 2}],
        }
    )
    transcript = Transcript(epoch="e")
    problems, _ = transcript.page(page)

    assert len(page.undecodable) == 1
    assert len(problems) == 1 and "does not decode" in problems[0]
    assert transcript.events == the_log(1, 1)


@pytest.mark.parametrize(
    "data",
    [{}, {"epoch": "e", "seq": 1}, {"epoch": "e", "seq": 1, "recovered": False}, []],
)
def test_an_answer_that_is_not_a_page_is_refused(data: object) -> None:
    with pytest.raises(PageError):
        decode_page(data)


def test_a_tables_view_reads_as_a_page_that_was_not_recovered() -> None:
    data = codec.unstructure(view_at(12)) | {"epoch": "e", "seq": 12}
    assert decode_view_page(data) == EventsPage(
        epoch="e", seq=12, recovered=False, view=view_at(12)
    )
    with pytest.raises(PageError):
        decode_view_page({"seq": 12})


# How a session ended.


@pytest.mark.parametrize(
    ("code", "final", "ending"),
    [
        (CloseCode.SEAT_LOST, True, "seat_lost"),
        (CloseCode.TABLE_GONE, True, "table_gone"),
        (CloseCode.ABNORMAL_CLOSURE, False, "closed"),
        (CloseCode.NO_PONG, False, "closed"),
    ],
)
def test_only_a_lost_seat_or_a_gone_table_ends_the_client_after_a_close(
    code: int, final: bool, ending: Ending
) -> None:
    assert after_close(code, welcomed=True) == SessionEnd(
        f"closed {code}", final=final, welcomed=True, ending=ending
    )


@pytest.mark.parametrize(
    ("code", "final", "ending"),
    [
        ("no_such_table", True, "table_gone"),
        ("table_stopped", True, "table_gone"),
        ("bad_token", True, "seat_lost"),
        ("rate_limited", False, "closed"),
    ],
)
def test_a_refused_hello_ends_the_client_only_if_the_table_or_seat_is_gone(
    code: str, final: bool, ending: Ending
) -> None:
    ended = after_refusal(Error(code=code, message="no"))
    assert (ended.final, ended.ending) == (final, ending)


def test_a_table_moving_behind_the_router_is_a_pause_not_a_redirect() -> None:
    # A routed node names no node to go to: the client stays where it came
    # from (the router) and tries again after its backoff, never giving up.
    refused = after_refusal(Error(code="table_moving", message="try again"))
    closed = after_close(4006, welcomed=True, reason="")
    for ended in (refused, closed):
        assert (ended.final, ended.moved_to) == (False, "")
    moved = after_close(4006, welcomed=True, reason="http://10.0.0.2:8000")
    assert moved.moved_to == "http://10.0.0.2:8000"


def http_error(status: int, code: str) -> HttpError:
    return HttpError(status, {"type": "error", "code": code, "message": code})


@pytest.mark.parametrize(
    ("error", "ending"),
    [
        (http_error(404, "no_such_table"), "table_gone"),
        (http_error(409, "table_stopped"), "table_gone"),
        (http_error(401, "bad_token"), "seat_lost"),
        (http_error(503, "table_restarting"), None),
        (http_error(503, "table_moving"), None),
        (HttpError(502, "Bad Gateway"), None),
        (HttpConnectionError("refused"), None),
        (trio.TooSlowError(), None),
    ],
)
def test_a_failed_poll_ends_the_client_only_if_the_table_or_seat_is_gone(
    error: Exception, ending: str | None
) -> None:
    ended = after_poll_error(error)
    assert (None if ended is None else ended.ending) == ending
    assert ended is None or ended.final


def test_a_poll_refused_for_a_reason_polling_cannot_cure_is_an_error() -> None:
    with pytest.raises(ClientError, match="refused the poll"):
        after_poll_error(http_error(400, "bad_request"))


# Requests in flight.


async def test_each_session_sends_an_unanswered_request_once_with_the_same_id() -> None:
    outbox = Outbox()
    async with trio.open_nursery() as nursery:
        first, second = Session(nursery), Session(nursery)
        pending = outbox.submit(lambda request_id: SitOutRequest(id=request_id))
        other = outbox.submit(lambda request_id: SitOutRequest(id=request_id))
        assert pending.id != other.id

        assert outbox.due(first) == [pending, other]
        assert outbox.due(first) == []
        outbox.sent(pending, first)
        assert outbox.answered(Ack(id=other.id, seq=1)) == "answered"
        # A reconnect: the new session sends what is still unanswered.
        assert outbox.due(second) == [pending]
        outbox.sent(pending, second)

    assert (pending.sends, outbox.resent, outbox.requests) == (2, 1, 2)
    assert pending.sent.is_set() and pending.answer is None
    assert outbox.unacked == [pending]


async def test_a_retry_answer_keeps_the_request_and_a_stray_one_is_seen() -> None:
    outbox = Outbox()
    async with trio.open_nursery() as nursery:
        session = Session(nursery)
        pending = outbox.submit(lambda request_id: SitOutRequest(id=request_id))
        outbox.due(session)
        limited = Error(code="rate_limited", message="slow down", id=pending.id)
        assert outbox.answered(limited) == "retry"
        outbox.due_again(session, pending.id)
        assert outbox.due(session) == [pending]
        assert outbox.answered(Ack(id="elsewhere-1", seq=3)) == "stray"
        assert outbox.answered(Ack(id=pending.id, seq=3)) == "answered"

    assert pending.answer == Ack(id=pending.id, seq=3)
    assert outbox.unacked == []
