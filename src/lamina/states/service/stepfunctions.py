"""The Step Functions service of one lamina process: its parts, wired, with the lifecycle
hooks the server calls (start, close, and the development reset)."""

from __future__ import annotations

from lamina.invoke.service import InvokeService
from lamina.states.service.activities_api import LONG_POLL_SECONDS, ActivitiesApi
from lamina.states.service.activity_tasks import ActivityTasks
from lamina.states.service.executions import Executions
from lamina.states.service.executions_api import ExecutionsApi
from lamina.states.service.machines_api import StateMachinesApi
from lamina.states.service.registry import Registry
from lamina.states.service.store import ExecutionStore
from lamina.states.service.tags import TagsApi
from lamina.states.service.task_runners import TaskRunners
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore


class StepFunctions:
    def __init__(self, store: StateStore, commits: GroupCommitter, invoke: InvokeService,
                 activity_poll_seconds: float = LONG_POLL_SECONDS) -> None:
        self.registry = Registry(store, commits)
        self.activity_tasks = ActivityTasks()
        self.runners = TaskRunners(invoke, self.registry, self.activity_tasks)
        self.executions = Executions(ExecutionStore(store, commits), self.registry, self.activity_tasks,
                                     self.runners)
        self.machines_api = StateMachinesApi(self.registry, self.executions)
        self.executions_api = ExecutionsApi(self.registry, self.executions)
        self.activities_api = ActivitiesApi(self.registry, self.activity_tasks, self.executions,
                                            activity_poll_seconds)
        self.tags_api = TagsApi(self.registry)
        self.runners.start_child = self.executions_api.start_child
        self.runners.wait_for_end = self.executions_api.wait_for_child
        self.runners.stop_child = self.executions_api.stop_child

    async def start(self) -> None:
        """Load the resources, then resume every Standard execution the last process left running."""
        await self.registry.load()
        await self.executions.start()

    async def close(self) -> None:
        await self.executions.close()

    async def reset(self) -> None:
        await self.executions.reset()
        self.registry.wipe()
