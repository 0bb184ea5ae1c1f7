"""The application: one front door for every service lamina speaks.

Each request is routed as soon as its head is in (the internal `/_lamina/` routes, a
JSON-protocol service named by `X-Amz-Target`, a plain Invoke by the fast path of
`invoke_route`, or the Lambda REST API by path), which decides the largest body it may carry;
then it is authenticated (SigV4), handed to its protocol adapter, and answered with
`x-amzn-RequestId` on every response.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from botocore.model import OperationModel

from lamina.api.http_server import HttpRequest, HttpResponse
from lamina.api.invoke_route import InvokeRoute
from lamina.api.request_limits import INTERNAL, BodyLimit, json_service_limit, lambda_limit
from lamina.api.sigv4 import Authenticator, Caller
from lamina.context import RequestContext, new_request_id
from lamina.errors import AwsError, ServiceException, TooManyRequestsException

log = logging.getLogger("lamina.api")


@dataclass(slots=True)
class Route:
    """Where a request goes, found from its head."""

    raw_path: str
    raw_query: str
    limit: BodyLimit
    internal: bool = False
    json_service: JsonService | None = None
    # REST: the operation and its URI labels (None: no operation matches; the adapter says so).
    operation: OperationModel | None = None
    labels: dict[str, str] | None = None
    query: dict[str, list[str]] | None = None
    # The Invoke fast path: its parameters but the payload, read from the head.
    invoke: dict[str, Any] | None = None


class Request:
    """What the protocol adapters need of an HTTP request."""

    __slots__ = ("method", "raw_path", "raw_query", "headers", "body", "caller", "request_id", "base_url",
                 "route", "_query")

    def __init__(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes,
                 request_id: str, base_url: str, route: Route | None = None) -> None:
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.headers = headers
        self.body = body
        self.request_id = request_id
        self.base_url = base_url
        self.caller: Caller | None = None
        self.route = route
        self._query = route.query if route is not None else None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True)
        return self._query

    def context(self) -> RequestContext:
        assert self.caller is not None
        return RequestContext(self.caller.account_id, self.caller.region, self.request_id, self.base_url)


class Response(HttpResponse):
    """An answer as the protocol adapters make it; the HTTP server writes it as it is."""

    __slots__ = ()

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> None:
        self.status = status
        self.headers = headers or []
        self.body = body

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, [(b"content-type", b"application/json")], orjson.dumps(document))


Handler = Callable[[Request], Awaitable[Response]]


class RestService(Protocol):
    async def __call__(self, request: Request) -> Response: ...

    def route(self, method: str, raw_path: str, query: dict[str, list[str]]
              ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation and its URI labels, or None if none matches."""


class JsonService(Protocol):
    async def __call__(self, request: Request) -> Response: ...

    def error_response(self, error: AwsError) -> Response:
        """An error as this protocol writes it."""


def error_response(error: AwsError) -> Response:
    response = Response.json(error.status, error.body())
    response.headers.append((b"x-amzn-errortype", error.code.encode()))
    response.headers.extend((k.encode(), v.encode()) for k, v in error.headers.items())
    return response


class App:
    """The request handler behind lamina's HTTP server, and its `Admission`. `internal` handles
    `/_lamina/*` without SigV4; `json_services` maps an `X-Amz-Target` prefix to its adapter;
    plain Invoke requests go to `invoke` (when given); everything else goes to `rest`. Every
    response carries `x-amzn-RequestId`."""

    def __init__(self, authenticator: Authenticator, rest: RestService, internal: Handler,
                 json_services: dict[str, JsonService] | None = None, invoke: InvokeRoute | None = None) -> None:
        self.authenticator = authenticator
        self.rest = rest
        self.internal = internal
        self.json_services = json_services or {}
        self.invoke = invoke

    async def __call__(self, http: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        try:
            response = await self._handle(http, request_id)
        except AwsError as error:
            response = error_response(error)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            response = error_response(ServiceException("An internal error occurred in lamina."))
        return _with_request_id(response, request_id)

    # -- Admission: decided from the request head ------------------------------------------

    def route(self, http: HttpRequest) -> Route:
        raw_path, _, raw_query = http.target.decode("latin-1").partition("?")
        if raw_path.startswith("/_lamina/"):
            return Route(raw_path, raw_query, INTERNAL, internal=True)
        amz_target = http.headers.get("x-amz-target")
        if amz_target:
            service = self.json_services.get(amz_target.partition(".")[0])
            if service is not None:
                return Route(raw_path, raw_query, json_service_limit(amz_target), json_service=service)
        if self.invoke is not None:
            params = self.invoke.match(http.method, raw_path, raw_query, http.headers)
            if params is not None:
                return Route(raw_path, raw_query, lambda_limit("Invoke", http.headers), invoke=params)
        query = parse_qs(raw_query, keep_blank_values=True)
        found = self.rest.route(http.method, raw_path, query)
        if found is None:
            return Route(raw_path, raw_query, lambda_limit("UnknownOperation", http.headers), query=query)
        operation, labels = found
        return Route(raw_path, raw_query, lambda_limit(operation.name, http.headers), operation=operation,
                     labels=labels, query=query)

    def body_limit(self, http: HttpRequest) -> int:
        http.route = route = self.route(http)
        return route.limit.max_bytes

    def body_too_large(self, http: HttpRequest, size: int) -> HttpResponse:
        route: Route = http.route
        error = route.limit.error(size)
        service = route.json_service
        response = service.error_response(error) if service is not None else error_response(error)
        return _with_request_id(response, new_request_id())

    def too_many_connections(self, client: str, limit: int) -> HttpResponse:
        error = TooManyRequestsException(f"Too many connections from {client}: at most {limit} at a time.",
                                         reason="CallerRateLimitExceeded")
        response = error_response(error)
        response.body = orjson.dumps({**error.body(), "__type": error.code})  # read by every protocol
        return _with_request_id(response, new_request_id())

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, http: HttpRequest, request_id: str) -> Response:
        headers = http.headers
        route: Route = http.route or self.route(http)
        raw_path, raw_query = route.raw_path, route.raw_query
        host = headers.get("host") or f"{http.server[0]}:{http.server[1]}"
        if route.invoke is not None:
            assert self.invoke is not None
            caller = self.authenticator.authenticate(http.method, raw_path, raw_query, headers, http.body)
            ctx = RequestContext(caller.account_id, caller.region, request_id, f"http://{host}")
            return Response(*await self.invoke(ctx, route.invoke, http.body))
        request = Request(http.method, raw_path, raw_query, headers, http.body, request_id, f"http://{host}", route)
        if route.internal:
            return await self.internal(request)
        request.caller = self.authenticator.authenticate(request.method, raw_path, raw_query, headers, http.body)
        if route.json_service is not None:
            return await route.json_service(request)
        return await self.rest(request)


def _with_request_id(response: Response, request_id: str) -> HttpResponse:
    response.headers.append((b"x-amzn-requestid", request_id.encode()))
    return response
