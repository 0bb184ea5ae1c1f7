"""Tumbling windows for stream mappings (TumblingWindowInSeconds): records are grouped
into fixed windows by arrival time; the function gets the window, the state it returned
last time in that window, and a final invocation (isFinalInvokeForWindow) when the
window ends, after which the state starts empty again."""

from __future__ import annotations

import math
from typing import Any

import orjson

from lamina.events import event_shapes
from lamina.events.pollers.stream_source import StreamRecord

STATE_LIMIT = 1_048_576  # 1 MB of state per shard


class TumblingWindow:
    def __init__(self, seconds: int, shard_id: str, stream_arn: str, saved: dict[str, Any] | None) -> None:
        self.seconds = seconds
        self.shard_id = shard_id
        self.stream_arn = stream_arn
        self.start: float | None = saved.get("start") if saved else None
        self.state: dict[str, Any] = dict(saved.get("state") or {}) if saved else {}
        self.terminated_early = False

    def window_of(self, record: StreamRecord) -> float:
        return math.floor(record.arrival / self.seconds) * self.seconds

    @property
    def end(self) -> float | None:
        return None if self.start is None else self.start + self.seconds

    def open(self, start: float) -> None:
        self.start = start
        self.state = {}
        self.terminated_early = False

    def close(self) -> None:
        self.start = None
        self.state = {}
        self.terminated_early = False

    def event(self, records: list[StreamRecord], final: bool) -> dict[str, Any]:
        assert self.start is not None
        return event_shapes.tumbling_window_event(
            [r.record for r in records], window_start=self.start, window_end=self.start + self.seconds,
            state=self.state, shard_id=self.shard_id, stream_arn=self.stream_arn, final=final,
            terminated_early=self.terminated_early)

    def accept(self, response: Any) -> bool:
        """Keep the state a response returns; a response without one is a failure."""
        if not isinstance(response, dict) or not isinstance(response.get("state"), dict):
            return False
        self.state = response["state"]
        if len(orjson.dumps(self.state)) > STATE_LIMIT:
            self.terminated_early = True  # the next invocation ends the window
        return True

    def saved(self) -> dict[str, Any] | None:
        return None if self.start is None else {"start": self.start, "state": self.state}
