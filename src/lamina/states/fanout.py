"""Parallel and Map: starting child frames, and collecting what they end with.

Each branch or iteration runs in its own child frame; the parent frame's `fan_out` keeps
the bookkeeping (results so far, which children run, Map's next item and failure counts),
so it is checkpointed with everything else. Map starts at most MaxConcurrency iterations (and
never more than the 40 Step Functions runs at once inline) and starts the next as one finishes;
an iteration's frame is gone once it ends, only its result is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.states.dataflow import apply_input_path, apply_template, is_integer, select, value_or_path
from lamina.states.errors import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    StatesError,
)
from lamina.states.execution import Frame
from lamina.states.history import to_json_text
from lamina.states.model import ABSENT, MapState, ParallelState

if TYPE_CHECKING:
    from lamina.states.interpreter import Run

# An inline Map runs at most this many iterations at once, whatever its MaxConcurrency (0 included).
INLINE_MAP_CONCURRENCY = 40


def start_parallel(run: Run, frame: Frame, state: ParallelState) -> None:
    if state.jsonata:
        effective = (
            run.jsonata(frame, state.arguments, "Arguments", input=frame.input)
            if state.arguments is not ABSENT
            else frame.input
        )
    else:
        scope = run.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        if state.parameters is not ABSENT:
            effective = apply_template(state.parameters, scope.with_data(effective))
    run.event(frame, "ParallelStateStarted")
    frame.phase = "children"
    frame.fan_out = {
        "kind": "parallel",
        "results": [None] * len(state.branches),
        "pending": len(state.branches),
        "children": [],
    }
    for i, branch in enumerate(state.branches):
        child = Frame(
            id=run.st.new_id("f"),
            workflow=branch.key,
            parent=frame.id,
            index=i,
            state=branch.start_at,
            input=effective,
            last_event_id=frame.last_event_id,
        )
        run.st.frames[child.id] = child
        frame.fan_out["children"].append(child.id)
        run.queue_frame(child)


def start_map(run: Run, frame: Frame, state: MapState) -> None:
    if state.jsonata:
        effective = frame.input
        items = run.jsonata_or(frame, state.items, "Items") if state.items is not ABSENT else frame.input
        max_concurrency = run.jsonata_or(frame, state.max_concurrency, "MaxConcurrency")
        tolerated_count = run.jsonata_or(frame, state.tolerated_failure_count, "ToleratedFailureCount")
        tolerated_pct = run.jsonata_or(
            frame, state.tolerated_failure_percentage, "ToleratedFailurePercentage"
        )
        error = QUERY_EVALUATION_ERROR
    else:
        scope = run.scope(frame, frame.input)
        effective = apply_input_path(state.input_path, scope)
        scope = scope.with_data(effective)
        items = select(state.items_path, scope) if state.items_path is not ABSENT else effective
        max_concurrency = value_or_path(state.max_concurrency, state.max_concurrency_path, scope)
        tolerated_count = value_or_path(state.tolerated_failure_count, state.tolerated_failure_count_path, scope)
        tolerated_pct = value_or_path(
            state.tolerated_failure_percentage, state.tolerated_failure_percentage_path, scope
        )
        error = RUNTIME
    if not isinstance(items, list):
        raise StatesError(error, f"Map state items must be a JSON array, got: {to_json_text(items)}")
    if not is_integer(max_concurrency) or max_concurrency < 0:
        raise StatesError(
            error, f"MaxConcurrency must be a non-negative integer, got {to_json_text(max_concurrency)}"
        )
    for name, value in (
        ("ToleratedFailureCount", tolerated_count),
        ("ToleratedFailurePercentage", tolerated_pct),
    ):
        if value is not ABSENT and (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or value < 0
            or (name.endswith("Percentage") and value > 100)
        ):
            raise StatesError(error, f"{name} is out of range: {to_json_text(value)}")
    if state.item_batcher is not None:
        items = batches(run, frame, state, items, effective)
    run.event(frame, "MapStateStarted", {"length": len(items)})
    frame.phase = "children"
    frame.effective_input = effective
    frame.fan_out = {
        "kind": "map",
        "items": items,
        "next": 0,
        "active": [],
        "results": [None] * len(items),
        "succeeded": 0,
        "failed": 0,
        "max": int(max_concurrency),
        "tolerated_count": None if tolerated_count is ABSENT else tolerated_count,
        "tolerated_pct": None if tolerated_pct is ABSENT else tolerated_pct,
    }
    map_continue(run, frame, state)


def batches(run: Run, frame: Frame, state: MapState, items: list[Any], effective: Any) -> list[Any]:
    batcher = state.item_batcher or {}
    size = batcher.get("MaxItemsPerBatch") or len(items) or 1
    batch_input = batcher.get("BatchInput", ABSENT)
    if batch_input is not ABSENT:
        batch_input = (
            run.jsonata(frame, batch_input, "BatchInput", input=frame.input)
            if state.jsonata
            else apply_template(batch_input, run.scope(frame, effective))
        )
    batches = []
    for i in range(0, len(items), size):
        batch: dict[str, Any] = {"Items": items[i : i + size]}
        if batch_input is not ABSENT:
            batch["BatchInput"] = batch_input
        batches.append(batch)
    return batches


def map_continue(run: Run, frame: Frame, state: MapState) -> None:
    fan = frame.fan_out
    assert fan is not None and state.processor is not None
    most = min(fan["max"] or INLINE_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY)
    while fan["next"] < len(fan["items"]) and len(fan["active"]) < most:
        index = fan["next"]
        fan["next"] += 1
        value = fan["items"][index]
        item = {"Index": index, "Value": value}
        item_input = iteration_input(run, frame, state, item)
        child = Frame(
            id=run.st.new_id("f"),
            workflow=state.processor.key,
            parent=frame.id,
            index=index,
            state=state.processor.start_at,
            input=item_input,
            map_item=item,
        )
        run.st.frames[child.id] = child
        fan["active"].append(child.id)
        child.last_event_id = run.event(frame, "MapIterationStarted", {"name": state.name, "index": index})
        run.queue_frame(child)
    if fan["active"] or fan["next"] < len(fan["items"]):
        return
    run.event(frame, "MapStateSucceeded")
    frame.fan_out = None
    frame.phase = "running"
    run.finish_with_result(frame, state, fan["results"])


def iteration_input(run: Run, frame: Frame, state: MapState, item: dict[str, Any]) -> Any:
    if state.item_selector is ABSENT:
        return item["Value"]
    ctx = run.context(frame, item=item)
    if state.jsonata:
        return run.jsonata(frame, state.item_selector, "ItemSelector", input=frame.input, context=ctx)
    return apply_template(state.item_selector, run.scope(frame, frame.effective_input, ctx))


def exceeds_tolerance(fan: dict[str, Any]) -> bool:
    count, pct = fan["tolerated_count"], fan["tolerated_pct"]
    if count is None and pct is None:
        return True
    failed, total = fan["failed"], len(fan["items"])
    if count is not None and failed > count:
        return True
    return pct is not None and total > 0 and failed * 100.0 / total > pct


def child_succeeded(run: Run, parent: Frame, child: Frame, output: Any) -> None:
    state = run.machine.state(parent.workflow, parent.state)
    fan = parent.fan_out
    assert fan is not None
    fan["results"][child.index] = output
    parent.last_event_id = child.last_event_id
    if fan["kind"] == "map":
        assert isinstance(state, MapState)
        run.event(parent, "MapIterationSucceeded", {"name": state.name, "index": child.index})
        fan["active"].remove(child.id)
        fan["succeeded"] += 1
        run.guard(parent, state, lambda: map_continue(run, parent, state))
        return
    fan["children"].remove(child.id)
    fan["pending"] -= 1
    if fan["pending"] == 0:
        run.event(parent, "ParallelStateSucceeded")
        parent.fan_out = None
        parent.phase = "running"
        run.guard(parent, state, lambda: run.finish_with_result(parent, state, fan["results"]))


def child_failed(run: Run, parent: Frame, child: Frame, err: StatesError) -> None:
    """A branch or iteration failed: tolerate it (Map), or stop the siblings and fail the state."""
    state = run.machine.state(parent.workflow, parent.state)
    fan = parent.fan_out
    assert fan is not None
    parent.last_event_id = child.last_event_id
    if fan["kind"] == "map":
        assert isinstance(state, MapState)
        run.event(parent, "MapIterationFailed", {"name": state.name, "index": child.index})
        fan["active"].remove(child.id)
        fan["failed"] += 1
        if not exceeds_tolerance(fan):
            fan["results"][child.index] = err.output()
            run.guard(parent, state, lambda: map_continue(run, parent, state))
            return
        if fan["tolerated_count"] is not None or fan["tolerated_pct"] is not None:
            err = StatesError(
                EXCEED_TOLERATED_FAILURE_THRESHOLD, "The specified tolerated failure threshold was exceeded"
            )
        run.abort_children(parent)
        run.event(parent, "MapStateFailed")
    else:
        fan["children"].remove(child.id)
        run.abort_children(parent)
        run.event(parent, "ParallelStateFailed")
    parent.fan_out = None
    parent.phase = "running"
    run.fail_state(parent, state, err)
