"""Asynchronous invocation: accept events durably, run them in-process, retry them as
Lambda does, and send what became of them to destinations and dead-letter queues.

Every accepted event ends in exactly one of: succeeded (on-success destination if any),
failed after its retries or too old (on-failure destination and dead-letter queue, both
through the outbox), or dropped by a visible rule (its function was deleted).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import orjson

from lamina.backoff import exponential_delay
from lamina.context import RequestContext, new_request_id
from lamina.control.arns import LATEST, FunctionRef, function_arn, parse_function_ref
from lamina.control.event_invoke_configs import effective_config
from lamina.control.functions import FunctionService
from lamina.errors import (
    AwsError,
    RequestTooLargeException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from lamina.invoke.async_history import AsyncHistory
from lamina.invoke.async_queue import AsyncEvent, AsyncQueue
from lamina.invoke.destinations import dead_letter_attributes, invocation_record
from lamina.invoke.outbox import Delivery, Outbox
from lamina.invoke.service import Invocation, InvokeService, check_json_payload
from lamina.observability.metrics import Metrics

log = logging.getLogger("lamina.async")

ASYNC_PAYLOAD_LIMIT = 1_048_576
WORKERS = 64
MAX_THROTTLE_BACKOFF_SECONDS = 300


class AsyncDispatcher:
    def __init__(self, queue: AsyncQueue, outbox: Outbox, history: AsyncHistory, metrics: Metrics,
                 functions: FunctionService, invoke: InvokeService, retry_base_seconds: float) -> None:
        self.queue = queue
        self.outbox = outbox
        self.history = history
        self.metrics = metrics
        self.functions = functions
        self.invoke = invoke
        self.retry_base_seconds = retry_base_seconds
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(WORKERS)
        self._scheduler: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        # Throttled events wait for a slot of their function (or of their account's unreserved
        # pool) to free up; the back-off time is only the fallback.
        self._throttled: dict[tuple[str, str, str], deque[AsyncEvent]] = defaultdict(deque)
        self._throttled_in_account: dict[tuple[str, str], deque[AsyncEvent]] = defaultdict(deque)
        invoke.limiter.on_release.append(self._capacity_freed)

    async def start(self) -> None:
        await self.queue.load()
        await self.history.prune()
        self._scheduler = asyncio.create_task(self._schedule_forever())

    async def close(self) -> None:
        tasks = [t for t in [self._scheduler, *self._running] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def wipe(self) -> None:
        self.queue.wipe()
        self._throttled.clear()
        self._throttled_in_account.clear()

    # ------------------------------------------------------------ accepting

    async def accept(self, ctx: RequestContext, name: str, qualifier: str | None, payload: bytes,
                     limit: int = ASYNC_PAYLOAD_LIMIT) -> None:
        """Invoke with `InvocationType: Event`: returns once the event is durably queued."""
        if len(payload) > limit:
            raise RequestTooLargeException(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
        payload = check_json_payload(payload)
        ref = parse_function_ref(ctx, name, qualifier)
        self.invoke.resolve(ref)  # the function must exist and be invocable
        await self._enqueue(ctx.request_id, ref, payload)

    async def accept_internal(self, account_id: str, region: str, name: str, qualifier: str | None,
                              payload: bytes) -> None:
        """An event from inside lamina (a Lambda destination); the caller has no request id."""
        ref = FunctionRef(account_id, region, name, qualifier)
        self.functions.find(ref)
        await self._enqueue(new_request_id(), ref, payload)

    async def _enqueue(self, request_id: str, ref: FunctionRef, payload: bytes) -> None:
        # Counted in the transaction that accepts the event, so the count survives kill -9 exactly.
        metric = (ref.account_id, ref.region, ref.name, "AsyncEventsReceived")
        await self.queue.accept(request_id, ref.account_id, ref.region, ref.name, ref.qualifier, payload,
                                also=[self.metrics.durable_add(*metric)])
        self.metrics.durable_added(*metric)
        self._wake.set()

    # ------------------------------------------------------------ dispatching

    async def _schedule_forever(self) -> None:
        while True:
            now = time.time()
            for event in self.queue.take_due(now, limit=WORKERS):
                await self._slots.acquire()
                task = asyncio.create_task(self._run(event))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            due = self.queue.next_due_time()
            self._wake.clear()
            timeout = None if due is None else max(0.0, due - time.time())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    async def _run(self, event: AsyncEvent) -> None:
        try:
            await self._attempt(event)
        except Exception:
            log.exception("async event %s: unexpected failure; retrying later", event.request_id)
            await self.queue.retry_later(event, time.time() + 5, "internal error")
        finally:
            self._slots.release()
            self._wake.set()

    async def _attempt(self, event: AsyncEvent) -> None:
        ref = FunctionRef(event.account_id, event.region, event.function, event.qualifier)
        try:
            function, version_key, deployment = self.invoke.resolve(ref)
        except ResourceNotFoundException as e:
            await self._drop(event, "FunctionNotFound", e.message)
            return
        except AwsError as e:  # not invocable right now (e.g. still pending): like a system error
            await self._back_off(event, e.message)
            return
        config = effective_config(function, event.qualifier or LATEST)
        age = time.time() - event.received
        if age > config["MaximumEventAgeInSeconds"]:
            await self._fail(event, function, deployment.config, "EventAgeExceeded", None)
            return
        if function.reserved_concurrency == 0:
            await self._fail(event, function, deployment.config, "RetriesExhausted", None)
            return
        self.metrics.add(event.account_id, event.region, event.function, "AsyncEventAge", age * 1000)
        payload = await self.queue.payload(event)
        try:
            outcome = await self.invoke.run(function, version_key, deployment, payload, event.request_id,
                                            invoked_arn=self._qualified_arn(ref))
        except TooManyRequestsException as e:
            await self._back_off(event, e.message, throttle_reason=e.fields.get("Reason"))
            return
        event.attempts += 1
        response = _response(outcome)
        if outcome.function_error is None:
            await self._succeed(event, function, response)
        elif event.attempts <= config["MaximumRetryAttempts"]:
            # Lambda waits about a minute before the first retry and two before the second.
            await self.queue.retry_later(event, time.time() + event.attempts * self.retry_base_seconds,
                                         outcome.error_type)
            self._wake.set()
        else:
            await self._fail(event, function, deployment.config, "RetriesExhausted", response)

    async def _back_off(self, event: AsyncEvent, reason: str, throttle_reason: str | None = None) -> None:
        """Throttles and system errors: retried with exponential back-off, without using up
        retry attempts, until the event is too old. A throttled event also runs as soon as a
        slot frees up."""
        event.throttles += 1
        delay = exponential_delay(event.throttles, 1, MAX_THROTTLE_BACKOFF_SECONDS)
        await self.queue.retry_later(event, time.time() + delay, reason)
        if throttle_reason == "ReservedFunctionConcurrentInvocationLimitExceeded":
            self._throttled[(event.account_id, event.region, event.function)].append(event)
        elif throttle_reason is not None:
            self._throttled_in_account[(event.account_id, event.region)].append(event)
        self._wake.set()

    def _capacity_freed(self, function: tuple[str, str, str], account: tuple[str, str] | None) -> None:
        if not self._throttled and not self._throttled_in_account:
            return  # nothing was throttled: the common case, told of every invocation's end
        for queues, key in ((self._throttled, function), (self._throttled_in_account, account)):
            if key is not None and self._run_one_waiting(queues, key):
                return

    def _run_one_waiting(self, queues: dict[Any, deque[AsyncEvent]], key: Any) -> bool:
        """Run the first still-waiting event of `queues[key]`; an emptied queue is deleted so
        that functions and accounts that were once throttled do not stay in memory."""
        waiting = queues.get(key)
        found = False
        while waiting and not found:
            event = waiting.popleft()
            if event.id in self.queue.events and event.id not in self.queue.in_flight:
                self.queue.run_now(event)
                self._wake.set()
                found = True
        if waiting is not None and not waiting:
            del queues[key]
        return found

    @staticmethod
    def _qualified_arn(ref: FunctionRef) -> str:
        return function_arn(ref.region, ref.account_id, ref.name, ref.qualifier or LATEST)

    # ------------------------------------------------------------ outcomes

    async def _succeed(self, event: AsyncEvent, function: Any, response: dict[str, Any]) -> None:
        config = effective_config(function, event.qualifier or LATEST)
        target = (config["DestinationConfig"].get("OnSuccess") or {}).get("Destination")
        deliveries = []
        if target:
            deliveries.append(await self._record_delivery(event, target, "Success", response))
        await self._finish(event, deliveries, [])

    async def _fail(self, event: AsyncEvent, function: Any, version_config: dict[str, Any], condition: str,
                    response: dict[str, Any] | None) -> None:
        config = effective_config(function, event.qualifier or LATEST)
        deliveries = []
        target = (config["DestinationConfig"].get("OnFailure") or {}).get("Destination")
        if target:
            deliveries.append(await self._record_delivery(event, target, condition, response))
        dead_letter = (version_config.get("DeadLetterConfig") or {}).get("TargetArn")
        if dead_letter:
            message = _error_message(response) or condition
            deliveries.append(Delivery("dead-letter", event.account_id, event.region, event.function,
                                       event.request_id, dead_letter, await self.queue.payload(event),
                                       dead_letter_attributes(event.request_id, 200 if response else 429, message),
                                       {}))
        self.metrics.add(event.account_id, event.region, event.function, "AsyncEventsDropped")
        history = [_history_write(self.history, event, "failed", condition, _error_message(response))]
        await self._finish(event, deliveries, history)

    async def _drop(self, event: AsyncEvent, condition: str, detail: str) -> None:
        log.warning("dropping async event %s of %s: %s", event.request_id, event.function, detail)
        self.metrics.add(event.account_id, event.region, event.function, "AsyncEventsDropped")
        await self._finish(event, [], [_history_write(self.history, event, "dropped", condition, detail)])

    async def _record_delivery(self, event: AsyncEvent, target: str, condition: str,
                               response: dict[str, Any] | None) -> Delivery:
        ref = FunctionRef(event.account_id, event.region, event.function, event.qualifier)
        arn = self._qualified_arn(ref)
        body = invocation_record(request_id=event.request_id, function_arn=arn, condition=condition,
                                 invoke_count=event.attempts, request_payload=await self.queue.payload(event),
                                 response=response)
        outcome = "Success" if condition == "Success" else "Failure"
        return Delivery("destination", event.account_id, event.region, event.function, event.request_id, target,
                        body, {}, {"detail_type": f"Lambda Function Invocation Result - {outcome}",
                                   "function_arn": arn, "function_name": event.function})

    async def _finish(self, event: AsyncEvent, deliveries: list[Delivery],
                      history: list[Callable[[sqlite3.Connection], None]]) -> None:
        await self.queue.finish(event, [*(self.outbox.record(d) for d in deliveries), *history])
        for delivery in deliveries:
            self.outbox.queued(delivery)


def _response(outcome: Invocation) -> dict[str, Any]:
    context: dict[str, Any] = {"statusCode": 200, "executedVersion": outcome.executed_version}
    if outcome.function_error:
        context["functionError"] = outcome.function_error
    try:
        payload = orjson.loads(outcome.payload) if outcome.payload else None
    except orjson.JSONDecodeError:
        payload = outcome.payload.decode(errors="replace")
    return {"context": context, "payload": payload}


def _error_message(response: dict[str, Any] | None) -> str:
    if response is None:
        return ""
    payload = response["payload"]
    if isinstance(payload, dict):
        return str(payload.get("errorMessage") or payload.get("errorType") or "")
    return str(payload)


def _history_write(history: AsyncHistory, event: AsyncEvent, outcome: str, condition: str,
                   detail: str | None) -> Callable[[sqlite3.Connection], None]:
    def _write(db: sqlite3.Connection) -> None:
        history.write(db, event.account_id, event.region, event.function, event.request_id, outcome, condition,
                      event.attempts, detail)

    return _write
