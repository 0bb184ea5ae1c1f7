"""Scripted stand-ins for what a Task talks to: a task runner and a Lambda invoker.

Behaviours are lists consumed one per call (the last one repeats). A behaviour is a
mapping: `output` (succeed), `error`/`cause` (fail), `pending: true` (wait for a task
token), and optionally `delay` (seconds on the virtual clock before answering).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from lamina.errors import AwsError
from lamina.states.integrations import LambdaInvokeResult
from lamina.states.memory import VirtualClock
from lamina.states.tasks import TaskOutcome, TaskRequest


class _Script:
    def __init__(self, behaviours: dict[str, list[dict[str, Any]]]) -> None:
        self.behaviours = behaviours
        self.calls: dict[str, int] = defaultdict(int)

    def next(self, key: str) -> dict[str, Any]:
        script = self.behaviours.get(key)
        if not script:
            raise AssertionError(f"no behaviour scripted for {key!r}")
        n = self.calls[key]
        self.calls[key] += 1
        return script[min(n, len(script) - 1)]


class ScriptedTaskRunner:
    """Answers each Task by the state's name (or, failing that, the resource ARN)."""

    def __init__(self, behaviours: dict[str, list[dict[str, Any]]], clock: VirtualClock) -> None:
        self.script = _Script(behaviours)
        self.clock = clock
        self.requests: list[TaskRequest] = []
        self.cancelled: list[str] = []

    async def run(self, request: TaskRequest) -> TaskOutcome:
        self.requests.append(request)
        key = request.state_name if request.state_name in self.script.behaviours else request.resource.arn
        behaviour = self.script.next(key)
        if behaviour.get("delay"):
            await self.clock.sleep(behaviour["delay"])
        if behaviour.get("pending"):
            return TaskOutcome.pending(behaviour.get("submitted"))
        if "error" in behaviour:
            return TaskOutcome.failed(behaviour["error"], behaviour.get("cause", ""))
        if behaviour.get("echo"):
            return TaskOutcome.succeeded(request.input)
        return TaskOutcome.succeeded(behaviour.get("output"))

    async def cancel(self, task_token: str) -> None:
        self.cancelled.append(task_token)


class _LambdaServiceError(AwsError):
    pass


class ScriptedLambda:
    """A LambdaInvoker by function name: `payload` (+ `function_error`), or `service_error` (+ `status`),
    or `connection_error`; `echo: true` returns the event it was given."""

    def __init__(self, behaviours: dict[str, list[dict[str, Any]]]) -> None:
        self.script = _Script(behaviours)
        self.invocations: list[tuple[str, Any, dict[str, Any]]] = []

    async def invoke(self, function_name: str, payload: bytes, **options: Any) -> LambdaInvokeResult:
        event = json.loads(payload)
        self.invocations.append((function_name, event, options))
        behaviour = self.script.next(function_name.split(":")[-1] if ":" in function_name else function_name)
        if "service_error" in behaviour:
            error = type(
                behaviour["service_error"],
                (_LambdaServiceError,),
                {"code": behaviour["service_error"], "status": behaviour.get("status", 500)},
            )
            raise error(behaviour.get("message", "failed"), RequestId="req-1")
        if behaviour.get("connection_error"):
            raise ConnectionError(behaviour["connection_error"])
        body = event if behaviour.get("echo") else behaviour.get("payload")
        return LambdaInvokeResult(
            status_code=200,
            payload=json.dumps(body).encode(),
            function_error=behaviour.get("function_error"),
            executed_version="$LATEST",
            request_id="req-1",
        )
