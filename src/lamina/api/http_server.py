"""lamina's HTTP/1.1 server: httptools parses, the app is called directly, and each
response leaves in a single write.

It exists because the front door is the hot path of every invocation: a generic ASGI server
costs a message dict per event and writes the status line and the body separately, which on
a small machine doubles the wake-ups of every client.

What one client can hold is bounded:
- requests on a connection are served in order, and the connection is not read while one is
  being served, so at most one request (and what one read brings) is buffered per connection;
- a request's body is refused (`Admission.body_limit`) as soon as its head, or the chunks
  received so far, say it is larger than its operation accepts;
- one timer per connection: a request head must arrive within `header_timeout_s`, a body
  must keep arriving (each read restarts `body_timeout_s`), and an idle keep-alive
  connection is closed after `keep_alive_s`;
- a client address holds at most `max_per_client` connections; more are answered with
  `Admission.too_many_connections` and closed.

A refused request is answered, then the connection is half-closed and what the client still
sends is read and dropped for a moment, so that its unread bytes do not make the kernel reset
the connection before the client has read the answer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

import httptools

from lamina.deadline import Deadline

log = logging.getLogger("lamina.http")

# Every status line, made once.
_STATUS_LINES = {status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus}
_CONNECTION_CLOSE = b"connection: close\r\n"
# Methods as httptools gives them, and as handlers see them.
_METHODS: dict[bytes, str] = {}
# How long a refused connection is drained before it is closed.
LINGER_S = 2.0
# The largest request line and headers taken (SigV4-signed API requests need a few KB).
MAX_HEAD_BYTES = 64 << 10


class HttpRequest:
    __slots__ = ("method", "target", "headers", "body", "http_version", "keep_alive", "server", "client", "route")

    def __init__(self) -> None:
        self.method = ""
        self.target = b""  # path and query as sent
        self.headers: dict[str, str] = {}
        self.body = b""
        self.http_version = "1.1"
        self.keep_alive = True
        self.server: tuple[str, int] = ("", 0)
        self.client: tuple[str, int] | None = None
        self.route: Any = None  # what `Admission.body_limit` learned from the head, for the handler


class HttpResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class Admission(Protocol):
    """What the application decides from a request head, before the body is read."""

    def body_limit(self, request: HttpRequest) -> int:
        """The largest body this request may carry (method, target and headers are known)."""

    def body_too_large(self, request: HttpRequest, size: int) -> HttpResponse:
        """The answer to a request whose body is (at least) `size` bytes, over its limit."""

    def too_many_connections(self, client: str, limit: int) -> HttpResponse:
        """The answer to a connection over the per-client cap."""


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, [(b"content-type", b"text/plain")], message.encode())


class FixedAdmission:
    """One body limit for every request, plain-text refusals."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body

    def body_limit(self, request: HttpRequest) -> int:
        return self.max_body

    def body_too_large(self, request: HttpRequest, size: int) -> HttpResponse:
        return _text(413, f"request body too large: at most {self.max_body} bytes")

    def too_many_connections(self, client: str, limit: int) -> HttpResponse:
        return _text(429, f"too many connections from {client}: at most {limit}")


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 20.0
    body_timeout_s: float = 20.0
    keep_alive_s: float = 75.0
    max_per_client: int = 2048


def encode_response(response: HttpResponse, keep_alive: bool) -> bytes:
    status = response.status
    line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status
    head = b"".join([b"%s: %s\r\n" % (name, value) for name, value in response.headers])
    if status in (204, 304) or 100 <= status < 200:
        # These never carry a body: bytes sent anyway would corrupt the next response.
        return b"%s%s%s\r\n" % (line, head, b"" if keep_alive else _CONNECTION_CLOSE)
    body = response.body
    return b"%s%scontent-length: %d\r\n%s\r\n%s" % (line, head, len(body), b"" if keep_alive else _CONNECTION_CLOSE,
                                                       body)


# What a connection's timer is counting down to.
_HEAD, _BODY, _IDLE, _LINGER = "head", "body", "idle", "linger"


_HEAD_TOO_LARGE = _text(431, f"the request head is larger than {MAX_HEAD_BYTES} bytes")


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = ""  # the peer's address, as counted for the per-client cap
        self.peer: tuple[str, int] | None = None  # as the transport gives it, for the handler
        self.counted = False
        self.request: HttpRequest | None = None  # being parsed
        self.in_body = False
        self.head_size = 0
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.body_limit = 0
        self.ready: list[HttpRequest] = []  # parsed, waiting for the one before them
        self.serving: asyncio.Task | None = None
        # One lazily moved timer per connection: a transition only records what the client
        # owes and by when.
        self.loop = asyncio.get_running_loop()
        self.deadline = Deadline(self.loop, self._timer_fired)
        self.timer_for: str | None = None  # what the client owes: _HEAD, _BODY, _IDLE, _LINGER or nothing
        self.paused = False  # not reading: the client sent more while a request was being served
        self.write_blocked = False  # the client is not reading its answers: nor do we read its requests
        self.closing = False
        self.refused = False  # answered with an error: what the client still sends is dropped

    # -- transport ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        server = self.server
        server.connections.add(self)
        self.peer = peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if peer else ""
        count = server.per_client.get(self.client, 0)
        if count >= server.limits.max_per_client:
            self._refuse(server.admission.too_many_connections(self.client, server.limits.max_per_client))
            return
        server.per_client[self.client] = count + 1
        self.counted = True
        self._set_timer(_HEAD, server.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server.connections.discard(self)
        if self.counted:
            self.counted = False
            left = server.per_client[self.client] - 1
            if left:
                server.per_client[self.client] = left
            else:
                del server.per_client[self.client]
        self.closing = True
        self.timer_for = None
        self.deadline.close()

    def pause_writing(self) -> None:
        self.write_blocked = True

    def resume_writing(self) -> None:
        self.write_blocked = False
        if self.paused and self.serving is None and self.transport is not None and not self.refused:
            self.paused = False
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if (self.serving is not None or self.write_blocked) and not self.paused:
            # Pipelining: read no further until the request in progress is answered, so
            # what waits is in the socket, not here.
            self.transport.pause_reading()  # type: ignore[union-attr]
            self.paused = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(_text(400, "upgrades are not supported"))
            return
        except httptools.HttpParserError as error:
            # httptools wraps what a callback raises (as HttpParserCallbackError).
            cause = error.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.response)
            elif cause is not None:
                log.error("reading a request failed", exc_info=cause)
                self._refuse(_text(500, "internal error"))
            else:
                self._refuse(_text(400, "malformed HTTP request"))
            return
        self._watch_client()

    def _watch_client(self) -> None:
        """Point the timer at what the client owes us now: nothing while a request is being
        served; else the rest of a body (progress restarts it), a head (from its first byte,
        or from the connection's start), or the next request of an idle connection."""
        limits = self.server.limits
        if self.serving is not None or self.refused:
            self._set_timer(None)
        elif self.request is None:
            self._set_timer(_IDLE, limits.keep_alive_s)
        elif self.in_body:
            self._set_timer(_BODY, limits.body_timeout_s)
        elif self.timer_for != _HEAD:
            self._set_timer(_HEAD, limits.header_timeout_s)

    def _set_timer(self, what: str | None, seconds: float = 0.0) -> None:
        self.timer_for = what
        if what is None:
            self.deadline.stop()
        else:
            self.deadline.start(seconds)

    def _timer_fired(self) -> None:
        what = self.timer_for
        if what is None or self.transport is None or self.transport.is_closing():
            return
        self._timed_out(what)

    def _timed_out(self, what: str) -> None:
        if what == _HEAD or what == _BODY:
            log.debug("closing a connection from %s: the request %s did not arrive in time", self.client, what)
            self._refuse(_text(408, f"the request {what} did not arrive in time"))
        elif not self.serving and not self.ready:
            self.transport.close()  # idle, or done lingering

    def _refuse(self, response: HttpResponse) -> None:
        """Answer, stop reading requests, and close once the client has had time to read it.
        While a request is being served, its answer comes first and then the connection closes."""
        self.refused = self.closing = True
        if self.serving is not None:
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode_response(response, keep_alive=False))
        if transport.can_write_eof():
            transport.write_eof()
        if self.paused:
            transport.resume_reading()  # drain (and drop) the rest
            self.paused = False
        self._set_timer(_LINGER, LINGER_S)

    def shutdown(self) -> None:
        """Close once idle; the request being served (if any) still gets its response."""
        self.closing = True
        if self.transport and not self.serving:
            self.transport.close()

    # -- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = HttpRequest()
        self.in_body = False
        self.head_size = 0
        self.body_parts, self.body_size = [], 0

    def on_url(self, url: bytes) -> None:
        assert self.request is not None
        self.request.target += url
        self.head_size += len(url)
        if self.head_size > MAX_HEAD_BYTES:
            raise _Refused(_HEAD_TOO_LARGE)

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.request is not None
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEAD_BYTES:
            raise _Refused(_HEAD_TOO_LARGE)
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.request.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        parser = self.parser
        method = parser.get_method()
        request.method = _METHODS.get(method) or _METHODS.setdefault(method, method.decode())
        request.http_version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()
        request.server = self.server.address
        request.client = self.peer
        admission = self.server.admission
        self.body_limit = admission.body_limit(request)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.body_limit:
            raise _Refused(admission.body_too_large(request, int(length)))
        self.in_body = True
        if request.headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.body_limit:  # a chunked body, or more than its Content-Length said
            assert self.request is not None
            raise _Refused(self.server.admission.body_too_large(self.request, self.body_size))
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        request.body = b"".join(self.body_parts)
        self.body_parts = []
        self.request = None
        self.in_body = False
        self.ready.append(request)
        if self.serving is None:
            self.serving = self.loop.create_task(self._serve())

    # -- serving ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        transport, server, ready = self.transport, self.server, self.ready
        assert transport is not None
        try:
            while ready and not transport.is_closing():
                request = ready.pop(0)
                server.in_flight += 1
                try:
                    response = await server.handler(request)
                except Exception:
                    log.exception("the request handler failed")
                    response = _text(500, "internal error")
                finally:
                    server.in_flight -= 1
                keep_alive = request.keep_alive and not self.closing
                if transport.is_closing():
                    return
                transport.write(encode_response(response, keep_alive))
                if not keep_alive:
                    transport.close()
                    return
        finally:
            self.serving = None
            transport = self.transport
            if transport is not None and not transport.is_closing():
                if self.closing:
                    transport.close()
                else:
                    if self.paused and not self.write_blocked:
                        self.paused = False
                        transport.resume_reading()
                    self._watch_client()


class HttpServer:
    def __init__(self, handler: Handler, *, admission: Admission,
                 limits: ConnectionLimits | None = None) -> None:
        self.handler = handler
        self.admission = admission
        self.limits = limits or ConnectionLimits()
        self.connections: set[_Connection] = set()
        self.per_client: dict[str, int] = {}  # open connections by client address
        self.in_flight = 0
        self.address: tuple[str, int] = ("", 0)

    async def listen(self, host: str, port: int) -> asyncio.Server:
        """Accept connections on host:port (`serve` does, and stops them)."""
        server = await asyncio.get_running_loop().create_server(
            lambda: _Connection(self), host, port, backlog=2048, reuse_address=True)
        self.address = (host, port)
        log.info("listening on http://%s:%d", host, port)
        return server

    async def serve(self, host: str, port: int, *, on_startup: Callable[[], Awaitable[None]] | None = None,
                    on_shutdown: Callable[[], Awaitable[None]] | None = None, grace_s: float = 10.0) -> None:
        """Start up, listen until SIGTERM or SIGINT, then stop accepting, let requests in
        progress finish (up to `grace_s`), and shut down."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if on_startup:
            await on_startup()
        server = await self.listen(host, port)
        try:
            await stop.wait()
        finally:
            server.close()
            for connection in list(self.connections):
                connection.shutdown()
            deadline = loop.time() + grace_s
            while self.in_flight and loop.time() < deadline:
                await asyncio.sleep(0.05)
            for connection in list(self.connections):
                if connection.transport:
                    connection.transport.close()
            if on_shutdown:
                await on_shutdown()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
