"""Activity tasks waiting for a worker, and workers waiting for a task (GetActivityTask's long poll).

Only in memory: the execution's checkpoint says which activity tasks were scheduled and not
yet taken, and the executions service puts them back here after a restart.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ActivityTask:
    activity_arn: str
    token: str
    input: str


class ActivityTasks:
    def __init__(self) -> None:
        self._queued: dict[str, deque[ActivityTask]] = defaultdict(deque)
        self._pollers: dict[str, deque[asyncio.Future[ActivityTask | None]]] = defaultdict(deque)
        self._by_token: dict[str, ActivityTask] = {}

    def schedule(self, task: ActivityTask) -> None:
        if task.token in self._by_token:
            return
        pollers = self._pollers.get(task.activity_arn)
        while pollers:
            poller = pollers.popleft()
            if not poller.done():
                poller.set_result(task)
                return
        self._queued[task.activity_arn].append(task)
        self._by_token[task.token] = task

    def cancel(self, token: str) -> None:
        """The task is no longer wanted (aborted, timed out): no worker should get it."""
        task = self._by_token.pop(token, None)
        if task is not None:
            self._queued[task.activity_arn].remove(task)

    async def take(self, activity_arn: str, timeout: float) -> ActivityTask | None:
        queued = self._queued.get(activity_arn)
        if queued:
            task = queued.popleft()
            del self._by_token[task.token]
            return task
        poller: asyncio.Future[ActivityTask | None] = asyncio.get_running_loop().create_future()
        self._pollers[activity_arn].append(poller)
        try:
            return await asyncio.wait_for(poller, timeout)
        except TimeoutError:
            return None

    def put_back(self, task: ActivityTask) -> None:
        """A task taken by a poller that could not hand it on goes to the front again."""
        self._queued[task.activity_arn].appendleft(task)
        self._by_token[task.token] = task

    def queued(self, activity_arn: str) -> int:
        return len(self._queued.get(activity_arn, ()))

    def wipe(self) -> None:
        """Answer every waiting poller with no task and forget every queued task."""
        for pollers in self._pollers.values():
            for poller in pollers:
                if not poller.done():
                    poller.set_result(None)
        self._pollers.clear()
        self._queued.clear()
        self._by_token.clear()
