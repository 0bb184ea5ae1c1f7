"""The Lambda REST-JSON protocol adapter: route, parse and validate by the model, call the
operation's handler, serialise its result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from lamina.api.app import Request, Response
from lamina.api.routing import Router
from lamina.api.shapes import parse_request, serialize_response
from lamina.context import RequestContext
from lamina.errors import NotImplementedOperation, UnknownOperationException

OperationHandler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]


class RestJsonAdapter:
    def __init__(self, service: ServiceModel, operations: Mapping[str, OperationHandler]) -> None:
        self.service = service
        self.router = Router(service)
        self.operations = operations

    def route(self, method: str, raw_path: str, query: dict[str, list[str]]
              ) -> tuple[OperationModel, dict[str, str]] | None:
        try:
            return self.router.match(method, raw_path, query)
        except UnknownOperationException:
            return None

    async def __call__(self, request: Request) -> Response:
        query = request.query
        route = request.route
        if route is not None and route.operation is not None and route.labels is not None:
            operation, labels = route.operation, route.labels  # found from the head
        else:
            operation, labels = self.router.match(request.method, request.raw_path, query)
        handler = self.operations.get(operation.name)
        if handler is None:
            raise NotImplementedOperation(
                f"lamina does not implement the {self.service.service_name} operation {operation.name} yet.")
        params = parse_request(operation, labels, query, request.headers, request.body)
        result = await handler(request.context(), params)
        status, headers, body = serialize_response(operation, result)
        return Response(status, headers, body)
