"""pokerd.client against a real server: drops, resumes, resends, polling and back.

Players act on what their client shows them (the view's legal actions).
Every test ends by checking that what a client received is exactly the
table's log as its seat may see it: each seq once, in order, same content.
A small TCP proxy in front of the live port can hold the server's bytes back
from the client and cut connections, to make drops happen at known moments.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager, closing, suppress
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from served import (
    STEP_S,
    Served,
    free_port,
    log_as_seen_by,
    reset_connection,
    served,
)

from pokerd.client import (
    Backoff,
    Client,
    Http,
    HttpConnectionError,
    HttpError,
    Received,
    Seated,
)
from pokerd.client.endings import after_poll_error
from pokerd.client.live import LiveConnection
from pokerd.engine.commands import ActionName
from pokerd.engine.events import ActionTaken
from pokerd.engine.views import TableView
from pokerd.store import read_events
from pokerd.wire import codec
from pokerd.wire.protocol import Ack, ActRequest, CloseCode

FAST_BACKOFF_BASE_S = 0.02
FAST_BACKOFF_CAP_S = 0.1
RATE_LIMIT = 2.0
"""Messages a second per socket: players acting at once go over it."""
SHORT_HEARTBEAT_S = 0.5
"""The server's heartbeat in the test where it gives up on a silent client."""


# The log as a seat may see it, and what a client got.


def received(client: Client) -> list[dict[str, Any]]:
    return [
        {"seq": item.seq, "event": codec.unstructure_event(item.event)}
        for item in client.events
    ]


def assert_exactly_the_log(
    db: Path, table: str, client: Client, first: int = 1
) -> None:
    """The client got seqs `first`.. once each, in order, as the log has them."""
    got = received(client)
    assert [item["seq"] for item in got] == list(range(first, first + len(got)))
    assert (
        got == log_as_seen_by(db, table, client.seat)[first - 1 : first - 1 + len(got)]
    )
    stats = client.statistics()
    assert (stats.gaps, stats.duplicates, client.problems) == (0, 0, [])


def player_actions(db: Path, table: str, seat: int) -> list[ActionTaken]:
    with closing(sqlite3.connect(db)) as connection:
        events = read_events(connection, table)
    return [
        stored.event
        for stored in events
        if isinstance(stored.event, ActionTaken)
        and stored.event.seat == seat
        and stored.event.cause == "player"
    ]


# Players.


def hand_over(view: TableView, hand: int) -> bool:
    return view.hand > hand or (view.hand == hand and not view.hand_in_progress)


def newer_view(client: Client, *, seq: int) -> bool:
    return client.view_seq > seq


def past(client: Client, *, seq: int) -> bool:
    return client.offset >= seq


def my_turn(client: Client) -> bool:
    view = client.view
    return view is not None and view.to_act == client.seat and view.legal is not None


async def play(client: Client, until_hand: int, rng: random.Random) -> None:
    """Act on each new view that says it is this seat's turn (mostly check or
    call, sometimes a raise), until hand `until_hand` has ended."""
    handled = -1
    while True:
        await client.wait_for(partial(newer_view, seq=handled))
        handled = client.view_seq
        view = client.view
        assert view is not None
        if hand_over(view, until_hand):
            return
        if view.to_act == client.seat and view.legal is not None:
            legal = view.legal
            if legal.min_raise_to is not None and rng.random() < 0.2:
                answer = await client.act("raise", legal.min_raise_to)
            else:
                answer = await client.act("check" if legal.check else "call")
            assert isinstance(answer, Ack), answer


async def play_all(clients: list[Client], until_hand: int) -> None:
    with trio.fail_after(STEP_S):
        async with trio.open_nursery() as nursery:
            for seat, client in enumerate(clients):
                nursery.start_soon(play, client, until_hand, random.Random(seat))


async def collect(client: Client, into: list[Received]) -> None:
    async with aclosing(client.follow()) as events:
        async for item in events:
            into.append(item)


# A table and clients.


@attrs.frozen
class Game:
    http_url: str
    table: str
    seated: list[Seated]


async def heads_up(server: Served) -> Game:
    """A table with seats 0 and 1 taken (hand 1 is dealt at once)."""
    http_url = f"http://127.0.0.1:{server.api.port}"
    http = Http(http_url)
    table, _ = await http.create_table(max_seats=6)
    seated = [await http.sit(table, seat, f"p{seat}", 200) for seat in (0, 1)]
    return Game(http_url, table, seated)


def client_for(game: Game, seat: int, live_url: str, **options: Any) -> Client:
    """A client of the seat's player, from the log's start."""
    seated = game.seated[seat]
    return Client(
        game.http_url,
        live_url,
        game.table,
        seated.token,
        epoch=seated.epoch,
        **options,
    )


@asynccontextmanager
async def running(*clients: Client) -> AsyncIterator[None]:
    """The clients running (started: each has the table's state), closed after."""
    async with trio.open_nursery() as nursery:
        with trio.fail_after(STEP_S):
            for client in clients:
                await nursery.start(client.run)
        yield
        for client in clients:
            client.close()


# A proxy in front of the live port.


@attrs.define(eq=False)
class Link:
    """One proxied connection."""

    client: trio.SocketStream
    server: trio.SocketStream
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    held: bool = False
    buffer: bytearray = attrs.Factory(bytearray)
    server_done: trio.Event = attrs.Factory(trio.Event)
    released: trio.Event = attrs.Factory(trio.Event)


class Proxy:
    """TCP to the live port; `hold` keeps the server's bytes from the clients
    of the connections open now, `release` lets them through, `cut` ends
    those connections without a word (as a network failure would). The first
    `resets` connections are reset as soon as accepted (a server crashing);
    `accepted` counts them all."""

    def __init__(self, live_url: str, resets: int = 0) -> None:
        self.target = int(live_url.rsplit(":", 1)[1])
        self.links: list[Link] = []
        self.url = ""
        self.resets = resets
        self.accepted = 0

    async def run(self, *, task_status: trio.TaskStatus[None]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.url = f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        task_status.started()
        await trio.serve_listeners(self._serve, listeners)

    def hold(self) -> None:
        for link in self.links:
            link.held = True

    async def release(self) -> None:
        for link in self.links:
            while link.buffer:
                data = bytes(link.buffer)
                link.buffer.clear()
                await link.client.send_all(data)
            link.held = False
            link.released.set()

    def cut(self) -> None:
        for link in self.links:
            link.scope.cancel()
        self.links.clear()

    async def _serve(self, client: trio.SocketStream) -> None:
        self.accepted += 1
        if self.accepted <= self.resets:
            reset_connection(client)
            return
        server = await trio.open_tcp_stream("127.0.0.1", self.target)
        link = Link(client, server)
        self.links.append(link)
        with link.scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._up, link)
                await self._down(link)
                nursery.cancel_scope.cancel()
        with trio.CancelScope(shield=True):
            await client.aclose()
            await server.aclose()

    async def _up(self, link: Link) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await link.client.receive_some(65536):
                await link.server.send_all(data)

    async def _down(self, link: Link) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await link.server.receive_some(65536):
                if link.held:
                    link.buffer += data
                else:
                    await link.client.send_all(data)
        link.server_done.set()
        if link.held:
            await link.released.wait()


@asynccontextmanager
async def proxied(live_url: str, resets: int = 0) -> AsyncIterator[Proxy]:
    proxy = Proxy(live_url, resets)
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.run)
        yield proxy
        nursery.cancel_scope.cancel()


async def until(check: Callable[[], bool], step: Callable[[], Awaitable[None]]) -> None:
    with trio.fail_after(STEP_S):
        while not check():
            await step()


# The tests.


class Highest(random.Random):
    """An rng whose every draw is the top of the range: the backoff's bound."""

    def random(self) -> float:
        return 1.0


def test_the_backoff_doubles_up_to_its_cap_and_is_jittered_below_that() -> None:
    backoff = Backoff(base=0.1, cap=5.0, rng=Highest())
    bounds = [backoff.next_delay() for _ in range(9)]
    assert bounds == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)

    jittered = Backoff(base=0.1, cap=5.0, rng=random.Random(7))
    delays = [jittered.next_delay() for _ in range(40)]
    for delay, bound in zip(delays, bounds + [5.0] * 31, strict=True):
        assert 0 <= delay <= bound
    # Full jitter: spread over the whole range, not bunched at its top.
    capped = delays[6:]
    assert min(capped) < 1.0
    assert max(capped) > 4.0


async def test_a_refused_socket_falls_back_to_polling_and_retries_it_with_backoff(
    tmp_path: Path,
) -> None:
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await trio.sleep(0)

    closed_port = f"ws://127.0.0.1:{free_port()}"
    async with served(tmp_path / "client.db") as server:
        game = await heads_up(server)
        client = client_for(
            game,
            0,
            closed_port,
            backoff=Backoff(base=0.1, cap=5.0, rng=Highest()),
            sleep=recorded_sleep,
        )
        async with running(client):
            assert client.mode == "polling"
            await until(lambda: len(waits) >= 9, partial(trio.sleep, 0.01))
        stats = client.statistics()

    assert waits[:9] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert (stats.sockets_opened, stats.fallbacks) == (0, 1)
    assert stats.polls >= 1


async def refuse_upgrades(*, task_status: trio.TaskStatus[str]) -> None:
    """A server that answers every request, a WebSocket upgrade too, with 404;
    started with its ws:// URL."""

    async def refuse(stream: trio.SocketStream) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = await stream.receive_some(65536)
                if not chunk:
                    return
                request += chunk
            await stream.send_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            )
        await stream.aclose()

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}")
    await trio.serve_listeners(refuse, listeners)


async def test_a_refused_handshake_falls_back_to_polling_as_a_refused_socket_does(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    async with served(db) as server, trio.open_nursery() as nursery:
        refusing = await nursery.start(refuse_upgrades)
        game = await heads_up(server)
        client = client_for(game, 0, refusing)
        other = client_for(game, 1, server.live)
        async with running(client, other):
            assert client.mode == "polling"
            await play_all([client, other], 1)
        nursery.cancel_scope.cancel()
        stats = client.statistics()

    assert (stats.sockets_opened, stats.fallbacks) == (0, 1)
    assert_exactly_the_log(db, game.table, client)


async def test_a_socket_reset_during_the_handshake_is_retried_with_backoff_at_once(
    tmp_path: Path,
) -> None:
    # A reconnect racing a server crash: the kernel accepts the connection
    # and resets it before the handshake's answer. Each attempt must fail
    # then and there, not wait out the connect timeout (here STEP_S, so that
    # three such waits could not fit in the test's bound).
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await trio.sleep(0)

    db = tmp_path / "client.db"
    async with served(db) as server, proxied(server.live, resets=3) as proxy:
        game = await heads_up(server)
        client = client_for(
            game,
            0,
            proxy.url,
            backoff=Backoff(base=0.1, cap=5.0, rng=Highest()),
            sleep=recorded_sleep,
            connect_timeout_s=STEP_S,
        )
        other = client_for(game, 1, server.live)
        async with running(client, other):
            with trio.fail_after(STEP_S):
                await client.wait_for(lambda c: c.mode == "live")
            await play_all([client, other], 1)
        stats = client.statistics()

    # Three resets, then the fourth connection is the one that opened,
    # after the backoff's first three pauses.
    assert proxy.accepted == 4
    assert waits == pytest.approx([0.1, 0.2, 0.4])
    assert (stats.sockets_opened, stats.fallbacks) == (1, 1)
    assert_exactly_the_log(db, game.table, client)


async def test_a_client_on_polling_plays_hands_and_gets_its_log(tmp_path: Path) -> None:
    db = tmp_path / "client.db"
    closed_port = f"ws://127.0.0.1:{free_port()}"
    async with served(db) as server:
        game = await heads_up(server)
        polling = client_for(game, 0, closed_port)
        live = client_for(game, 1, server.live)
        # A spectator with no offset starts from a snapshot of now.
        spectator = Client(game.http_url, closed_port, game.table)
        async with running(polling, live, spectator):
            modes = (polling.mode, live.mode, spectator.mode)
            assert modes == ("polling", "live", "polling")
            snapshot_seq = spectator.offset
            await play_all([polling, live], 2)
            await spectator.wait_for(lambda c: c.offset >= polling.offset)
        stats = polling.statistics()

    assert stats.sockets_opened == 0 and stats.polls > 1
    assert stats.requests == len(player_actions(db, game.table, 0)) > 0
    assert_exactly_the_log(db, game.table, polling)
    assert_exactly_the_log(db, game.table, live)
    assert spectator.recovered is False and spectator.seat is None
    assert_exactly_the_log(db, game.table, spectator, first=snapshot_seq + 1)


async def test_a_polling_client_goes_back_to_the_socket_once_it_opens(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    # Every socket is reset on accept until the proxy lets them through. (Not
    # by changing the client's live_url: an attempt failing meanwhile sends
    # the client back to its list of servers, the old address.)
    async with served(db) as server, proxied(server.live, resets=10**9) as proxy:
        game = await heads_up(server)
        client = client_for(
            game,
            0,
            proxy.url,
            backoff=Backoff(FAST_BACKOFF_BASE_S, FAST_BACKOFF_CAP_S),
        )
        other = client_for(game, 1, server.live)
        async with running(client, other):
            await play_all([client, other], 1)
            assert client.mode == "polling"
            proxy.resets = proxy.accepted  # the socket can be opened now
            with trio.fail_after(STEP_S):
                await client.wait_for(lambda c: c.mode == "live")
            await play_all([client, other], 3)
        stats = client.statistics()

    assert stats.fallbacks == 1 and stats.sockets_opened == 1
    assert (stats.reconnects, stats.resumed) == (1, 1)
    assert_exactly_the_log(db, game.table, client)


async def test_a_client_resumes_after_the_server_closes_its_socket(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    async with (
        served(
            db, heartbeat_s=SHORT_HEARTBEAT_S, ping_interval_s=SHORT_HEARTBEAT_S
        ) as server,
        proxied(server.live) as proxy,
    ):
        game = await heads_up(server)
        client = client_for(game, 0, proxy.url)
        other = client_for(game, 1, server.live)
        async with running(client, other):
            await play_all([client, other], 1)
            # The server's pings and events stop reaching the client: it
            # closes the socket (no pong) and hangs up.
            proxy.hold()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(play, other, 2, random.Random(1))
                with trio.fail_after(STEP_S):
                    await proxy.links[0].server_done.wait()
                # The held events reach the client, then the close frame.
                await proxy.release()
                nursery.start_soon(play, client, 2, random.Random(0))
            await play_all([client, other], 3)
        stats = client.statistics()

    # (More than once only on a machine too busy to pong within half a second.)
    assert stats.close_codes[CloseCode.NO_PONG] >= 1
    assert stats.reconnects == stats.resumed >= 1 and stats.not_resumed == 0
    assert_exactly_the_log(db, game.table, client)


async def test_abrupt_drops_mid_hand_lose_no_event_and_repeat_none(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    async with served(db) as server:
        game = await heads_up(server)
        client = client_for(game, 0, server.live)
        other = client_for(game, 1, server.live)
        drops = 0
        followed: list[Received] = []
        async with running(client, other):

            async def drop_now_and_then() -> None:
                nonlocal drops
                while True:
                    # Every few events, wherever the hand is.
                    await client.wait_for(partial(past, seq=client.offset + 5))
                    drops += await client.drop()

            async with trio.open_nursery() as following:
                following.start_soon(collect, client, followed)
                async with trio.open_nursery() as dropping:
                    dropping.start_soon(drop_now_and_then)
                    await play_all([client, other], 3)
                    dropping.cancel_scope.cancel()
                # The last drop may not have been resumed yet: let it be.
                with trio.fail_after(STEP_S):
                    await client.wait_for(
                        lambda c: c.mode == "live" and c.statistics().resumed >= drops
                    )
                client.close()  # `follow` ends with the client
        stats = client.statistics()

    assert followed == client.events
    assert drops >= 3
    assert stats.drops == drops
    assert stats.reconnects == stats.resumed >= drops
    assert_exactly_the_log(db, game.table, client)


async def test_a_rate_limited_request_is_sent_again_with_its_id(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    async with served(db, rate_limit_per_s=RATE_LIMIT) as server:
        game = await heads_up(server)
        clients = [client_for(game, seat, server.live) for seat in (0, 1)]
        async with running(*clients):
            await play_all(clients, 1)
        stats = [client.statistics() for client in clients]

    assert sum(s.retried for s in stats) > 0
    for seat, client in enumerate(clients):
        assert stats[seat].retried == stats[seat].errors.get("rate_limited", 0)
        assert stats[seat].requests == len(player_actions(db, game.table, seat))
        assert_exactly_the_log(db, game.table, client)


async def test_an_unanswered_action_is_sent_again_after_a_drop_and_applied_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "client.db"
    async with served(db) as server, proxied(server.live) as proxy:
        game = await heads_up(server)
        client = client_for(game, 0, proxy.url)
        other = client_for(game, 1, server.live)
        async with running(client, other):
            # Play until it is seat 0's turn.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(play, other, 1, random.Random(1))
                with trio.fail_after(STEP_S):
                    await client.wait_for(my_turn)
                nursery.cancel_scope.cancel()
            legal = client.view.legal if client.view else None
            assert legal is not None
            action: ActionName = "check" if legal.check else "call"
            mark = client.offset

            # The action reaches the server, but its ack does not come back.
            proxy.hold()
            pending = client.submit(
                lambda request_id: ActRequest(id=request_id, action=action)
            )

            def acted(watcher: Client) -> bool:
                return any(
                    isinstance(item.event, ActionTaken)
                    and item.event.seat == 0
                    and item.seq > mark
                    for item in watcher.events
                )

            with trio.fail_after(STEP_S):
                await other.wait_for(acted)
            assert pending.answer is None and client.offset == mark
            proxy.cut()
            with trio.fail_after(STEP_S):
                answer = await client.answer(pending)
            await play_all([client, other], 2)
        stats = client.statistics()

    assert isinstance(answer, Ack), answer
    assert pending.sends == 2 and stats.resent == 1
    assert 1006 in stats.close_codes and stats.resumed == 1
    actions = player_actions(db, game.table, 0)
    assert len(actions) == stats.requests  # each request applied once
    first_after = next(
        item
        for item in client.events
        if item.seq > mark and isinstance(item.event, ActionTaken)
    )
    assert isinstance(first_after.event, ActionTaken)
    assert first_after.event.seat == 0 and first_after.seq <= answer.seq
    assert_exactly_the_log(db, game.table, client)


async def test_a_drop_cancelled_before_it_cuts_leaves_the_socket_alone(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "client.db") as server:
        game = await heads_up(server)
        client = client_for(game, 0, server.live)
        dropped: bool | None = None
        async with running(client):
            with trio.CancelScope() as scope:
                scope.cancel()
                dropped = await client.drop()
            assert scope.cancelled_caught
            assert client.mode == "live"
        stats = client.statistics()

    assert dropped is None
    assert (stats.drops, stats.reconnects, stats.sockets_opened) == (0, 0, 1)


async def test_a_drop_that_cut_says_so_even_when_cancelled_at_that_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a task that drops and is cancelled as it does (the caller's count
    of drops must stay the client's)."""
    scope = trio.CancelScope()
    cut = LiveConnection.cut

    def cut_and_cancel(connection: LiveConnection) -> None:
        cut(connection)
        scope.cancel()

    monkeypatch.setattr(LiveConnection, "cut", cut_and_cancel)
    async with served(tmp_path / "client.db") as server:
        game = await heads_up(server)
        client = client_for(game, 0, server.live)
        dropped: bool | None = None
        async with running(client):
            with scope:
                dropped = await client.drop()
                await trio.sleep_forever()
            with trio.fail_after(STEP_S):
                await client.wait_for(lambda c: c.statistics().resumed == 1)
        stats = client.statistics()

    assert dropped is True
    assert stats.drops == 1 and 1006 in stats.close_codes


async def test_http_reports_a_missing_table_a_bad_token_and_a_closed_port(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "client.db") as server:
        game = await heads_up(server)
        http = Http(game.http_url)
        with pytest.raises(HttpError) as missing:
            await http.events("no-such-table", None, after=0)
        with pytest.raises(HttpError) as bad_token:
            await http.events(game.table, "not-a-token", after=0)
        # Within `async with`, calls share kept-alive connections, same answers.
        async with http:
            pages = [await http.events(game.table, None, after=0) for _ in range(3)]

    assert missing.value.status == 404 and missing.value.error is not None
    assert missing.value.error.code == "no_such_table"
    assert bad_token.value.status == 401
    ending = after_poll_error(missing.value)
    assert ending is not None and ending.ending == "table_gone"
    ending = after_poll_error(bad_token.value)
    assert ending is not None and ending.ending == "seat_lost"
    # (Hand 1 is being dealt meanwhile: the pages may end further and further.)
    assert [page["events"][0]["seq"] for page in pages] == [1, 1, 1]
    assert {page["epoch"] for page in pages} == {game.seated[0].epoch}

    closed = Http(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(HttpConnectionError) as refused:
        await closed.health()
    assert isinstance(refused.value, OSError)


async def test_http_gives_up_on_a_silent_server_at_its_deadline() -> None:
    silent = trio.socket.socket()
    with silent:
        await silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        for pooled in (False, True):
            http = Http(f"http://127.0.0.1:{port}", timeout_s=0.2)
            with pytest.raises(trio.TooSlowError):
                if pooled:
                    async with http:
                        await http.health()
                else:
                    await http.health()


async def test_an_unreachable_server_is_retried_until_the_client_closes() -> None:
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)
        await trio.sleep(0)

    client = Client(
        f"http://127.0.0.1:{free_port()}",
        f"ws://127.0.0.1:{free_port()}",
        "some-table",
        backoff=Backoff(base=0.1, cap=5.0, rng=Highest()),
        sleep=recorded_sleep,
    )
    with trio.fail_after(STEP_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.run)
            await until(lambda: len(waits) >= 12, partial(trio.sleep, 0.01))
            assert client.mode == "connecting"
            client.close()
    stats = client.statistics()

    assert (client.ending, stats.mode) == ("closed", "closed")
    assert (stats.sockets_opened, stats.polls, stats.fallbacks) == (0, 0, 1)
    assert stats.events == 0 and client.problems == []
