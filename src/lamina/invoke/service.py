"""Invoke: from an API call (or an in-process caller) to a result.

The hot path: resolve the function in memory, check the payload, hand the event to the
environment pool, then count it, queue its compact log record (no I/O, no rendering) and
answer. Nothing here touches the store or the disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from lamina.context import RequestContext
from lamina.control.aliases import route
from lamina.control.arns import LATEST, FunctionRef, function_arn, parse_function_ref
from lamina.control.function_model import Deployment, Function
from lamina.control.functions import FunctionService
from lamina.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    NotImplementedOperation,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from lamina.invoke.limits import ConcurrencyLimiter
from lamina.invoke.provisioned import ProvisionedConcurrency
from lamina.invoke.report import invocation_log, log_tail
from lamina.invoke.specs import SpecBuilder, network_mode
from lamina.observability.invocation_log import InvocationLog
from lamina.observability.log_store import LogStore
from lamina.observability.metrics import Metrics
from lamina.sandbox.admission import Busy
from lamina.sandbox.spec import EnvironmentSpec, InvokeRequest, InvokeResult

log = logging.getLogger("lamina.invoke")

# Lambda's ThrottleReason for each reason the pool gives for having no environment.
THROTTLE_REASONS = {"capacity": "ConcurrentInvocationLimitExceeded", "scaling": "FunctionInvocationRateLimitExceeded"}

SYNC_PAYLOAD_LIMIT = 6_291_456
CLIENT_CONTEXT_LIMIT = 3_583
INVOKE_ASYNC_PAYLOAD_LIMIT = 262_144
# How many parsed FunctionName/Qualifier pairs `InvokeService._target` keeps.
TARGETS_KEPT = 4096


class AsyncAcceptor(Protocol):
    async def accept(self, ctx: RequestContext, name: str, qualifier: str | None, payload: bytes,
                     limit: int = ...) -> None: ...


class EnvironmentPool(Protocol):
    runtimes: Mapping[str, object]

    def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> Awaitable[InvokeResult]:
        """Raises `lamina.sandbox.admission.Busy` when no environment can be had now."""

    async def retire(self, key: str) -> None: ...

    async def prewarm(self, runtime_id: str, network: str = "host") -> None: ...


@dataclass(slots=True)  # not frozen, as `InvokeRequest`: built on every invoke
class Invocation:
    """The outcome of one synchronous invocation, as in-process callers see it."""

    request_id: str
    executed_version: str
    payload: bytes
    function_error: str | None  # "Unhandled" when the function (or its runtime) failed
    error_type: str | None
    log: InvocationLog

    @property
    def log_events(self) -> list[tuple[int, str]]:
        """The events it added to its stream, rendered now (for `LogType: Tail`)."""
        return self.log.events()


class InvokeService:
    def __init__(self, functions: FunctionService, pool: EnvironmentPool, specs: SpecBuilder, logs: LogStore,
                 limiter: ConcurrencyLimiter, metrics: Metrics) -> None:
        self.functions = functions
        self.metrics = metrics
        self.limiter = limiter
        self.pool = pool
        self.specs = specs
        self.logs = logs
        self._retiring: set[asyncio.Task] = set()  # background work on the pool
        # Set when provisioned concurrency is assembled (it needs this service's specs).
        self.provisioned: ProvisionedConcurrency | None = None
        # Set when asynchronous invocation is assembled (the dispatcher needs this service).
        self.async_events: AsyncAcceptor | None = None
        # (account, region, FunctionName, Qualifier) -> what `_target` parsed from them.
        self._targets: dict[tuple[str, str, str, str | None], tuple[FunctionRef, str]] = {}
        functions.listeners.append(self._deployment_changed)

    def _deployment_changed(self, function: Function, version_key: str) -> None:
        """Environments never outlive the deployment they were started for; and a function
        about to be invoked should find a spare environment of its runtime ready."""
        still_there = self.functions.functions.get(function.key) is function
        version = function.versions.get(version_key) if still_there else None
        current = version.live if version is not None else None
        for spec in self.specs.forget(function, version_key, current):
            self._background(self.pool.retire(spec.key))
        if current is not None:
            self.prepare(function, current)

    def prepare(self, function: Function, deployment: Deployment) -> None:
        runtime = deployment.config.get("Runtime")
        if runtime in self.pool.runtimes:
            self._background(self.pool.prewarm(runtime, network_mode(function)))

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    # ------------------------------------------------------------ API

    async def invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        invocation_type = params.get("InvocationType") or "RequestResponse"
        payload = params.get("Payload") or b""
        if invocation_type == "Event":
            if self.async_events is None:
                raise NotImplementedOperation("Asynchronous invocation is not enabled in this lamina.")
            await self.async_events.accept(ctx, params["FunctionName"], params.get("Qualifier"), payload)
            return {"StatusCode": 202}
        if len(payload) >= SYNC_PAYLOAD_LIMIT:
            raise RequestTooLargeException(
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation")
        payload = check_json_payload(payload)
        client_context = _client_context(params.get("ClientContext"))
        ref, invoked_arn = self._target(ctx, params["FunctionName"], params.get("Qualifier"))
        function, version_key, deployment = self.resolve(ref)
        if invocation_type == "DryRun":
            return {"StatusCode": 204}
        outcome = await self.run(function, version_key, deployment, payload, ctx.request_id,
                                 invoked_arn=invoked_arn, client_context=client_context)
        result: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": outcome.executed_version,
                                  "Payload": outcome.payload}
        if outcome.function_error:
            result["FunctionError"] = outcome.function_error
        if params.get("LogType") == "Tail":
            result["LogResult"] = log_tail(outcome.log_events)
        return result

    def _target(self, ctx: RequestContext, name: str, qualifier: str | None) -> tuple[FunctionRef, str]:
        """The function a FunctionName and Qualifier name, and the ARN the invocation reports.
        Only the parse is remembered, not the function: updates, deletes and alias moves are
        seen by `resolve` on every call."""
        key = (ctx.account_id, ctx.region, name, qualifier)
        target = self._targets.get(key)
        if target is None:
            ref = parse_function_ref(ctx, name, qualifier)  # raises for bad names: those are not kept
            target = (ref, function_arn(ref.region, ref.account_id, ref.name, ref.qualifier))
            if len(self._targets) >= TARGETS_KEPT:  # names are client-chosen: keep only so many
                self._targets.clear()
            self._targets[key] = target
        return target

    async def invoke_async(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The deprecated InvokeAsync operation: an Event invocation with a smaller limit."""
        if self.async_events is None:
            raise NotImplementedOperation("Asynchronous invocation is not enabled in this lamina.")
        await self.async_events.accept(ctx, params["FunctionName"], None, params.get("InvokeArgs") or b"",
                                       limit=INVOKE_ASYNC_PAYLOAD_LIMIT)
        return {"Status": 202}

    # ------------------------------------------------------------ in-process

    def resolve(self, ref: FunctionRef) -> tuple[Function, str, Deployment]:
        """The version an invocation runs (an alias routes each request by its weights), and
        the deployment it runs with."""
        function = self.functions.find(ref)
        qualifier = ref.qualifier or LATEST
        alias = function.aliases.get(qualifier)
        version_key = route(alias) if alias else qualifier
        version = function.versions.get(version_key)
        if version is None:
            raise ResourceNotFoundException(
                f"Function not found: {function_arn(function.region, function.account_id, function.name, qualifier)}")
        if version.live is None or version.state != "Active":
            raise ResourceConflictException(
                "The operation cannot be performed at this time. "
                f"The function is currently in the following state: {version.state}")
        return function, version_key, version.live

    async def run(self, function: Function, version_key: str, deployment: Deployment, payload: bytes,
                  request_id: str, *, invoked_arn: str | None = None, client_context: str | None = None
                  ) -> Invocation:
        allocation = self.provisioned.take(function, version_key) if self.provisioned else None
        spec = allocation.spec if allocation else self.specs.spec_for(function, version_key, deployment)
        request = InvokeRequest(request_id=request_id, payload=payload,
                                invoked_function_arn=invoked_arn or function.arn, client_context=client_context)
        try:
            slot = self.limiter.acquire(function)
            try:
                result = await self.pool.invoke(spec, request)
            except Busy as busy:  # no environment for it on this host now
                self.limiter.release(slot, notify=False)
                log.debug("throttled %s: %s", function.name, busy)
                raise TooManyRequestsException("Rate Exceeded.", THROTTLE_REASONS[busy.kind],
                                               busy.retry_after_s) from None
            except BaseException:
                self.limiter.release(slot)
                raise
            self.limiter.release(slot)
        except TooManyRequestsException:
            self.metrics.counters(function.key).throttles += 1
            raise
        finally:
            if allocation:
                self.provisioned.give_back(allocation)
        self.metrics.counters(function.key).invoked(result.duration_ms, result.error_type is not None,
                                                    bool(function.provisioned), allocation is not None)
        record = invocation_log(request_id, version_key, result, spec.memory_mb)
        self.logs.record(function.account_id, function.region, spec.log_group, result.log_stream, record)
        return Invocation(request_id, version_key, result.payload,
                          "Unhandled" if result.error_type else None, result.error_type, record)


def check_json_payload(payload: bytes) -> bytes:
    if not payload.strip():
        return b"{}"
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {e}") from None
    return payload


def _client_context(encoded: str | None) -> str | None:
    if encoded is None:
        return None
    if len(encoded) > CLIENT_CONTEXT_LIMIT:
        raise InvalidParameterValueException(f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes.")
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
        orjson.loads(decoded)
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException("Client context must be base64-encoded JSON.") from None
    return decoded

