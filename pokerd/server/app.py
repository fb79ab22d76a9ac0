"""The HTTP API: Quart-Trio routes over a PokerService, JSON in and out.

Every error is a `protocol.Error` (`{"type": "error", "code", "message"}`)
with an HTTP status: 400 for input that does not decode, 401 for a missing or
unknown seat token, 403 for closing a table with a token not its creator's,
404 for an unknown table or hand, 409 for what the table's
rules refuse, 413 for a body over the limit, 422 for a request id used
again for another request, 503 for a table stopped or restarting. The seat
of a request is never in the request: it is the seat the
`Authorization: Bearer TOKEN` header's token holds.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
from quart import (
    Response,
    has_websocket_context,
    request,
    send_from_directory,
    websocket,
)
from quart.typing import ResponseTypes
from quart.wrappers import BaseRequestWebsocket, Request
from quart_trio import QuartTrio
from quart_trio.wrappers import TrioResponse
from werkzeug.exceptions import BadHost, BadRequest, HTTPException
from werkzeug.routing import MapAdapter

from pokerd.engine.config import MAX_SAFE_INTEGER, TableConfig
from pokerd.ops.settings import DEFAULTS
from pokerd.server.live import PATH as LIVE_PATH
from pokerd.server.service import PokerService, ServiceError
from pokerd.wire import codec
from pokerd.wire.protocol import MAX_POLL_WAIT_S, Error, ErrorCode

T = TypeVar("T")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The web pages' static files (HTML, CSS, JavaScript modules), served as is."""

ICON_MAX_AGE_S = 86_400
"""How long a browser may keep the icon without asking again (a day)."""
ORIGIN = re.compile(r"wss?://[A-Za-z0-9.:\[\]-]+")
"""A live stream's origin fit to name in a Content-Security-Policy."""
HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
    500: ErrorCode.INTERNAL,
}


class _NoHost(MapAdapter):
    """The routes of a request whose Host header werkzeug cannot read: none,
    and the answer says why (400, `bad_request`)."""

    def match(self, *args: Any, **kwargs: Any) -> Any:
        raise BadRequest("the Host header names no host")


class _Response(TrioResponse):
    """Quart-Trio's response, serving a range from the end (`bytes=-N`) whole:
    Quart passes the suffix's negative start on to werkzeug, whose
    ContentRange then fails an assertion (it was HTTP 500 and a traceback).
    RFC 9110 lets a server ignore a Range header."""

    async def _process_range_request(
        self,
        request: Request,
        complete_length: int | None = None,
        accept_ranges: str | None = None,
    ) -> bool:
        asked = request.range
        if asked is not None and any(start < 0 for start, _ in asked.ranges):
            return False
        return await super()._process_range_request(
            request, complete_length, accept_ranges
        )


class _App(QuartTrio):
    """Quart-Trio, answering a Host header that names no host as it answers
    any bad request: werkzeug cannot put "." or "a..b" in IDNA form, and
    Quart binds the routes to the host before any error handler can answer
    (it was HTTP 500 and a traceback)."""

    response_class = _Response

    def create_url_adapter(
        self, request: BaseRequestWebsocket | None
    ) -> MapAdapter | None:
        try:
            return super().create_url_adapter(request)
        except BadHost:
            if request is None:
                raise
            return _NoHost(
                self.url_map,
                "localhost",
                request.root_path,
                None,
                request.scheme,
                request.path,
                request.method,
            )


@attrs.frozen(kw_only=True)
class SitDownBody:
    """The body of `POST /tables/{id}/seats` (the token comes with the answer)."""

    seat: int
    name: str
    buy_in: int


def create_app(
    service: PokerService,
    *,
    max_body_bytes: int = DEFAULTS.max_frame_bytes,
    live_url: str | None = None,
) -> QuartTrio:
    """The API over `service`, which its owner runs (see pokerd.server.serve);
    `live_url` is where the live stream listens if it has a port of its own,
    for `/healthz` (None: it shares this API's port)."""
    app = _App(__name__, static_folder=str(WEB_DIR), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    missing_page = (WEB_DIR / "missing.html").read_bytes()
    icon = (WEB_DIR / "favicon.ico").read_bytes()
    # A path is taken as it is: werkzeug would redirect `/tables//hands` to
    # `/tables/hands`, another resource (the view of a table "hands").
    app.url_map.merge_slashes = False

    def answer(data: Any, status: int = 200) -> Response:
        return app.response_class(
            codec.compact_json(data),
            status=status,
            content_type="application/json",
        )

    def error(message: Error, status: int) -> Response:
        service.metrics.errors.inc(message.code, "http")
        return answer(codec.unstructure_message(message), status)

    @app.after_request
    async def protect(response: Response) -> Response:
        # Every answer: its content type is what it says (no sniffing), and
        # it is not to be shown in another site's frame.
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        if response.mimetype == "text/html":
            live = _as_seen_by_caller(live_url, request.host, request.scheme == "https")
            response.headers["Content-Security-Policy"] = _page_policy(live)
        return response

    @app.after_websocket
    async def protect_refusal(response: ResponseTypes | None) -> ResponseTypes | None:
        # A WebSocket upgrade this API refuses is answered over HTTP.
        if response is not None:
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(ServiceError)
    async def service_error(failure: ServiceError) -> Response:
        response = error(failure.error, failure.status)
        if failure.moved_to:
            # The same request, at the node that runs the table.
            response.headers["Location"] = failure.moved_to + _path_and_query()
        if failure.retry_after_s is not None:
            response.headers["Retry-After"] = str(failure.retry_after_s)
        return response

    @app.errorhandler(HTTPException)
    async def http_error(failure: HTTPException) -> Response:
        # A route not found is kept on the request, with a traceback whose
        # frames hold the request: a cycle, frozen by the collector while the
        # request runs and then left for a sweep (docs/design.md, "The
        # garbage collector"). Dropped, the request is freed when it ends.
        (websocket if has_websocket_context() else request).routing_exception = None
        status = failure.code or 500
        if has_websocket_context():
            # The API has no WebSocket route: whatever werkzeug says of the
            # path (not found; for an HTTP route's, a mismatch or a method
            # not allowed), there is no stream here.
            reason = _no_stream_here(websocket.path, live_url)
            return error(Error(code=ErrorCode.NO_SUCH_ENDPOINT, message=reason), 404)
        message = failure.description or failure.name
        if status == 413:
            message = f"the body is over {max_body_bytes} bytes"
        code = HTTP_CODES.get(status, f"http_{status}")
        return error(Error(code=code, message=message), status)

    @app.get("/healthz")
    async def healthz() -> Response:
        return answer(
            {
                "ok": True,
                "tables": service.running_tables(),
                "live": _as_seen_by_caller(
                    live_url, request.host, request.scheme == "https"
                ),
            }
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return app.response_class(
            service.metrics.render(),
            content_type="text/plain; version=0.0.4; charset=utf-8",
        )

    @app.post("/tables")
    async def create_table() -> Response:
        config = _decode(_object(await _body()), TableConfig)
        return answer(await service.create_table(config), 201)

    @app.get("/tables")
    async def list_tables() -> Response:
        return answer(await service.list_tables())

    @app.get("/")
    async def lobby() -> Response:
        return await _page("lobby.html")

    @app.get("/lobby")
    async def lobby_changes() -> Response:
        after = _query_int("after")
        wait = _query_float("wait")
        if not 0 <= wait <= MAX_POLL_WAIT_S:
            raise ServiceError(
                400, ErrorCode.BAD_REQUEST, f"wait is 0 to {MAX_POLL_WAIT_S:g} seconds"
            )
        board = request.args.get("lobby")
        return answer(await service.lobby_changes(board, after, wait))

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        # From memory: 728 bytes, asked for by every page a browser opens;
        # a file body left open by a browser that went away mid-answer was
        # a ResourceWarning.
        response = app.response_class(icon, content_type="image/vnd.microsoft.icon")
        response.cache_control.public = True
        response.cache_control.max_age = ICON_MAX_AGE_S
        return response

    @app.get("/tables/<table_id>")
    async def table_view(table_id: str) -> Response:
        # One URL for the table: a browser asking for HTML gets the page,
        # which asks for the JSON view with Accept: application/json.
        response: Response
        if _prefers_html():
            if not await service.table_exists(table_id):
                # A person followed a dead link: a page that says so, and
                # leads back to the lobby (the JSON answer stays 404's error).
                response = app.response_class(
                    missing_page,
                    status=404,
                    content_type="text/html; charset=utf-8",
                )
                response.cache_control.no_cache = True
            else:
                response = await _page("table.html")
        else:
            response = answer(await service.table_view(table_id, _token()))
        response.vary.add("Accept")
        return response

    @app.post("/tables/<table_id>/seats")
    async def sit_down(table_id: str) -> Response:
        body = _decode(_object(await _body()), SitDownBody)
        seated = await service.sit_down(
            table_id, seat=body.seat, name=body.name, buy_in=body.buy_in
        )
        return answer(seated, 201)

    @app.post("/tables/<table_id>/close")
    async def close_table(table_id: str) -> Response:
        return answer(await service.close_table(table_id, _token()))

    @app.post("/tables/<table_id>/requests")
    async def seat_request(table_id: str) -> Response:
        token = _token()
        data = await _body()
        try:
            decoded = codec.structure_seat_request(data)
        except codec.DecodeError as failure:
            raise ServiceError(400, ErrorCode.BAD_REQUEST, str(failure)) from None
        answered = await service.request(table_id, token, decoded)
        if isinstance(answered.message, Error):
            return error(answered.message, answered.status)
        return answer(codec.unstructure_message(answered.message), answered.status)

    @app.get("/tables/<table_id>/events")
    async def events(table_id: str) -> Response:
        after = _query_int("after")
        wait = _query_float("wait")
        if not 0 <= wait <= MAX_POLL_WAIT_S:
            raise ServiceError(
                400, ErrorCode.BAD_REQUEST, f"wait is 0 to {MAX_POLL_WAIT_S:g} seconds"
            )
        page = await service.events(
            table_id,
            _token(),
            after=after,
            wait=wait,
            epoch=request.args.get("epoch"),
        )
        return answer(page)

    @app.get("/tables/<table_id>/hands")
    async def hands(table_id: str) -> Response:
        return answer(await service.hands(table_id))

    @app.get("/tables/<table_id>/hands/<int:number>")
    async def hand(table_id: str, number: int) -> Response:
        return answer(await service.hand(table_id, number, _token()))

    @app.get("/tables/<table_id>/hands/<int:number>/phh")
    async def hand_phh(table_id: str, number: int) -> Response:
        text = await service.hand_phh(table_id, number)
        return app.response_class(text, content_type="text/plain; charset=utf-8")

    return app


async def _page(name: str) -> Response:
    """One of the web pages (their scripts and styles are under /static)."""
    response = await send_from_directory(WEB_DIR, name)
    response.cache_control.no_cache = True
    return response


def _page_policy(live: str) -> str:
    """The web pages' Content-Security-Policy: their scripts, styles and
    requests are this server's own (`pokerd/web/`: no inline script or style
    attribute, no other site), and no site may frame them.

    The live stream's origin is named besides 'self': 'self' covers ws: to
    the page's own host and port only in browsers that follow CSP 3 (Safari
    did not), and with `live_port` the stream is on another port. A Host
    header that makes no plain origin is left out (the page then falls back
    to long polls).
    """
    connect = "'self'" if ORIGIN.fullmatch(live) is None else f"'self' {live}"
    return (
        f"default-src 'self'; connect-src {connect}; object-src 'none';"
        " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _prefers_html() -> bool:
    """Whether the request's Accept header ranks text/html above JSON (a
    browser's navigation does; API clients send */* or nothing, or JSON)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def _as_seen_by_caller(live_url: str | None, host: str, secure: bool) -> str:
    """Where a caller that reached this API at `host` (over TLS: `secure`)
    reaches the live stream: at the same host and port, when they share a
    port; else `live_url`, with a wildcard host (0.0.0.0, ::) replaced by the
    host the caller used."""
    if live_url is None:
        return f"{'wss' if secure else 'ws'}://{host}"
    parts = urlsplit(live_url)
    if parts.hostname not in ("0.0.0.0", "::") or parts.port is None:
        return live_url
    name = urlsplit(f"//{host}").hostname or "127.0.0.1"
    name = f"[{name}]" if ":" in name else name
    return f"{parts.scheme}://{name}:{parts.port}"


def _no_stream_here(path: str, live_url: str | None) -> str:
    """Why a WebSocket upgrade that reached the HTTP API finds no stream: it is
    not the live stream's, or it asked for it after other requests on its
    kept-alive connection, which pokerd's listeners gave to the HTTP API
    (docs/design.md, "One port"), or the stream has a port of its own."""
    if live_url is not None:
        where = _as_seen_by_caller(live_url, websocket.host, websocket.scheme == "wss")
        return f"no stream at {path} on this port: the live stream is at {where}"
    if LIVE_PATH.fullmatch(path):
        return (
            "the live stream is served to a connection whose first request "
            "asks for it: open a new connection"
        )
    return f"no stream at {path}"


async def _body() -> Any:
    """The request's body as JSON (413 past the limit, 400 if not JSON)."""
    raw = await request.get_data(cache=False, as_text=False)
    try:
        return codec.parse_json(raw)
    except codec.DecodeError as failure:
        raise ServiceError(
            400, ErrorCode.BAD_REQUEST, f"the body is {failure}"
        ) from None


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ServiceError(
            400,
            ErrorCode.BAD_REQUEST,
            f"expected a JSON object, not {type(data).__name__}",
        )
    return data


def _decode(data: dict[str, Any], cls: type[T]) -> T:
    try:
        return codec.structure(data, cls)
    except codec.DecodeError as failure:
        raise ServiceError(400, ErrorCode.BAD_REQUEST, str(failure)) from None


def _token() -> str | None:
    """The bearer token of the request, or None without an Authorization header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ServiceError(
            401, ErrorCode.BAD_TOKEN, "expected the header Authorization: Bearer TOKEN"
        )
    return token


def _query_int(name: str) -> int:
    """A whole number from the query string, within what JSON numbers hold
    (+-(2**53 - 1), docs/protocol.md, Numbers); 0 if it is not there."""
    text = request.args.get(name)
    if text is None:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise ServiceError(
            400,
            ErrorCode.BAD_REQUEST,
            f"{name} must be a whole number, not {text[:40]!r}",
        ) from None
    if abs(value) > MAX_SAFE_INTEGER:
        raise ServiceError(
            400,
            ErrorCode.BAD_REQUEST,
            f"{name} is at most 2**53 - 1 ({MAX_SAFE_INTEGER}), like every number",
        )
    return value


def _query_float(name: str) -> float:
    text = request.args.get(name)
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ServiceError(
            400, ErrorCode.BAD_REQUEST, f"{name} must be a number, not {text!r}"
        )
    return value


def _path_and_query() -> str:
    """The request's path and query, as the client sent them."""
    path = request.full_path
    return path[:-1] if path.endswith("?") else path
