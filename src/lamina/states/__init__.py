"""The Amazon States Language engine.

Parse and validate: `parse_definition(text)` (raises `InvalidDefinition`) and
`validate_definition(text)` (diagnostics for ValidateStateMachineDefinition).
Run: an `Interpreter` advances an `ExecutionState` step by step and says what to do
(`RunTask`, `SetTimer`, ...); `InMemoryDriver` does it in memory, with a `VirtualClock`
for tests. Tasks go through a `TaskRunner`; `IntegrationTaskRunner` is the real one.
"""

from lamina.states.execution import ExecutionInfo, ExecutionState
from lamina.states.integrations import IntegrationTaskRunner
from lamina.states.interpreter import CancelTask, CancelTimer, Interpreter, RunTask, SetTimer, Step
from lamina.states.memory import InMemoryDriver, SystemClock, VirtualClock
from lamina.states.tasks import TaskOutcome, TaskRequest, TaskRunner
from lamina.states.validation import parse_definition, validate_definition

__all__ = [
    "CancelTask",
    "CancelTimer",
    "ExecutionInfo",
    "ExecutionState",
    "InMemoryDriver",
    "IntegrationTaskRunner",
    "Interpreter",
    "RunTask",
    "SetTimer",
    "Step",
    "SystemClock",
    "TaskOutcome",
    "TaskRequest",
    "TaskRunner",
    "VirtualClock",
    "parse_definition",
    "validate_definition",
]
