"""The execution operations: StartExecution, StartSyncExecution, DescribeExecution,
StopExecution, ListExecutions, GetExecutionHistory, and the task token callbacks
(SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat)."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from lamina.context import RequestContext
from lamina.states import jsondoc
from lamina.states.errors import API_ERRORS, InvalidExecutionInput, InvalidOutput
from lamina.states.execution import RUNNING, SUCCEEDED
from lamina.states.interpreter import PAYLOAD_LIMIT_BYTES
from lamina.states.service import paging
from lamina.states.service.arns import EXECUTION, ValidationException, check_name, execution_arn, parse_arn
from lamina.states.service.executions import ExecutionAlreadyExists, Executions
from lamina.states.service.machines_api import ExecutionDoesNotExist, find_machine
from lamina.states.service.records import EXPRESS, ExecutionSummary
from lamina.states.service.registry import Registry

StateMachineTypeNotSupported = API_ERRORS["StateMachineTypeNotSupported"]

# Express executions are billed in 100 ms steps with at least 64 MB.
_BILLING_STEP_MS = 100
_BILLED_MEMORY_MB = 64
# Fields of history event details that carry execution data (GetExecutionHistory's includeExecutionData).
_DATA_FIELDS = ("input", "inputDetails", "output", "outputDetails", "parameters")


def _parse_input(text: str) -> Any:
    if len(text.encode()) > PAYLOAD_LIMIT_BYTES:
        raise InvalidExecutionInput(
            f"Invalid State Machine Execution Input: 'the input exceeds {PAYLOAD_LIMIT_BYTES} bytes'")
    try:
        return jsondoc.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{e.msg}'") from None


def _redrive(summary: ExecutionSummary) -> dict[str, Any]:
    if summary.status in (RUNNING, SUCCEEDED):
        reason = f"Execution is {summary.status} and cannot be redriven"
    else:
        reason = "lamina does not redrive executions"
    return {"redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    return {key: ({k: v for k, v in value.items() if k not in _DATA_FIELDS} if key.endswith("EventDetails")
                  else value) for key, value in event.items()}


class ExecutionsApi:
    def __init__(self, registry: Registry, executions: Executions) -> None:
        self.registry = registry
        self.executions = executions

    async def _find(self, ctx: RequestContext, arn: str) -> ExecutionSummary:
        parsed = parse_arn(arn, EXECUTION)
        summary = await self.executions.store.find(arn) if parsed.visible_to(ctx) else None
        if summary is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return summary

    async def _start(self, ctx: RequestContext, params: dict[str, Any], sync: bool) -> ExecutionSummary:
        machine = find_machine(self.registry, ctx, params["stateMachineArn"])
        if sync and machine.type != EXPRESS:
            raise StateMachineTypeNotSupported("StartSyncExecution is not available for STANDARD workflows")
        name = check_name(params["name"]) if "name" in params else str(uuid.uuid4())
        text = params.get("input", "{}")
        value = _parse_input(text)
        revision, parsed = await self.registry.revision(machine.revision.id)
        trace = params.get("traceHeader")
        if machine.type == EXPRESS:
            return await self.executions.start_express(machine, revision, parsed, name, text, value, trace, sync)
        return await self.executions.start_standard(machine, revision, parsed, name, text, value, trace)

    async def start_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = await self._start(ctx, params, sync=False)
        return {"executionArn": summary.record.arn, "startDate": summary.record.start_date}

    async def start_sync_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = await self._start(ctx, params, sync=True)
        out = summary.describe(include_data=params.get("includedData") != "METADATA_ONLY")
        stop = summary.stop_date or summary.record.start_date
        elapsed_ms = max(0.0, (stop - summary.record.start_date) * 1000)
        out["billingDetails"] = {
            "billedMemoryUsedInMB": _BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": max(1, math.ceil(elapsed_ms / _BILLING_STEP_MS)) * _BILLING_STEP_MS,
        }
        return out

    async def describe_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = await self._find(ctx, params["executionArn"])
        out = summary.describe(include_data=params.get("includedData") != "METADATA_ONLY")
        out.update(_redrive(summary))
        return out

    async def stop_execution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = await self._find(ctx, params["executionArn"])
        stop_date = await self.executions.stop(summary, params.get("error"), params.get("cause"))
        return {"stopDate": stop_date}

    async def list_executions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if "stateMachineArn" not in params:
            if "mapRunArn" in params:
                raise ValidationException("lamina does not run Distributed Map runs (mapRunArn)")
            raise ValidationException("Must provide a StateMachine ARN or MapRun ARN")
        machine = find_machine(self.registry, ctx, params["stateMachineArn"])
        if machine.type == EXPRESS:
            raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        if params.get("redriveFilter") == "REDRIVEN":
            return {"executions": []}  # lamina never redrives
        limit = paging.page_size(params.get("maxResults"))
        found = await self.executions.store.list(machine.arn, params.get("statusFilter"),
                                                 paging.decode_int(params.get("nextToken")), limit + 1)
        out: dict[str, Any] = {"executions": [s.list_item() for s in found[:limit]]}
        if len(found) > limit:
            out["nextToken"] = paging.encode(found[limit - 1].record.id)
        return out

    async def get_execution_history(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        summary = await self._find(ctx, params["executionArn"])
        limit = paging.page_size(params.get("maxResults"))
        reverse = bool(params.get("reverseOrder"))
        events = await self.executions.store.history(summary.record.id, paging.decode_int(params.get("nextToken")),
                                                     reverse, limit + 1)
        page = events[:limit]
        if params.get("includeExecutionData") is False:
            page = [_without_data(e) for e in page]
        out: dict[str, Any] = {"events": page}
        if len(events) > limit:
            out["nextToken"] = paging.encode(page[-1]["id"])
        return out

    # ------------------------------------------------------------ task tokens

    async def send_task_success(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params["taskToken"]
        try:
            output = jsondoc.loads(params["output"])
        except json.JSONDecodeError as e:
            raise InvalidOutput(f"Invalid Output: '{e.msg}'") from None
        await self.executions.task_answered(
            ctx.account_id, ctx.region, token, lambda i, st, now: i.task_succeeded(st, token, output, now))
        return {}

    async def send_task_failure(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params["taskToken"]
        error, cause = params.get("error", ""), params.get("cause", "")
        await self.executions.task_answered(
            ctx.account_id, ctx.region, token, lambda i, st, now: i.task_failed(st, token, error, cause, now))
        return {}

    async def send_task_heartbeat(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params["taskToken"]
        await self.executions.task_answered(
            ctx.account_id, ctx.region, token, lambda i, st, now: i.task_heartbeat(st, token, now))
        return {}

    # ------------------------------------------------------------ child executions

    async def start_child(self, account_id: str, region: str, machine_arn: str, input_text: str, name: str,
                          adopt: bool) -> dict[str, Any]:
        """`states:startExecution` from a Task: StartExecution as the parent's account. With `adopt`
        (a task run again after a restart), a child of that name and input that already ended is
        the one this task started."""
        ctx = RequestContext(account_id, region, str(uuid.uuid4()))
        try:
            return await self.start_execution(
                ctx, {"stateMachineArn": machine_arn, "input": input_text, "name": name})
        except ExecutionAlreadyExists:
            if not adopt:
                raise
            existing = await self.executions.store.find(execution_arn(machine_arn, name))
            if existing is None or existing.record.input != input_text:
                raise
            return {"executionArn": existing.record.arn, "startDate": existing.record.start_date}

    async def stop_child(self, execution_arn: str) -> None:
        """A `.sync` child whose parent task was aborted is stopped."""
        summary = await self.executions.store.find(execution_arn)
        if summary is not None and summary.status == RUNNING:
            await self.executions.stop(summary, None, None)

    async def wait_for_child(self, execution_arn: str) -> dict[str, Any]:
        return (await self.executions.wait_for_end(execution_arn)).describe()
