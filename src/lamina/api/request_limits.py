"""The largest request body each operation takes, and AWS's answer past it.

The front door checks these as soon as a request head is in (Content-Length, or the chunks
of a chunked body as they arrive), so an oversized body is refused before it is buffered.
The services keep their own checks for calls that do not come through HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lamina.errors import AwsError, RequestEntityTooLargeException
from lamina.invoke.async_dispatch import ASYNC_PAYLOAD_LIMIT
from lamina.invoke.service import INVOKE_ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT

# Lambda's limit for every other operation: a 50 MB zip, base64-encoded, in JSON
# ("Request must be smaller than 69905067 bytes for the CreateFunction operation").
LAMBDA_REQUEST_LIMIT = 69_905_067
# Step Functions: "Maximum request size: 1 MB per request", headers included.
STATES_REQUEST_LIMIT = 1_048_576  # bodies of this size and more are refused
# CloudWatch Logs: a PutLogEvents batch is at most 1 MiB of messages; room for its JSON
# escaping (up to 6 bytes a character) and 10,000 events' framing.
LOGS_REQUEST_LIMIT = 8 << 20
# lamina's own `/_lamina/` routes take no bodies to speak of.
INTERNAL_REQUEST_LIMIT = 64 << 10


@dataclass(frozen=True, slots=True)
class BodyLimit:
    smaller_than: int  # bodies of this many bytes or more are refused
    operation: str  # as AWS names it in the message
    event_invocation: bool = False

    @property
    def max_bytes(self) -> int:
        return self.smaller_than - 1

    def error(self, size: int) -> AwsError:
        if self.event_invocation:
            return RequestEntityTooLargeException(
                f"{size} byte payload is too large for the Event invocation type (limit {self.max_bytes} bytes)")
        return RequestEntityTooLargeException(
            f"Request must be smaller than {self.smaller_than} bytes for the {self.operation} operation")


_SYNC_INVOKE = BodyLimit(SYNC_PAYLOAD_LIMIT, "InvokeFunction")
_EVENT_INVOKE = BodyLimit(ASYNC_PAYLOAD_LIMIT + 1, "InvokeFunction", event_invocation=True)
_INVOKE_ASYNC = BodyLimit(INVOKE_ASYNC_PAYLOAD_LIMIT, "InvokeFunction")
_LAMBDA: dict[str, BodyLimit] = {}
INTERNAL = BodyLimit(INTERNAL_REQUEST_LIMIT, "lamina")


def lambda_limit(operation: str, headers: Mapping[str, str]) -> BodyLimit:
    if operation == "Invoke" or operation == "InvokeWithResponseStream":
        return _EVENT_INVOKE if headers.get("x-amz-invocation-type") == "Event" else _SYNC_INVOKE
    if operation == "InvokeAsync":
        return _INVOKE_ASYNC
    limit = _LAMBDA.get(operation)
    if limit is None:
        limit = _LAMBDA[operation] = BodyLimit(LAMBDA_REQUEST_LIMIT, operation)
    return limit


_JSON_SERVICE_LIMITS = {"AWSStepFunctions": STATES_REQUEST_LIMIT, "Logs_20140328": LOGS_REQUEST_LIMIT}
_JSON: dict[str, BodyLimit] = {}


def json_service_limit(amz_target: str) -> BodyLimit:
    """By `X-Amz-Target: <service prefix>.<Operation>`."""
    limit = _JSON.get(amz_target)
    if limit is None:
        prefix, _, operation = amz_target.partition(".")
        limit = BodyLimit(_JSON_SERVICE_LIMITS.get(prefix, STATES_REQUEST_LIMIT), operation or prefix)
        if len(_JSON) < 1024:  # targets are client-chosen: cache only so many
            _JSON[amz_target] = limit
    return limit
