"""Invoking a mapping's function with a batch: in-process, through the invocation
service, under the function's concurrency.

Throttles and system errors (the function missing, not active) are not failures of the
batch: they are retried with back-off until the caller's deadline (an SQS batch's
visibility timeout, a stream record's age limit), and never count against
MaximumRetryAttempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lamina.context import new_request_id
from lamina.control.arns import FunctionRef
from lamina.errors import AwsError, TooManyRequestsException
from lamina.events.mapping_model import EventSourceMapping
from lamina.invoke.service import InvokeService

log = logging.getLogger("lamina.events")

MAX_BACKOFF_SECONDS = 5.0

# Told the LastProcessingResult of a mapping after each attempt.
StatusReporter = Callable[[EventSourceMapping, str], None]


@dataclass(frozen=True)
class Outcome:
    request_id: str
    executed_version: str
    payload: bytes
    function_error: str | None

    @property
    def failed(self) -> bool:
        return self.function_error is not None

    def response(self) -> Any:
        """The function's result as JSON (None when empty); a non-JSON result is kept as text."""
        if not self.payload.strip():
            return None
        try:
            return orjson.loads(self.payload)
        except orjson.JSONDecodeError:
            return self.payload.decode(errors="replace")

    def response_context(self) -> dict[str, Any]:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": self.executed_version}
        if self.function_error:
            context["functionError"] = self.function_error
        return context


class Dispatcher:
    def __init__(self, invoke: InvokeService, report: StatusReporter) -> None:
        self.invoke = invoke
        self.report = report

    async def invoke_batch(self, mapping: EventSourceMapping, payload: bytes,
                           give_up_at: float | None = None) -> Outcome | None:
        """Run the function once on `payload`; None if it could not be run before `give_up_at`."""
        delay = 0.05
        ref = FunctionRef(mapping.account_id, mapping.region, mapping.function_name, mapping.qualifier)
        while True:
            request_id = new_request_id()
            try:
                function, version_key, deployment = self.invoke.resolve(ref)
                invocation = await self.invoke.run(function, version_key, deployment, payload, request_id,
                                                   invoked_arn=mapping.function_arn)
            except TooManyRequestsException:
                pass  # waits for a slot below; throttles are not failures
            except AwsError as error:
                self.report(mapping, f"PROBLEM: {error.message}")
            else:
                outcome = Outcome(request_id, invocation.executed_version, invocation.payload,
                                  invocation.function_error)
                self.report(mapping, "PROBLEM: Function call failed" if outcome.failed else "OK")
                return outcome
            if give_up_at is not None and time.time() + delay >= give_up_at:
                return None
            await asyncio.sleep(delay)
            delay = min(MAX_BACKOFF_SECONDS, delay * 2)
