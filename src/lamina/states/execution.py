"""The explicit, JSON-serialisable state of one execution.

Nothing about a running execution lives in a coroutine: it is all here, so the store can
checkpoint it after every step and any process can resume it. An execution is a tree of
`Frame`s: the root runs the machine's top workflow, and each Parallel branch and Map
iteration runs in a child frame whose `parent` is the frame running that state. The
outstanding side effects (tasks awaiting a result, timers awaiting their time) are listed
in `tasks` and `timers`, which is what a driver re-arms after a restart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"


@dataclass
class ExecutionInfo:
    """Who the execution is: what `$$.Execution` and `$$.StateMachine` report."""

    execution_arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str = ""
    start_time: float = 0.0
    redrive_count: int = 0


@dataclass
class Frame:
    id: str
    workflow: str  # key of the Workflow this frame runs
    parent: str | None = None  # frame running the Parallel/Map that started this one
    index: int = 0  # branch index, or Map item index
    state: str = ""  # current state's name
    # enter: about to run `state`; task/wait/retry/children: blocked on the matching side effect
    phase: str = "enter"
    input: Any = None  # the current state's raw input
    entered_time: float = 0.0
    entered_event_id: int = 0
    last_event_id: int = 0  # previousEventId of this frame's next event
    retries: dict[str, int] = field(default_factory=dict)  # retrier index -> retries used in this state
    retry_count: int = 0  # $$.State.RetryCount
    variables: dict[str, Any] = field(default_factory=dict)  # this scope's workflow variables
    effective_input: Any = None  # after InputPath/Parameters (JSONPath) or the state input (JSONata)
    task_token: str | None = None  # the task this frame waits for
    timer: str | None = None  # the Wait or retry timer this frame waits for
    fan_out: dict[str, Any] | None = None  # Parallel/Map bookkeeping while children run
    map_item: dict[str, Any] | None = None  # {"Index", "Value"} of a Map iteration

    def to_json(self) -> dict[str, Any]:
        # Shallow: the values are JSON already, and `asdict` would copy (and recurse into) them.
        return {f.name: getattr(self, f.name) for f in _FRAME_FIELDS}


_FRAME_FIELDS = fields(Frame)


@dataclass
class ExecutionState:
    info: ExecutionInfo
    input: Any
    status: str = RUNNING
    frames: dict[str, Frame] = field(default_factory=dict)
    # token -> {"frame", "resource", "input", "timeout", "heartbeat", "timers": [...], "started": bool}
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # timer id -> {"fire_at", "kind", "frame", "token"}
    timers: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_event_id: int = 0
    next_id: int = 0  # for frame and timer ids
    # Frames due to enter their state, in order: the work left when a step used up its budget.
    ready: list[str] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    cause: str | None = None
    stop_time: float | None = None

    @property
    def done(self) -> bool:
        return self.status != RUNNING

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def to_json(self) -> dict[str, Any]:
        """A checkpoint: plain JSON values only."""
        return {
            "info": asdict(self.info),
            "input": self.input,
            "status": self.status,
            "frames": {fid: f.to_json() for fid, f in self.frames.items()},
            "tasks": self.tasks,
            "timers": self.timers,
            "last_event_id": self.last_event_id,
            "next_id": self.next_id,
            "ready": self.ready,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "stop_time": self.stop_time,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecutionState:
        fields = dict(data)
        fields["info"] = ExecutionInfo(**data["info"])
        fields["frames"] = {fid: Frame(**f) for fid, f in data["frames"].items()}
        return cls(**fields)
