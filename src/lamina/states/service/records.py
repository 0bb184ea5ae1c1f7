"""What the service knows about one execution besides the engine's checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STANDARD = "STANDARD"
EXPRESS = "EXPRESS"


@dataclass(frozen=True)
class ExecutionRecord:
    """Who an execution is; fixed when it starts."""

    id: int
    arn: str
    name: str
    account_id: str
    region: str
    state_machine_arn: str
    machine_type: str
    revision_id: str  # the state machine revision (definition, role) it runs
    input: str  # as the caller gave it
    start_date: float
    trace_header: str | None = None

    @property
    def durable(self) -> bool:
        return self.machine_type == STANDARD


@dataclass
class ExecutionSummary:
    """DescribeExecution's view of an execution, from its row or (Express) from memory."""

    record: ExecutionRecord
    status: str
    stop_date: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None

    def describe(self, include_data: bool = True) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {
            "executionArn": r.arn,
            "stateMachineArn": r.state_machine_arn,
            "name": r.name,
            "status": self.status,
            "startDate": r.start_date,
            "stopDate": self.stop_date,
            "traceHeader": r.trace_header,
            "error": self.error,
            "cause": self.cause,
        }
        if include_data:
            out.update(input=r.input, inputDetails={"included": True})
            if self.output is not None:
                out.update(output=self.output, outputDetails={"included": True})
        return out

    def list_item(self) -> dict[str, Any]:
        r = self.record
        return {"executionArn": r.arn, "stateMachineArn": r.state_machine_arn, "name": r.name,
                "status": self.status, "startDate": r.start_date, "stopDate": self.stop_date}
