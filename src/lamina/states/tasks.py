"""What a Task state asks for, and the interface that carries it out.

The interpreter never calls anything itself: when a Task starts it emits a `RunTask`
effect holding a `TaskRequest`; whoever drives the execution hands that to a
`TaskRunner` and reports the `TaskOutcome` back. A runner may finish the task at once
(a Lambda invoke), or answer `pending` and let the outcome arrive later by task token
(`.waitForTaskToken`, activities, `.sync` child executions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

LAMBDA_FUNCTION = "lambda_function"  # a bare function ARN: the legacy LambdaFunction* events
ACTIVITY = "activity"
INTEGRATION = "integration"  # arn:aws:states:::<service>:<action>[.pattern]

_INTEGRATION = re.compile(
    r"^arn:aws[a-z-]*:states:::(?P<service>[a-zA-Z0-9-]+):(?P<action>[a-zA-Z0-9-]+)(?:\.(?P<pattern>waitForTaskToken|sync:2|sync))?$"
)
_ACTIVITY = re.compile(
    r"^arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):activity:(?P<name>[A-Za-z0-9_.-]{1,80})$"
)
_FUNCTION = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$"
)


@dataclass(frozen=True)
class Resource:
    arn: str
    kind: str
    service: str = ""  # integrations: "lambda", "states", ...
    action: str = ""  # integrations: "invoke", "startExecution", ...
    pattern: str = ""  # "" (request-response) | "waitForTaskToken" | "sync" | "sync:2"
    region: str = ""

    @property
    def resource_type(self) -> str:
        """`resourceType` of the Task* history events."""
        return self.service if self.kind == INTEGRATION else self.kind

    @property
    def resource_name(self) -> str:
        """`resource` of the Task* history events: the action with its pattern suffix."""
        if self.kind != INTEGRATION:
            return self.arn
        return self.action + (f".{self.pattern}" if self.pattern else "")

    @property
    def waits_for_token(self) -> bool:
        return self.pattern == "waitForTaskToken"


def parse_resource(arn: Any) -> Resource | None:
    """The resource an ARN names, or None if it is not one a Task can run."""
    if not isinstance(arn, str):
        return None
    if m := _INTEGRATION.match(arn):
        return Resource(arn, INTEGRATION, m["service"], m["action"], m["pattern"] or "")
    if m := _ACTIVITY.match(arn):
        return Resource(arn, ACTIVITY, region=m["region"])
    if m := _FUNCTION.match(arn):
        return Resource(arn, LAMBDA_FUNCTION, "lambda", "invoke", region=m["region"])
    return None


@dataclass(frozen=True)
class TaskRequest:
    """One attempt at a Task: what to run, with which input, under which token."""

    task_token: str
    resource: Resource
    input: Any  # the effective input: Parameters/Arguments already applied
    execution_arn: str
    state_name: str
    timeout_seconds: int | None
    heartbeat_seconds: int | None
    credentials: Any = None


@dataclass(frozen=True)
class TaskOutcome:
    """`succeeded` with output, `failed` with error and cause, or `pending`.

    `pending` means the result will be reported later by task token; `output` may then
    hold what the submission returned (the TaskSubmitted event's output).
    """

    status: str
    output: Any = None
    error: str = ""
    cause: str = ""

    @classmethod
    def succeeded(cls, output: Any) -> TaskOutcome:
        return cls("succeeded", output)

    @classmethod
    def failed(cls, error: str, cause: str = "") -> TaskOutcome:
        return cls("failed", None, error, cause)

    @classmethod
    def pending(cls, submitted: Any = None) -> TaskOutcome:
        return cls("pending", submitted)


class TaskRunner(Protocol):
    async def run(self, request: TaskRequest) -> TaskOutcome: ...

    async def cancel(self, task_token: str) -> None:
        """The task is no longer wanted (its state was aborted or timed out); best effort."""
        ...
