"""Kinesis and DynamoDB Streams mappings: one consumer per shard, children after their
parents, new shards found by listing the stream again from time to time.

Where a shard starts: after its checkpoint if it has one; otherwise at the mapping's
StartingPosition for the shards there at the mapping's first start, and at
TRIM_HORIZON for shards that appear later (the children of a reshard). A LATEST or
AT_TIMESTAMP start is written down first, as a time, so that a restart before the
first record is settled resumes from that time instead of from a new LATEST.
"""

from __future__ import annotations

import asyncio
import logging
import time

from lamina.backoff import exponential_delay
from lamina.events.checkpoints import Checkpoint
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.pollers.base import PollerDeps, StopSignal
from lamina.events.pollers.shard_consumer import (
    ERROR_BACKOFF_SECONDS,
    MAX_ERROR_BACKOFF_SECONDS,
    ShardConsumer,
)
from lamina.events.pollers.stream_source import Shard, StreamSource

log = logging.getLogger("lamina.events.streams")

SHARD_REFRESH_SECONDS = 10.0


class StreamPoller:
    def __init__(self, mapping: EventSourceMapping, deps: PollerDeps, source: StreamSource) -> None:
        self.mapping = mapping
        self.deps = deps
        self.source = source
        self.stopping = StopSignal()
        self.checkpoints: dict[str, Checkpoint] = {}
        self.consumers: dict[str, asyncio.Task] = {}
        self.fresh: set[str] = set()  # shards whose LATEST start was taken in this run
        self._changed = asyncio.Event()

    def stop(self) -> None:
        self.stopping.event.set()

    async def run(self) -> None:
        self.checkpoints = await self.deps.checkpoints.load(self.mapping.uuid)
        first_start = not self.checkpoints
        failures = 0
        try:
            while not self.stopping.set:
                try:
                    shards = await self.source.shards()
                except Exception as error:
                    # A stream that is missing stays reported on the mapping; the log has it once.
                    failures += 1
                    log.log(logging.WARNING if failures == 1 else logging.DEBUG,
                            "mapping %s: cannot list shards of %s (retrying with back-off): %s", self.mapping.uuid,
                            self.mapping.source_arn, error)
                    self.deps.dispatcher.report(self.mapping, f"PROBLEM: Cannot access stream: {error}")
                    await self._pause(exponential_delay(failures, ERROR_BACKOFF_SECONDS, MAX_ERROR_BACKOFF_SECONDS))
                    continue
                if failures:
                    log.info("mapping %s: %s is readable again", self.mapping.uuid, self.mapping.source_arn)
                    failures = 0
                if first_start:
                    await self._mark_starting_points(shards)
                    first_start = False
                self._start_ready(shards)
                await self._pause(SHARD_REFRESH_SECONDS)
        finally:
            await asyncio.gather(*self.consumers.values(), return_exceptions=True)

    async def _pause(self, seconds: float) -> None:
        """Until the next listing: the time passes, a shard is finished, or a stop."""
        self._changed.clear()
        waits = [asyncio.ensure_future(self._changed.wait()), asyncio.ensure_future(self.stopping.event.wait())]
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()

    async def _mark_starting_points(self, shards: list[Shard]) -> None:
        position = self.mapping.config["StartingPosition"]
        if position == "TRIM_HORIZON":
            return
        since = time.time() if position == "LATEST" else float(self.mapping.config["StartingPositionTimestamp"])
        for shard in shards:
            checkpoint = Checkpoint(shard.id, since=since)
            await self.deps.checkpoints.save(self.mapping.uuid, checkpoint)
            self.checkpoints[shard.id] = checkpoint
            if position == "LATEST":
                self.fresh.add(shard.id)

    def _finished(self, shard_id: str) -> bool:
        checkpoint = self.checkpoints.get(shard_id)
        return checkpoint is not None and checkpoint.finished

    def _start_ready(self, shards: list[Shard]) -> None:
        known = {shard.id for shard in shards}
        for shard in shards:
            if shard.id in self.consumers or self._finished(shard.id):
                continue
            if any(parent in known and not self._finished(parent) for parent in shard.parents):
                continue  # order across a reshard: the parents first
            checkpoint = self.checkpoints.setdefault(shard.id, Checkpoint(shard.id))
            position = "TRIM_HORIZON"
            if checkpoint.sequence is None and checkpoint.since is not None:
                position = "LATEST" if shard.id in self.fresh else "SINCE"
            consumer = ShardConsumer(self.mapping, self.deps, self.source, shard.id, checkpoint, position,
                                     self.stopping)
            task = asyncio.create_task(consumer.run())
            self.consumers[shard.id] = task
            task.add_done_callback(lambda t, shard_id=shard.id: self._consumer_done(shard_id, t))

    def _consumer_done(self, shard_id: str, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("mapping %s shard %s: consumer failed", self.mapping.uuid, shard_id, exc_info=task.exception())
        if not self.stopping.set:
            self.consumers.pop(shard_id, None)  # finished, or failed: relisting restarts it
        self._changed.set()
