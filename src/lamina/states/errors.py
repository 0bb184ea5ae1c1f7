"""Step Functions errors: the API's exceptions and the error names executions fail with.

The API exceptions are made from the stepfunctions service model (every shape marked
`exception`), so the set of codes is never retyped by hand; the JSON 1.0 protocol puts the
class's `code` in `__type`. `StatesError` is different: it is not an API error but the
`Error`/`Cause` pair a state fails with, which Retry and Catch match on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.loaders import Loader

from lamina.errors import AwsError


class StepFunctionsError(AwsError):
    """Base of the stepfunctions model's exceptions (all HTTP 400, message under `message`)."""

    code = "ValidationException"
    status = 400
    message_key = "message"


@cache
def _model_exception_codes() -> tuple[str, ...]:
    shapes = Loader().load_service_model("stepfunctions", "service-2")["shapes"]
    return tuple(name for name, shape in shapes.items() if shape.get("exception"))


def _make(code: str) -> type[StepFunctionsError]:
    return type(code, (StepFunctionsError,), {"code": code})


# Every exception the model declares, by code.
API_ERRORS: dict[str, type[StepFunctionsError]] = {code: _make(code) for code in _model_exception_codes()}

InvalidDefinition = API_ERRORS["InvalidDefinition"]
InvalidToken = API_ERRORS["InvalidToken"]
TaskDoesNotExist = API_ERRORS["TaskDoesNotExist"]
TaskTimedOut = API_ERRORS["TaskTimedOut"]
InvalidExecutionInput = API_ERRORS["InvalidExecutionInput"]
InvalidOutput = API_ERRORS["InvalidOutput"]


# The predefined error names of the States language.
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

# Terminal errors: no Retry or Catch (not even States.ALL) ever handles them.
UNCATCHABLE = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesError(Exception):
    """A state failed with `error` and `cause`, as Step Functions reports them."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause

    def output(self) -> dict[str, Any]:
        """The error output a Catch hands on (`$states.errorOutput` in JSONata)."""
        return {"Error": self.error, "Cause": self.cause}
