"""pokerd's HTTP API from a client: create tables, sit down, long-poll, post.

`Http` speaks through `httpx` (on Trio via anyio). Used alone, each call has
a connection of its own; inside `async with http:` the calls share a pool of
kept-alive connections until the block ends (the `Client` polls that way).
Only plain `http://` (the server speaks no TLS itself; put a proxy in front
for that). Every call has one deadline for the whole exchange, and raises
`HttpConnectionError` when the exchange did not complete, `trio.TooSlowError`
past its deadline, and (for `json` and the helpers) `HttpError` for an
answer with an error status.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from pokerd.client.errors import ClientError, HttpConnectionError, HttpError
from pokerd.client.transcript import PageError, Received, decode_page
from pokerd.wire.protocol import MAX_BACKLOG

HTTP_TIMEOUT_S = 10.0
"""A call's deadline, from connecting to the last byte of the answer (a long
poll adds its `wait`)."""


@attrs.frozen
class Seated:
    """The answer to sitting down: the seat's token and where the log stood."""

    token: str
    seat: int
    epoch: str
    seq: int


class _Body(httpx.AsyncByteStream):
    """A request body that can be sent again (after a 307) and that leaves
    nothing to finalize when a send fails half-way.

    httpx's own wraps bytes in an async generator: one cut off by a dying
    server is left for the garbage collector, which trio warns about.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __aiter__(self) -> _Once:
        return _Once(self._data)


class _Once:
    """An async iterator of one chunk, with no generator frame."""

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _Once:
        return self

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        data, self._data = self._data, None
        return data


@attrs.frozen
class CreatedTable:
    """The answer to creating a table: its id, its log's epoch, and the
    creator token that may close it (shown once: keep it)."""

    table: str
    epoch: str
    creator_token: str


MAX_REDIRECTS = 3
"""307 redirects followed for one request (a node that does not run the
table names the one that does): a table moving twice while asked."""


def _open_client() -> httpx.AsyncClient:
    # timeout=None: `Http` puts one deadline on the whole call instead of
    # httpx's per-operation ones (5 s would cut a long poll short).
    # verify=False: only http:// URLs are accepted, so no TLS context is ever
    # used, and loading the CA bundle for one would cost 27 ms a client.
    # trust_env=False: no proxy from the environment, as the live stream's
    # socket has none either.
    return httpx.AsyncClient(timeout=None, verify=False, trust_env=False)


class Http:
    """pokerd's HTTP API at `base_url` (http://HOST[:PORT][/PREFIX])."""

    def __init__(self, base_url: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected http://HOST[:PORT], not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._pool: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        """Keep connections alive between calls until the block ends."""
        if self._pool is not None:
            raise RuntimeError("this Http is already open")
        self._pool = _open_client()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with trio.CancelScope(shield=True):
                await pool.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        token: str | None = None,
        query: dict[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, Any]:
        """The status and the JSON answer (text if it is not JSON); `raw` is a
        body sent as it is instead of `body` as JSON."""
        data = raw if raw is not None or body is None else jsonlib.dumps(body).encode()
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        try:
            with trio.fail_after(self.timeout_s if timeout_s is None else timeout_s):
                async with contextlib.AsyncExitStack() as stack:
                    pool = self._pool
                    if pool is None:
                        pool = await stack.enter_async_context(_open_client())
                    # Redirects by hand: httpx drops the Authorization header
                    # on the way to another host, and the seat token must go
                    # to the node that runs the table (docs/protocol.md).
                    for _ in range(MAX_REDIRECTS + 1):
                        request = pool.build_request(
                            method, url, content=data, headers=headers, params=query
                        )
                        if data is not None:
                            request.stream = _Body(data)
                        response = await pool.send(request)
                        location = response.headers.get("location")
                        if response.status_code != 307 or location is None:
                            break
                        url, query = location, None  # the query is in the Location
        except httpx.TransportError as error:
            raise HttpConnectionError(f"{method} {url}: {error!r}") from error
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.status_code, jsonlib.loads(response.content)
        return response.status_code, response.text

    async def json(self, method: str, path: str, **options: Any) -> Any:
        """`call`'s answer; HttpError unless its status is 2xx."""
        status, answer = await self.call(method, path, **options)
        if not 200 <= status < 300:
            raise HttpError(status, answer)
        return answer

    async def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.json("GET", "/healthz")
        return answer

    async def create_table(self, **config: Any) -> tuple[str, str]:
        """A new table with `config` (TableConfig's fields); its id and epoch."""
        created = await self.new_table(**config)
        return created.table, created.epoch

    async def new_table(self, **config: Any) -> CreatedTable:
        """A new table with `config` (TableConfig's fields), with its creator token."""
        created = await self.json("POST", "/tables", body=config)
        return CreatedTable(
            table=str(created["table"]),
            epoch=str(created["epoch"]),
            creator_token=str(created["creator_token"]),
        )

    async def close_table(self, table: str, creator_token: str) -> dict[str, Any]:
        """Close `table` with its creator token (docs/protocol.md, Closing a
        table): `{"table", "closed", "seq"}`; HttpError if refused."""
        closed: dict[str, Any] = await self.json(
            "POST", f"/tables/{table}/close", token=creator_token
        )
        return closed

    async def sit(self, table: str, seat: int, name: str, buy_in: int) -> Seated:
        seated = await self.json(
            "POST",
            f"/tables/{table}/seats",
            body={"seat": seat, "name": name, "buy_in": buy_in},
        )
        return Seated(
            token=str(seated["token"]),
            seat=int(seated["seat"]),
            epoch=str(seated["epoch"]),
            seq=int(seated["seq"]),
        )

    async def events(
        self,
        table: str,
        token: str | None,
        *,
        after: int,
        wait: float = 0.0,
        epoch: str | None = None,
    ) -> dict[str, Any]:
        """One page of `GET /tables/{id}/events` (HttpError on an error)."""
        query: dict[str, Any] = {"after": after, "wait": wait}
        if epoch is not None:
            query["epoch"] = epoch
        page: dict[str, Any] = await self.json(
            "GET",
            f"/tables/{table}/events",
            token=token,
            query=query,
            timeout_s=self.timeout_s + wait,
        )
        return page

    async def log(
        self, table: str, token: str | None, *, after: int = 0, until: int
    ) -> list[Received]:
        """The table's events after `after` up to `until`, as the token's seat
        (or a spectator) may see them, page by page, without waiting; from
        `MAX_BACKLOG` behind the table's seq at most, as far back as the
        server replays (the first is then later than `after` + 1)."""
        found: list[Received] = []
        while after < until:
            try:
                page = decode_page(await self.events(table, token, after=after))
            except PageError as error:
                raise ClientError(str(error)) from error
            if page.undecodable:
                raise ClientError(page.undecodable[0].problem())
            if not page.recovered:
                nearest = page.seq - MAX_BACKLOG
                if found or nearest <= after:
                    break  # another log, or `after` ahead of it
                after = nearest
                continue
            if not page.events:
                break
            found += [
                Received(message.seq, message.event)
                for message in page.events
                if message.seq <= until
            ]
            after = page.seq
        return found
