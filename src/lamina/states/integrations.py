"""The task runner for real resources: Lambda (optimized `lambda:invoke` and bare function
ARNs), activities, and child executions (`states:startExecution`, `.sync`, `.sync:2`).

It talks to the rest of lamina through three small interfaces the server wires up
(`LambdaInvoker`, `ActivityQueue`, `ExecutionStarter`), and owns what Step Functions does
with their answers: the `lambda:invoke` response envelope (`Payload`, `StatusCode`,
`ExecutedVersion`, `SdkHttpMetadata`, ...), and the error names a failure becomes
(the function's `errorType`, `Lambda.<ServiceErrorCode>`, `Lambda.SdkClientException`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cache
from typing import Any, Protocol

from botocore.loaders import Loader

from lamina.errors import AwsError
from lamina.states import jsondoc
from lamina.states.errors import RUNTIME, TASK_FAILED
from lamina.states.tasks import ACTIVITY, LAMBDA_FUNCTION, TaskOutcome, TaskRequest


@dataclass
class LambdaInvokeResult:
    status_code: int
    payload: bytes
    function_error: str | None = None  # X-Amz-Function-Error: "Unhandled" or "Handled"
    executed_version: str = "$LATEST"
    request_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class LambdaInvoker(Protocol):
    async def invoke(
        self,
        function_name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = "RequestResponse",
        client_context: str | None = None,
    ) -> LambdaInvokeResult:
        """Invoke a function; service-side failures raise `lamina.errors.AwsError`."""
        ...


class ActivityQueue(Protocol):
    async def schedule(
        self, activity_arn: str, task_token: str, input_text: str, heartbeat_seconds: int | None
    ) -> None:
        """Make the task available to GetActivityTask; the result comes back by token."""
        ...


class ExecutionStarter(Protocol):
    async def start_execution(
        self, state_machine_arn: str, input_text: str, name: str | None, parent_execution_arn: str
    ) -> dict[str, Any]:
        """StartExecution: `{"executionArn", "startDate"}` (startDate in epoch seconds)."""
        ...

    async def wait_for_execution(self, execution_arn: str) -> dict[str, Any]:
        """DescribeExecution's answer once the execution has ended."""
        ...


@cache
def _lambda_error_codes() -> frozenset[str]:
    shapes = Loader().load_service_model("lambda", "service-2")["shapes"]
    return frozenset(name for name, shape in shapes.items() if shape.get("exception"))


def lambda_service_error(error: Exception) -> tuple[str, str]:
    """(Error, Cause) for a failed call to the Lambda API, named as Step Functions names them."""
    if not isinstance(error, AwsError):
        return "Lambda.SdkClientException", f"Unable to execute HTTP request: {error}"
    code = error.code if error.code in _lambda_error_codes() else "AWSLambdaException"
    request_id = error.fields.get("RequestId", "")
    cause = (
        f"{error.message} (Service: AWSLambda; Status Code: {error.status}; Error Code: {error.code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )
    return f"Lambda.{code}", cause


def lambda_function_error(payload_text: str) -> tuple[str, str]:
    """(Error, Cause) for a function that returned an error: its `errorType`, the payload as cause."""
    try:
        body = jsondoc.loads(payload_text)
    except json.JSONDecodeError:
        body = None
    error_type = body.get("errorType") if isinstance(body, dict) else None
    return (error_type if isinstance(error_type, str) and error_type else "Lambda.Unknown"), payload_text


def _parse_payload(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace")
    if not text:
        return ""
    try:
        return jsondoc.loads(text)
    except json.JSONDecodeError:
        return text


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def invoke_response(result: LambdaInvokeResult) -> dict[str, Any]:
    """The `lambda:invoke` integration's output: the Invoke response as the AWS SDK shows it."""
    headers = {
        "Content-Type": "application/json",
        "Date": formatdate(usegmt=True),
        "X-Amz-Executed-Version": result.executed_version,
        "x-amzn-RequestId": result.request_id,
        "Content-Length": str(len(result.payload)),
        **result.headers,
    }
    return {
        "ExecutedVersion": result.executed_version,
        "Payload": _parse_payload(result.payload),
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": result.status_code,
        },
        "SdkResponseMetadata": {"RequestId": result.request_id},
        "StatusCode": result.status_code,
    }


class IntegrationTaskRunner:
    def __init__(
        self,
        lambdas: LambdaInvoker | None = None,
        activities: ActivityQueue | None = None,
        executions: ExecutionStarter | None = None,
    ) -> None:
        self.lambdas = lambdas
        self.activities = activities
        self.executions = executions

    async def run(self, request: TaskRequest) -> TaskOutcome:
        resource = request.resource
        if resource.kind == LAMBDA_FUNCTION:
            return await self._bare_function(request)
        if resource.kind == ACTIVITY:
            return await self._activity(request)
        if (resource.service, resource.action) == ("lambda", "invoke"):
            return await self._lambda_invoke(request)
        if (resource.service, resource.action) == ("states", "startExecution"):
            return await self._start_execution(request)
        return TaskOutcome.failed(RUNTIME, f"The resource '{resource.arn}' is not supported by lamina")

    async def cancel(self, task_token: str) -> None:
        return None

    async def _call_lambda(self, name: str, payload: Any, **options: Any) -> LambdaInvokeResult | TaskOutcome:
        if self.lambdas is None:
            return TaskOutcome.failed(RUNTIME, "No Lambda invoker is configured")
        try:
            return await self.lambdas.invoke(name, _json_bytes(payload), **options)
        except Exception as e:
            return TaskOutcome.failed(*lambda_service_error(e))

    async def _bare_function(self, request: TaskRequest) -> TaskOutcome:
        arn = request.resource.arn
        parts = arn.split(":")
        qualifier = parts[7] if len(parts) > 7 else None
        result = await self._call_lambda(":".join(parts[:7]), request.input, qualifier=qualifier)
        if isinstance(result, TaskOutcome):
            return result
        if result.function_error:
            return TaskOutcome.failed(
                *lambda_function_error(result.payload.decode("utf-8", errors="replace"))
            )
        return TaskOutcome.succeeded(_parse_payload(result.payload))

    async def _lambda_invoke(self, request: TaskRequest) -> TaskOutcome:
        params = request.input if isinstance(request.input, dict) else {}
        name = params.get("FunctionName")
        if not isinstance(name, str) or not name:
            return TaskOutcome.failed(RUNTIME, "The field 'FunctionName' is required by lambda:invoke")
        options: dict[str, Any] = {
            "qualifier": params.get("Qualifier"),
            "invocation_type": params.get("InvocationType", "RequestResponse"),
            "client_context": params.get("ClientContext"),
        }
        payload = params.get("Payload", {})
        result = await self._call_lambda(name, payload, **options)
        if isinstance(result, TaskOutcome):
            return result
        if result.function_error:
            return TaskOutcome.failed(
                *lambda_function_error(result.payload.decode("utf-8", errors="replace"))
            )
        response = invoke_response(result)
        if request.resource.waits_for_token:
            return TaskOutcome.pending(response)
        return TaskOutcome.succeeded(response)

    async def _activity(self, request: TaskRequest) -> TaskOutcome:
        if self.activities is None:
            return TaskOutcome.failed(RUNTIME, "No activity queue is configured")
        text = json.dumps(request.input, separators=(",", ":"), ensure_ascii=False)
        try:
            await self.activities.schedule(
                request.resource.arn, request.task_token, text, request.heartbeat_seconds
            )
        except AwsError as e:
            return TaskOutcome.failed(TASK_FAILED, f"{e.code}: {e.message}")
        return TaskOutcome.pending()

    async def _start_execution(self, request: TaskRequest) -> TaskOutcome:
        if self.executions is None:
            return TaskOutcome.failed(RUNTIME, "No execution starter is configured")
        params = request.input if isinstance(request.input, dict) else {}
        arn = params.get("StateMachineArn")
        if not isinstance(arn, str):
            return TaskOutcome.failed(
                RUNTIME, "The field 'StateMachineArn' is required by states:startExecution"
            )
        child_input = params.get("Input", {})
        input_text = (
            child_input if isinstance(child_input, str) else json.dumps(child_input, separators=(",", ":"))
        )
        try:
            started = await self.executions.start_execution(
                arn, input_text, params.get("Name"), request.execution_arn
            )
        except AwsError as e:
            return TaskOutcome.failed(f"StepFunctions.{e.code}", e.message)
        pattern = request.resource.pattern
        if pattern == "waitForTaskToken":
            return TaskOutcome.pending()
        if not pattern:
            return TaskOutcome.succeeded(
                {"ExecutionArn": started["executionArn"], "StartDate": _millis(started["startDate"])}
            )
        described = await self.executions.wait_for_execution(started["executionArn"])
        output = _sync_output(described, parse_output=pattern == "sync:2")
        if described.get("status") != "SUCCEEDED":
            return TaskOutcome.failed(TASK_FAILED, json.dumps(output, separators=(",", ":")))
        return TaskOutcome.succeeded(output)


def _millis(epoch_seconds: Any) -> Any:
    return int(epoch_seconds * 1000) if isinstance(epoch_seconds, (int, float)) else epoch_seconds


def _sync_output(described: dict[str, Any], parse_output: bool) -> dict[str, Any]:
    """A finished child execution as `.sync` (output as text) or `.sync:2` (output as JSON) returns it."""
    out: dict[str, Any] = {
        "ExecutionArn": described.get("executionArn"),
        "Input": described.get("input"),
        "InputDetails": {"Included": True},
        "Name": described.get("name"),
        "StartDate": _millis(described.get("startDate")),
        "StateMachineArn": described.get("stateMachineArn"),
        "Status": described.get("status"),
        "StopDate": _millis(described.get("stopDate")),
    }
    if parse_output and isinstance(out["Input"], str):
        out["Input"] = json.loads(out["Input"])
    if "output" in described:
        output = described["output"]
        out["Output"] = json.loads(output) if parse_output and isinstance(output, str) else output
        out["OutputDetails"] = {"Included": True}
    for key in ("error", "cause"):
        if key in described:
            out[key.capitalize()] = described[key]
    return out
