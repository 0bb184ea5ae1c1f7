"""The Invoke fast path: `POST /2015-03-31/functions/{FunctionName}/invocations` read from the
request head without the model-driven router, parser and validator.

It takes only requests it fully understands and whose parameters are valid by construction:
a function name (or ARN) and qualifier of the plain forms, enum headers with one of their
values, no query parameter but `Qualifier`, no header member it does not handle. Anything
else (an odd name, an encoded qualifier, an unknown header value, ...) is left to the generic
path, so every error a client can get stays the one the model-driven parser gives.

The parameters it builds are the ones the generic parser would build, and the answer is
written by the same model serializer; what is saved is routing, parsing and validation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel

from lamina.api.shapes import serialize_response
from lamina.context import RequestContext

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"

# Subsets of the model's FunctionName and Qualifier patterns (and lengths): what matches
# them is valid, what does not may still be, and is left to the model's own check.
_FUNCTION_NAME = re.compile(
    r"(?:arn:aws:lambda:[a-z]{2}-[a-z]+-\d:\d{12}:function:|\d{12}:function:)?"
    r"[A-Za-z0-9_-]{1,64}(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?")
_FUNCTION_NAME_MAX = 256
_QUALIFIER = re.compile(r"\$LATEST|[A-Za-z0-9_-]{1,128}")
_QUALIFIER_QUERY = "Qualifier="
# How clients send `$LATEST` in a query string.
_ENCODED_LATEST = "%24LATEST"


# The Invoke operation's handler, as the generic path calls it (`lambda_rest.OperationHandler`).
InvokeHandler = Callable[[RequestContext, dict[str, Any]], Awaitable[Mapping[str, Any] | None]]


class InvokeRoute:
    """Recognises plain Invoke requests from their head and runs them."""

    def __init__(self, operation: OperationModel, handler: InvokeHandler) -> None:
        self.operation = operation
        self.handler = handler
        members = operation.input_shape.members
        # Header members: parameter name and header, and the values taken here (None: any).
        self._headers: list[tuple[str, str, frozenset[str] | None]] = []
        # Header members this path does not handle: their presence sends a request to the generic path.
        self._foreign: list[str] = []
        for name, member in members.items():
            if member.serialization.get("location") != "header":
                continue
            header = member.serialization.get("name", name).lower()
            meta = member.metadata
            if "enum" in meta and not ({"min", "max", "pattern"} & meta.keys()):
                self._headers.append((name, header, frozenset(meta["enum"])))
            elif not ({"enum", "min", "max", "pattern"} & meta.keys()):
                self._headers.append((name, header, None))
            else:
                self._foreign.append(header)

    def match(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
              ) -> dict[str, Any] | None:
        """The Invoke parameters but the payload, or None when the generic path must decide."""
        if method != "POST" or not raw_path.startswith(PREFIX) or not raw_path.endswith(SUFFIX):
            return None
        name = raw_path[len(PREFIX):-len(SUFFIX)]
        if "%" in name:
            name = unquote(name)  # ARNs arrive with their colons encoded
        if len(name) > _FUNCTION_NAME_MAX or not _FUNCTION_NAME.fullmatch(name):
            return None
        params: dict[str, Any] = {"FunctionName": name}
        if raw_query:
            if not raw_query.startswith(_QUALIFIER_QUERY):
                return None
            qualifier = raw_query[len(_QUALIFIER_QUERY):]
            if qualifier == _ENCODED_LATEST:
                qualifier = "$LATEST"
            elif not _QUALIFIER.fullmatch(qualifier):
                return None
            params["Qualifier"] = qualifier
        for header in self._foreign:
            if header in headers:
                return None
        for param, header, allowed in self._headers:
            value = headers.get(header)
            if value is not None:
                if allowed is not None and value not in allowed:
                    return None
                params[param] = value
        return params

    async def __call__(self, ctx: RequestContext, params: dict[str, Any], body: bytes
                       ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if body:
            params["Payload"] = body
        return serialize_response(self.operation, await self.handler(ctx, params))
