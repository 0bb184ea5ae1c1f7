"""lamina's HTTP/1.1 server: httptools parses, the app is called directly, and each
response leaves in a single write.

It exists because the front door is the hot path of every invocation: a generic ASGI server
costs a message dict per event and writes the status line and the body separately, which on
a small machine doubles the wake-ups of every client. Requests on one connection are served
in order; idle keep-alive connections are closed after `keep_alive_s`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import httptools

log = logging.getLogger("lamina.http")

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


class HttpRequest:
    __slots__ = ("method", "target", "headers", "body", "http_version", "keep_alive", "server", "client")

    def __init__(self) -> None:
        self.method = ""
        self.target = b""  # path and query as sent
        self.headers: dict[str, str] = {}
        self.body = b""
        self.http_version = "1.1"
        self.keep_alive = True
        self.server: tuple[str, int] = ("", 0)
        self.client: tuple[str, int] | None = None


class HttpResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def encode_response(response: HttpResponse, keep_alive: bool) -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, b"Unknown"))]
    for name, value in response.headers:
        parts += (name, b": ", value, b"\r\n")
    body = response.body
    if response.status in (204, 304) or 100 <= response.status < 200:
        body = b""  # these never carry a body: bytes sent anyway would corrupt the next response
    else:
        parts.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.request: HttpRequest | None = None
        self.header_name = b""
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.ready: list[HttpRequest] = []  # parsed, waiting for the one before them
        self.serving: asyncio.Task | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.closing = False

    # -- transport ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        if self.idle_timer:
            self.idle_timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.idle_timer:
            self.idle_timer.cancel()
            self.idle_timer = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, b"malformed HTTP request")
        except _TooLarge:
            self._fail(413, b"request body too large")

    def _fail(self, status: int, message: bytes) -> None:
        if self.transport and not self.transport.is_closing():
            self.transport.write(encode_response(HttpResponse(status, [(b"content-type", b"text/plain")], message),
                                                 keep_alive=False))
            self.transport.close()
        self.closing = True

    def _arm_idle_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self.idle_timer = loop.call_later(self.server.keep_alive_s, self._idle)

    def _idle(self) -> None:
        if self.transport and not self.serving and not self.ready:
            self.transport.close()

    def shutdown(self) -> None:
        """Close once idle; the request being served (if any) still gets its response."""
        self.closing = True
        if self.transport and not self.serving:
            self.transport.close()

    # -- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = HttpRequest()
        self.body_parts, self.body_size = [], 0

    def on_url(self, url: bytes) -> None:
        assert self.request is not None
        self.request.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.request is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.request.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        request.method = self.parser.get_method().decode()
        request.http_version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        request.server = self.server.address
        request.client = self.transport.get_extra_info("peername")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.server.max_body:
            raise _TooLarge()
        if request.headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.server.max_body:
            raise _TooLarge()
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        request = self.request
        assert request is not None and self.transport is not None
        request.body = b"".join(self.body_parts)
        self.body_parts = []
        self.request = None
        self.ready.append(request)
        if self.serving is None:
            self.serving = asyncio.get_running_loop().create_task(self._serve())
        if len(self.ready) > 8:  # a client pipelining far ahead waits for us
            self.transport.pause_reading()

    # -- serving ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        assert self.transport is not None
        try:
            while self.ready and not self.transport.is_closing():
                request = self.ready.pop(0)
                self.server.in_flight += 1
                try:
                    response = await self.server.handler(request)
                except Exception:
                    log.exception("the request handler failed")
                    response = HttpResponse(500, [(b"content-type", b"text/plain")], b"internal error")
                finally:
                    self.server.in_flight -= 1
                keep_alive = request.keep_alive and not self.closing
                if self.transport.is_closing():
                    return
                self.transport.write(encode_response(response, keep_alive))
                if not keep_alive:
                    self.transport.close()
                    return
                if len(self.ready) <= 8:
                    self.transport.resume_reading()
        finally:
            self.serving = None
            if self.transport is not None and not self.transport.is_closing():
                if self.closing:
                    self.transport.close()
                else:
                    self._arm_idle_timer()


class _TooLarge(Exception):
    pass


class HttpServer:
    def __init__(self, handler: Handler, *, max_body: int, keep_alive_s: float = 75.0) -> None:
        self.handler = handler
        self.max_body = max_body
        self.keep_alive_s = keep_alive_s
        self.connections: set[_Connection] = set()
        self.in_flight = 0
        self.address: tuple[str, int] = ("", 0)

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
        server = await loop.create_server(lambda: _Connection(self), host, port, backlog=2048, reuse_address=True)
        self.address = (host, port)
        log.info("listening on http://%s:%d", host, port)
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
