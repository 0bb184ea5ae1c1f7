"""The AWS JSON 1.0/1.1 protocols (CloudWatch Logs, Step Functions): the operation is named
by `X-Amz-Target: <prefix>.<Operation>`, input and output are JSON documents, and errors
carry their code in `__type`."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from botocore.model import ServiceModel

from lamina.api.app import Request, Response
from lamina.api.lambda_rest import OperationHandler
from lamina.api.shapes import encode_output, parse_json_request
from lamina.errors import AwsError, NotImplementedOperation, UnknownOperationException


class JsonProtocolAdapter:
    def __init__(self, service: ServiceModel, operations: Mapping[str, OperationHandler]) -> None:
        self.service = service
        self.operations = operations
        self.content_type = f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}".encode()

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._call(request)
        except AwsError as error:
            return self.error_response(error)

    def error_response(self, error: AwsError) -> Response:
        body = error.body()
        body["__type"] = error.code
        response = Response(error.status, [(b"content-type", self.content_type),
                                           (b"x-amzn-errortype", error.code.encode())], orjson.dumps(body))
        response.headers.extend((k.encode(), v.encode()) for k, v in error.headers.items())
        return response

    async def _call(self, request: Request) -> Response:
        name = request.headers.get("x-amz-target", "").partition(".")[2]
        if name not in self.service.operation_names:
            raise UnknownOperationException(f"Unknown operation {name!r} for {self.service.service_name}")
        handler = self.operations.get(name)
        if handler is None:
            raise NotImplementedOperation(
                f"lamina does not implement the {self.service.service_name} operation {name} yet.")
        operation = self.service.operation_model(name)
        params = parse_json_request(operation, request.body)
        result = await handler(request.context(), params)
        return Response(200, [(b"content-type", self.content_type)], orjson.dumps(encode_output(operation, result)))
