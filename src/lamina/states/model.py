"""Typed states of a parsed definition.

Each state keeps the fields its type may carry, already checked by the parser. `ABSENT`
marks a field the definition leaves out, which for paths differs from `null`
(`"ResultPath": null` discards the result; no ResultPath means `$`). A `Workflow` is a
list of states with a start: the machine itself, each Parallel branch and each Map
item processor; `key` is its location in the definition, which frames use to find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSONPATH = "JSONPath"
JSONATA = "JSONata"


class _Absent:
    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


@dataclass
class Retrier:
    error_equals: list[str]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_strategy: str = "NONE"


@dataclass
class Catcher:
    error_equals: list[str]
    next: str
    result_path: Any = ABSENT  # JSONPath
    output: Any = ABSENT  # JSONata
    assign: dict[str, Any] | None = None


@dataclass
class State:
    name: str
    type: str
    query_language: str
    location: str  # e.g. /States/Name, for diagnostics
    next: str | None = None
    end: bool = False
    comment: str | None = None
    # JSONPath processing
    input_path: Any = ABSENT
    output_path: Any = ABSENT
    result_path: Any = ABSENT
    parameters: Any = ABSENT
    result_selector: Any = ABSENT
    # JSONata processing
    arguments: Any = ABSENT
    output: Any = ABSENT
    # both
    assign: dict[str, Any] | None = None
    retry: list[Retrier] = field(default_factory=list)
    catch: list[Catcher] = field(default_factory=list)

    @property
    def jsonata(self) -> bool:
        return self.query_language == JSONATA


@dataclass
class PassState(State):
    result: Any = ABSENT


@dataclass
class TaskState(State):
    resource: str = ""
    timeout_seconds: Any = ABSENT  # int, or a JSONata string
    timeout_seconds_path: str | None = None
    heartbeat_seconds: Any = ABSENT
    heartbeat_seconds_path: str | None = None
    credentials: Any = ABSENT


@dataclass
class ChoiceRule:
    """A comparison (`variable` `operator` `operand`), a combination (And/Or/Not) or a JSONata Condition."""

    next: str | None = None
    variable: str | None = None
    operator: str | None = None
    operand: Any = None
    combinator: str | None = None  # And | Or | Not
    children: list[ChoiceRule] = field(default_factory=list)
    condition: Any = ABSENT  # JSONata
    assign: dict[str, Any] | None = None
    output: Any = ABSENT


@dataclass
class ChoiceState(State):
    choices: list[ChoiceRule] = field(default_factory=list)
    default: str | None = None


@dataclass
class WaitState(State):
    seconds: Any = ABSENT
    timestamp: Any = ABSENT
    seconds_path: str | None = None
    timestamp_path: str | None = None


@dataclass
class SucceedState(State):
    pass


@dataclass
class FailState(State):
    error: Any = ABSENT
    cause: Any = ABSENT
    error_path: str | None = None
    cause_path: str | None = None


@dataclass
class Workflow:
    key: str
    start_at: str
    states: dict[str, State]
    query_language: str


@dataclass
class ParallelState(State):
    branches: list[Workflow] = field(default_factory=list)


@dataclass
class MapState(State):
    processor: Workflow | None = None
    processor_mode: str = "INLINE"
    items_path: Any = ABSENT  # JSONPath
    items: Any = ABSENT  # JSONata (or a literal array)
    item_selector: Any = ABSENT  # ItemSelector, or legacy Parameters
    item_batcher: dict[str, Any] | None = None
    max_concurrency: Any = 0
    max_concurrency_path: str | None = None
    tolerated_failure_count: Any = ABSENT
    tolerated_failure_count_path: str | None = None
    tolerated_failure_percentage: Any = ABSENT
    tolerated_failure_percentage_path: str | None = None
    label: str | None = None


@dataclass
class StateMachine:
    """A parsed definition: the top workflow, every nested one by key, and the source text."""

    definition: str
    root: Workflow
    workflows: dict[str, Workflow]
    timeout_seconds: int | None = None
    comment: str | None = None

    def state(self, workflow_key: str, name: str) -> State:
        return self.workflows[workflow_key].states[name]
