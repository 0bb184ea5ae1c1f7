"""The activity operations: Create/Describe/Delete/ListActivities and GetActivityTask, the
long poll an activity worker takes its tasks with."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lamina.context import RequestContext
from lamina.states.errors import TaskDoesNotExist, TaskTimedOut
from lamina.states.service import paging
from lamina.states.service.activity_tasks import ActivityTasks
from lamina.states.service.arns import ACTIVITY, activity_arn, check_name, parse_arn
from lamina.states.service.executions import Executions
from lamina.states.service.registry import Activity, Registry
from lamina.states.service.tags import tag_dict
from lamina.states.service.task_runners import ActivityDoesNotExist

# How long GetActivityTask holds a poll open before answering with no task (AWS: 60 s).
LONG_POLL_SECONDS = 60.0


class ActivitiesApi:
    def __init__(self, registry: Registry, tasks: ActivityTasks, executions: Executions,
                 long_poll_seconds: float = LONG_POLL_SECONDS) -> None:
        self.registry = registry
        self.tasks = tasks
        self.executions = executions
        self.long_poll_seconds = long_poll_seconds

    def _find(self, ctx: RequestContext, arn: str) -> Activity:
        parsed = parse_arn(arn, ACTIVITY)
        activity = self.registry.activities.get(arn) if parsed.visible_to(ctx) else None
        if activity is None:
            raise ActivityDoesNotExist(f"Activity Does Not Exist: '{arn}'")
        return activity

    async def create_activity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Idempotent by name (tags of a repeated call are ignored, as on AWS)."""
        arn = activity_arn(ctx, check_name(params["name"]))
        existing = self.registry.activities.get(arn)
        if existing is not None:
            return {"activityArn": arn, "creationDate": existing.creation_date}
        activity = Activity(arn, params["name"], ctx.account_id, ctx.region, time.time(),
                            tag_dict(arn, params.get("tags")))
        await self.registry.save_activity(activity)
        return {"activityArn": arn, "creationDate": activity.creation_date}

    async def describe_activity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        activity = self._find(ctx, params["activityArn"])
        return {"activityArn": activity.arn, "name": activity.name, "creationDate": activity.creation_date}

    async def delete_activity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["activityArn"]
        if parse_arn(arn, ACTIVITY).visible_to(ctx) and arn in self.registry.activities:
            await self.registry.delete_activity(arn)
        return {}

    async def list_activities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, token = paging.page_by_name(
            (x for x in self.registry.activities.values() if (x.account_id, x.region) == (ctx.account_id, ctx.region)),
            params)
        out: dict[str, Any] = {"activities": [
            {"activityArn": a.arn, "name": a.name, "creationDate": a.creation_date} for a in page]}
        if token:
            out["nextToken"] = token
        return out

    async def get_activity_task(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """A task for the worker, or (after the long poll) none. The task counts as started
        (ActivityStarted, its heartbeat clock running) once it is handed out."""
        activity = self._find(ctx, params["activityArn"])
        worker = params.get("workerName")
        deadline = time.monotonic() + self.long_poll_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            task = await self.tasks.take(activity.arn, remaining)
            if task is None:
                break
            try:
                await self.executions.task_answered(
                    ctx.account_id, ctx.region, task.token,
                    lambda i, st, now, token=task.token: i.task_started(st, token, worker, now))
            except (TaskDoesNotExist, TaskTimedOut):
                continue  # its execution moved on meanwhile
            except asyncio.CancelledError:
                self.tasks.put_back(task)
                raise
            return {"taskToken": task.token, "input": task.input}
        return {}
