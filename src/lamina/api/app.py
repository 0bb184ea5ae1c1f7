"""The ASGI application: one front door for every service lamina speaks.

Each request is authenticated (SigV4), routed to a protocol adapter by what it is (the
internal `/_lamina/` routes, a JSON-protocol service named by `X-Amz-Target`, or the Lambda
REST API by path), and answered with `x-amzn-RequestId` on every response.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from lamina.api.sigv4 import Authenticator, Caller
from lamina.context import RequestContext
from lamina.errors import AwsError, RequestEntityTooLargeException, ServiceException

log = logging.getLogger("lamina.api")

# The largest body any operation accepts: a 50 MB zip, base64-encoded, in JSON.
MAX_BODY = 69_905_067


class Request:
    """What the protocol adapters need of an HTTP request."""

    __slots__ = ("method", "raw_path", "raw_query", "headers", "body", "caller", "request_id", "base_url")

    def __init__(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes,
                 request_id: str, base_url: str) -> None:
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.headers = headers
        self.body = body
        self.request_id = request_id
        self.base_url = base_url
        self.caller: Caller | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def context(self) -> RequestContext:
        assert self.caller is not None
        return RequestContext(self.caller.account_id, self.caller.region, self.request_id, self.base_url)


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> None:
        self.status = status
        self.headers = headers or []
        self.body = body

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, [(b"content-type", b"application/json")], orjson.dumps(document))


Handler = Callable[[Request], Awaitable[Response]]


def error_response(error: AwsError) -> Response:
    response = Response.json(error.status, error.body())
    response.headers.append((b"x-amzn-errortype", error.code.encode()))
    response.headers.extend((k.encode(), v.encode()) for k, v in error.headers.items())
    return response


class App:
    """ASGI entry point. `internal` handles `/_lamina/*` without SigV4; `json_services` maps an
    `X-Amz-Target` prefix to its adapter; everything else goes to `rest`."""

    def __init__(self, authenticator: Authenticator, rest: Handler, internal: Handler,
                 json_services: dict[str, Handler] | None = None,
                 on_startup: Callable[[], Awaitable[None]] | None = None,
                 on_shutdown: Callable[[], Awaitable[None]] | None = None) -> None:
        self.authenticator = authenticator
        self.rest = rest
        self.internal = internal
        self.json_services = json_services or {}
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = str(uuid.uuid4())
        try:
            response = await self._handle(scope, receive, request_id)
        except AwsError as error:
            response = error_response(error)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            response = error_response(ServiceException("An internal error occurred in lamina."))
        headers = response.headers
        headers.append((b"x-amzn-requestid", request_id.encode()))
        body = response.body
        if response.status in (204, 304):
            body = b""  # these responses have no body; bytes sent anyway would corrupt the next response
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: dict, receive: Callable, request_id: str) -> Response:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw_path.decode("latin-1").partition("?")[0]
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
            raise RequestEntityTooLargeException(f"Request must be smaller than {MAX_BODY} bytes")
        body = await _read_body(receive)
        host = headers.get("host") or f"{scope['server'][0]}:{scope['server'][1]}"
        request = Request(scope["method"], raw_path, scope["query_string"].decode("latin-1"), headers, body,
                          request_id, f"{scope.get('scheme', 'http')}://{host}")
        if raw_path.startswith("/_lamina/"):
            return await self.internal(request)
        request.caller = self.authenticator.authenticate(request.method, raw_path, request.raw_query,
                                                         headers, body)
        target = headers.get("x-amz-target")
        if target:
            prefix = target.partition(".")[0]
            service = self.json_services.get(prefix)
            if service is not None:
                return await service(request)
        return await self.rest(request)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        """The server starts listening only after start-up completed, and shuts the services
        down (on SIGTERM) before the process exits."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.on_startup:
                        await self.on_startup()
                except Exception as e:
                    log.exception("lamina failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self.on_shutdown:
                        await self.on_shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Callable) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestEntityTooLargeException(f"Request must be smaller than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
