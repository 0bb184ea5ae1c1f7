"""Throttled async events wait per function and per account; a queue emptied is deleted, so
functions and accounts once throttled do not stay in memory."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from lamina.invoke.async_dispatch import AsyncDispatcher
from lamina.invoke.async_queue import AsyncEvent


def _dispatcher(events: dict[int, AsyncEvent], ran: list[int]) -> AsyncDispatcher:
    queue = SimpleNamespace(events=events, in_flight=set(), run_now=lambda e: ran.append(e.id))
    invoke = SimpleNamespace(limiter=SimpleNamespace(on_release=[]))
    return AsyncDispatcher(queue, None, None, None, None, invoke, 1.0)


def test_emptied_throttle_queues_are_deleted() -> None:
    async def scenario() -> None:
        live = AsyncEvent(1, "r1", "000000000000", "us-east-1", "f", None, 0.0)
        finished = AsyncEvent(2, "r2", "000000000000", "us-east-1", "f", None, 0.0)
        ran: list[int] = []
        dispatcher = _dispatcher({1: live}, ran)
        function, account = ("000000000000", "us-east-1", "f"), ("000000000000", "us-east-1")
        dispatcher._throttled[function].extend([finished, live])
        dispatcher._throttled_in_account[account].append(finished)
        dispatcher._capacity_freed(function, account)
        assert ran == [1]  # the finished event is skipped, the live one runs
        assert function not in dispatcher._throttled
        dispatcher._capacity_freed(("000000000000", "us-east-1", "other"), account)
        assert account not in dispatcher._throttled_in_account  # only a finished event: emptied
        assert ran == [1]

    asyncio.run(scenario())
