"""The long-poll transport: a table's events page by page over HTTP, and seat
requests posted one by one (`GET /tables/{id}/events`, `POST .../requests`)."""

from __future__ import annotations

import attrs

from pokerd.client.errors import ClientError
from pokerd.client.http import Http
from pokerd.client.transcript import (
    EventsPage,
    PageError,
    decode_page,
    decode_view_page,
)
from pokerd.wire import codec
from pokerd.wire.protocol import Error, SeatRequest, ServerMessage


@attrs.frozen
class LongPoll:
    """One viewer's polling of one table through `http`. Calls raise what
    `Http`'s do (HttpError, HttpConnectionError, trio.TooSlowError), and
    ClientError for an answer that is not a page."""

    http: Http
    table: str
    token: str | None

    async def page(self, *, epoch: str | None, after: int, wait: float) -> EventsPage:
        """The events after `after` in log `epoch`, waiting up to `wait` seconds
        for one; without an epoch, the viewer's view of now (a fresh start)."""
        try:
            if epoch is None:
                return decode_view_page(
                    await self.http.json(
                        "GET", f"/tables/{self.table}", token=self.token
                    )
                )
            return decode_page(
                await self.http.events(
                    self.table, self.token, after=after, wait=wait, epoch=epoch
                )
            )
        except PageError as error:
            raise ClientError(str(error)) from error

    async def post(self, request: SeatRequest) -> ServerMessage:
        """The answer to `request`: its ack or error (an error status's body,
        or `http_STATUS` if that is not a protocol message), always naming
        the request's id."""
        status, body = await self.http.call(
            "POST",
            f"/tables/{self.table}/requests",
            body=codec.unstructure_message(request),
            token=self.token,
        )
        try:
            answer = codec.structure_server_message(body)
        except codec.DecodeError:
            answer = Error(code=f"http_{status}", message=str(body))
        if isinstance(answer, Error) and answer.id is None:
            answer = attrs.evolve(answer, id=request.id)
        return answer
