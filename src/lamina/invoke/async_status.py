"""What the asynchronous machinery holds for an account: queued, in-flight and retrying
events per function, deliveries still owed, recent failures, and the async metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from lamina.invoke.async_history import AsyncHistory
from lamina.invoke.async_queue import AsyncQueue
from lamina.invoke.outbox import Outbox
from lamina.observability.metrics import Metrics

ASYNC_METRICS = ("AsyncEventsReceived", "AsyncEventAge", "AsyncEventsDropped", "DeadLetterErrors",
                 "DestinationDeliveryFailures")


async def async_status(queue: AsyncQueue, outbox: Outbox, history: AsyncHistory, metrics: Metrics,
                       account_id: str, region: str, function: str | None) -> dict[str, Any]:
    counts: dict[str, Counter] = {}
    for event in queue.events.values():
        if (event.account_id, event.region) != (account_id, region) or (function and event.function != function):
            continue
        if event.id in queue.in_flight:
            state = "in_flight"
        elif event.attempts or event.throttles:
            state = "retrying"
        else:
            state = "queued"
        counts.setdefault(event.function, Counter())[state] += 1
    for name, owed in (await outbox.pending_counts(account_id, region)).items():
        if not function or name == function:
            counts.setdefault(name, Counter())["deliveries_pending"] += owed
    snapshot = metrics.snapshot(account_id, region, function)
    functions = sorted(set(counts) | set(snapshot))
    return {
        "functions": {
            name: {**{k: counts.get(name, Counter())[k] for k in ("queued", "in_flight", "retrying",
                                                                   "deliveries_pending")},
                   "metrics": {m: v for m, v in snapshot.get(name, {}).items() if m in ASYNC_METRICS}}
            for name in functions},
        "recent_failures": await history.recent(account_id, region, function),
    }
