"""History events as GetExecutionHistory returns them.

Each event is a plain dict in the API's shape (`timestamp` in epoch seconds, `type`, `id`,
`previousEventId` and the one details member the model gives that type), so the store can
persist it as JSON and the api layer can return it unchanged.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from botocore.loaders import Loader


@cache
def _details_members() -> frozenset[str]:
    shapes = Loader().load_service_model("stepfunctions", "service-2")["shapes"]
    return frozenset(m for m in shapes["HistoryEvent"]["members"] if m.endswith("EventDetails"))


@cache
def details_key(event_type: str) -> str | None:
    """The HistoryEvent member holding `event_type`'s details, or None when it has none."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    key = event_type[0].lower() + event_type[1:] + "EventDetails"
    return key if key in _details_members() else None


def to_json_text(value: Any) -> str:
    """Compact JSON, as Step Functions writes inputs and outputs into events."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def make_event(
    event_type: str, event_id: int, previous_id: int, timestamp: float, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": timestamp,
        "type": event_type,
        "id": event_id,
        "previousEventId": previous_id,
    }
    key = details_key(event_type)
    if key is not None and details is not None:
        event[key] = {k: v for k, v in details.items() if v is not None}
    return event


def payload_details(field: str, value: Any) -> dict[str, Any]:
    """`{"input": "<json>", "inputDetails": {"truncated": false}}` (or output)."""
    return {field: to_json_text(value), f"{field}Details": {"truncated": False}}
