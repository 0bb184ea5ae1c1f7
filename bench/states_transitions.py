"""State transitions per second of the in-memory engine: a 1,000-state Pass chain, and a Map
over 1,000 items whose iterations are each one Pass state. Prints JSON.

A transition is one state entered and left. Run: `.venv/bin/python bench/states_transitions.py`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from lamina.states import InMemoryDriver, VirtualClock, parse_definition
from lamina.states.tasks import TaskOutcome, TaskRequest

CHAIN_LENGTH = 1_000
MAP_ITEMS = 1_000
ROUNDS = 5


class NoTasks:
    async def run(self, request: TaskRequest) -> TaskOutcome:
        raise AssertionError("these machines have no Task states")

    async def cancel(self, task_token: str) -> None:
        return None


def pass_chain(length: int) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(length):
        state: dict[str, Any] = {"Type": "Pass", "Result": i, "ResultPath": "$.last"}
        if i + 1 < length:
            state["Next"] = f"S{i + 1}"
        else:
            state["End"] = True
        states[f"S{i}"] = state
    return {"StartAt": "S0", "States": states}


def pass_map() -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "End": True,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            }
        },
    }


def measure(definition: dict[str, Any], execution_input: Any, transitions: int) -> dict[str, Any]:
    machine = parse_definition(json.dumps(definition))
    best = float("inf")
    events = 0
    for _ in range(ROUNDS):
        driver = InMemoryDriver(machine, NoTasks(), VirtualClock())
        started = time.perf_counter()
        execution = asyncio.run(driver.start(execution_input))
        best = min(best, time.perf_counter() - started)
        assert execution.status == "SUCCEEDED", execution.state.error
        events = len(execution.history)
    return {
        "transitions": transitions,
        "history_events": events,
        "best_seconds": round(best, 4),
        "transitions_per_second": round(transitions / best),
        "events_per_second": round(events / best),
    }


def main() -> None:
    results = {
        "pass_chain_1000": measure(pass_chain(CHAIN_LENGTH), {"seed": 1}, CHAIN_LENGTH),
        # 1,000 iterations of one Pass state, plus the Map state itself.
        "map_1000_pass_items": measure(pass_map(), {"items": list(range(MAP_ITEMS))}, MAP_ITEMS + 1),
    }
    print(json.dumps({"benchmark": "states_transitions", "rounds": ROUNDS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
