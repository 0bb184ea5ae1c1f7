"""The application: one front door for every service lamina speaks.

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

from lamina.api.http_server import HttpRequest, HttpResponse
from lamina.api.sigv4 import Authenticator, Caller
from lamina.context import RequestContext
from lamina.errors import AwsError, ServiceException

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
    """The request handler behind lamina's HTTP server. `internal` handles `/_lamina/*` without
    SigV4; `json_services` maps an `X-Amz-Target` prefix to its adapter; everything else goes
    to `rest`. Every response carries `x-amzn-RequestId`."""

    def __init__(self, authenticator: Authenticator, rest: Handler, internal: Handler,
                 json_services: dict[str, Handler] | None = None) -> None:
        self.authenticator = authenticator
        self.rest = rest
        self.internal = internal
        self.json_services = json_services or {}

    async def __call__(self, http: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            response = await self._handle(http, request_id)
        except AwsError as error:
            response = error_response(error)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            response = error_response(ServiceException("An internal error occurred in lamina."))
        response.headers.append((b"x-amzn-requestid", request_id.encode()))
        return HttpResponse(response.status, response.headers, response.body)

    async def _handle(self, http: HttpRequest, request_id: str) -> Response:
        headers = http.headers
        target = http.target.decode("latin-1")
        raw_path, _, raw_query = target.partition("?")
        host = headers.get("host") or f"{http.server[0]}:{http.server[1]}"
        request = Request(http.method, raw_path, raw_query, headers, http.body, request_id, f"http://{host}")
        if raw_path.startswith("/_lamina/"):
            return await self.internal(request)
        request.caller = self.authenticator.authenticate(request.method, raw_path, raw_query, headers, http.body)
        amz_target = headers.get("x-amz-target")
        if amz_target:
            service = self.json_services.get(amz_target.partition(".")[0])
            if service is not None:
                return await service(request)
        return await self.rest(request)
