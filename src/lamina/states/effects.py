"""What one interpreter step asks its driver to do, and the step itself.

`RunTask` hands a task to the TaskRunner; `SetTimer`/`CancelTimer` arm and disarm durable
timers (Wait states, retry back-off, task timeouts and heartbeats, the execution's
TimeoutSeconds); `CancelTask` says a task's result is no longer wanted; `ContinueLater` says
the step used up its budget with states still ready to run: the driver calls
`Interpreter.resume` when the execution's turn comes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lamina.states.tasks import TaskRequest


@dataclass(frozen=True)
class RunTask:
    request: TaskRequest
    resumed: bool = False  # re-armed after a restart: the task may already be under way


@dataclass(frozen=True)
class SetTimer:
    timer_id: str
    fire_at: float


@dataclass(frozen=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True)
class CancelTask:
    task_token: str


@dataclass(frozen=True)
class ContinueLater:
    pass


Effect = RunTask | SetTimer | CancelTimer | CancelTask | ContinueLater


@dataclass
class Step:
    events: list[dict[str, Any]] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
