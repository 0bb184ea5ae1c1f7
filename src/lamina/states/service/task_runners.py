"""Carrying out Task states in-process: Lambda through lamina's invocation service (no HTTP),
activities through the activity queue, child executions through the executions service.

The engine's `IntegrationTaskRunner` maps answers to what Step Functions reports; this module
gives it the three small interfaces it asks for, bound to the account and region of the
execution, so that a bare function name in `lambda:invoke` means that account's function.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from lamina.context import RequestContext
from lamina.invoke.service import InvokeService
from lamina.states.errors import API_ERRORS
from lamina.states.integrations import IntegrationTaskRunner, LambdaInvokeResult
from lamina.states.service.activity_tasks import ActivityTask, ActivityTasks
from lamina.states.service.records import ExecutionRecord
from lamina.states.service.registry import Registry
from lamina.states.tasks import INTEGRATION, TaskOutcome, TaskRequest

ActivityDoesNotExist = API_ERRORS["ActivityDoesNotExist"]

# Child executions started without a Name get one derived from the task token, so that a
# task run again after a crash finds the child it already started (StartExecution with the
# same name and input is idempotent) instead of starting a second one.
_CHILD_NAMES = uuid.UUID("6f1d3c1e-6a43-4c55-9a8e-2f0b8f4d7c21")

# (account, region, state machine ARN, input, name, adopt) -> StartExecution's answer; with `adopt`,
# an execution of that name and input that already ended is the one asked for.
StartChild = Callable[[str, str, str, str, str, bool], Awaitable[dict[str, Any]]]
WaitForEnd = Callable[[str], Awaitable[dict[str, Any]]]
StopChild = Callable[[str], Awaitable[None]]


class InProcessLambda:
    """The engine's `LambdaInvoker` over `InvokeService.invoke`, as the execution's account."""

    def __init__(self, invoke: InvokeService, account_id: str, region: str) -> None:
        self.service = invoke
        self.account_id = account_id
        self.region = region

    async def invoke(self, function_name: str, payload: bytes, *, qualifier: str | None = None,
                     invocation_type: str = "RequestResponse", client_context: str | None = None
                     ) -> LambdaInvokeResult:
        ctx = RequestContext(self.account_id, self.region, str(uuid.uuid4()))
        params: dict[str, Any] = {"FunctionName": function_name, "Payload": payload,
                                  "InvocationType": invocation_type}
        if qualifier:
            params["Qualifier"] = qualifier
        if client_context:
            params["ClientContext"] = client_context
        answer = await self.service.invoke(ctx, params)
        return LambdaInvokeResult(status_code=answer["StatusCode"], payload=answer.get("Payload") or b"",
                                  function_error=answer.get("FunctionError"),
                                  executed_version=answer.get("ExecutedVersion", "$LATEST"),
                                  request_id=ctx.request_id)


class ActivityScheduler:
    """The engine's `ActivityQueue`: an activity task waits here for GetActivityTask."""

    def __init__(self, registry: Registry, tasks: ActivityTasks) -> None:
        self.registry = registry
        self.tasks = tasks

    async def schedule(self, activity_arn: str, task_token: str, input_text: str,
                       heartbeat_seconds: int | None) -> None:
        if activity_arn not in self.registry.activities:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{activity_arn}'")
        self.tasks.schedule(ActivityTask(activity_arn, task_token, input_text))


class ChildExecutions:
    """The engine's `ExecutionStarter`, as the parent execution's account."""

    def __init__(self, account_id: str, region: str, start: StartChild, wait: WaitForEnd, adopt: bool) -> None:
        self.account_id = account_id
        self.region = region
        self._start = start
        self._wait = wait
        self.adopt = adopt  # the name was derived from the task token: a finished child is this task's

        self.started: str | None = None  # the child's execution ARN, once started

    async def start_execution(self, state_machine_arn: str, input_text: str, name: str | None,
                              parent_execution_arn: str) -> dict[str, Any]:
        assert name is not None  # TaskRunners names every child
        started = await self._start(self.account_id, self.region, state_machine_arn, input_text, name, self.adopt)
        self.started = started["executionArn"]
        return started

    async def wait_for_execution(self, execution_arn: str) -> dict[str, Any]:
        return await self._wait(execution_arn)


class TaskRunners:
    """Runs any execution's tasks with runners bound to the execution's account and region."""

    def __init__(self, invoke: InvokeService, registry: Registry, activity_tasks: ActivityTasks) -> None:
        self.invoke = invoke
        self.activities = ActivityScheduler(registry, activity_tasks)
        self._runners: dict[tuple[str, str], IntegrationTaskRunner] = {}
        self._awaited_children: dict[str, ChildExecutions] = {}  # task token -> a `.sync` task's child
        self._stopping: set[asyncio.Task] = set()
        self.start_child: StartChild | None = None
        self.wait_for_end: WaitForEnd | None = None
        self.stop_child: StopChild | None = None

    def _runner(self, account_id: str, region: str) -> IntegrationTaskRunner:
        runner = self._runners.get((account_id, region))
        if runner is None:
            runner = IntegrationTaskRunner(InProcessLambda(self.invoke, account_id, region), self.activities)
            self._runners[(account_id, region)] = runner
        return runner

    async def run(self, record: ExecutionRecord, request: TaskRequest) -> TaskOutcome:
        resource = request.resource
        if (resource.kind, resource.service, resource.action) != (INTEGRATION, "states", "startExecution"):
            return await self._runner(record.account_id, record.region).run(request)
        assert self.start_child is not None and self.wait_for_end is not None
        request, derived = _name_child(request)
        children = ChildExecutions(record.account_id, record.region, self.start_child, self.wait_for_end, derived)
        self._awaited_children[request.task_token] = children
        try:
            return await IntegrationTaskRunner(executions=children).run(request)
        finally:
            self._awaited_children.pop(request.task_token, None)

    def cancel(self, task_token: str) -> None:
        """The task was aborted or timed out: a `.sync` child it waits for is stopped too (as Step
        Functions stops the job of a `.sync` task). Not called on shutdown: children outlive that."""
        children = self._awaited_children.pop(task_token, None)
        if children is None or children.started is None or self.stop_child is None:
            return
        task = asyncio.get_running_loop().create_task(self.stop_child(children.started))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)


def _name_child(request: TaskRequest) -> tuple[TaskRequest, bool]:
    """The request with a Name for the child, and whether lamina made that name up."""
    if not isinstance(request.input, dict) or request.input.get("Name") is not None:
        return request, False
    name = str(uuid.uuid5(_CHILD_NAMES, request.task_token))
    return dataclasses.replace(request, input={**request.input, "Name": name}), True
