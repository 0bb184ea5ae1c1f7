"""Runs one poller per enabled mapping, restarts a poller that crashed, and stops pollers
gracefully (in-flight batches are settled first, within a bound)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lamina.events.mapping_model import EventSourceMapping, SourceKind
from lamina.events.pollers.base import Poller, PollerDeps

log = logging.getLogger("lamina.events")

RESTART_DELAY_SECONDS = 5.0


def make_poller(mapping: EventSourceMapping, deps: PollerDeps) -> Poller:
    if mapping.kind is SourceKind.SQS:
        from lamina.events.pollers.sqs import SqsPoller

        return SqsPoller(mapping, deps)
    if mapping.kind is SourceKind.KINESIS:
        from lamina.events.pollers.kinesis import KinesisShards
        from lamina.events.pollers.streams import StreamPoller

        return StreamPoller(mapping, deps, KinesisShards(mapping, deps.aws))
    if mapping.kind is SourceKind.DYNAMODB:
        from lamina.events.pollers.dynamodb import DynamoDbShards
        from lamina.events.pollers.streams import StreamPoller

        return StreamPoller(mapping, deps, DynamoDbShards(mapping, deps.aws))
    if mapping.kind is SourceKind.RABBITMQ:
        from lamina.events.pollers.rabbitmq import RabbitMqPoller

        return RabbitMqPoller(mapping, deps)
    from lamina.events.pollers.kafka import KafkaPoller

    return KafkaPoller(mapping, deps)


@dataclass
class _Running:
    poller: Poller
    task: asyncio.Task
    stopping: bool = False


class Supervisor:
    def __init__(self, deps: PollerDeps) -> None:
        self.deps = deps
        self._running: dict[str, _Running] = {}

    def is_running(self, uuid: str) -> bool:
        return uuid in self._running

    def start(self, mapping: EventSourceMapping) -> None:
        if mapping.uuid in self._running:
            return
        poller = make_poller(mapping, self.deps)
        running = _Running(poller, asyncio.create_task(self._keep_running(mapping, poller)))
        self._running[mapping.uuid] = running

    async def _keep_running(self, mapping: EventSourceMapping, poller: Poller) -> None:
        while True:
            try:
                await poller.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("mapping %s: poller failed; restarting", mapping.uuid)
                self.deps.dispatcher.report(mapping, f"PROBLEM: {type(error).__name__}: {error}")
            running = self._running.get(mapping.uuid)
            if running is None or running.stopping:
                return
            await asyncio.sleep(RESTART_DELAY_SECONDS)
            running = self._running.get(mapping.uuid)
            if running is None or running.stopping:
                return
            poller = running.poller = make_poller(mapping, self.deps)

    async def stop(self, uuid: str, grace_seconds: float) -> None:
        """Stop a mapping's poller: it settles the batches it holds, for at most
        `grace_seconds`; then it is cancelled (those batches are delivered again later)."""
        running = self._running.get(uuid)
        if running is None:
            return
        running.stopping = True
        running.poller.stop()
        try:
            await asyncio.wait_for(asyncio.shield(running.task), grace_seconds)
        except TimeoutError:
            running.task.cancel()
            await asyncio.gather(running.task, return_exceptions=True)
        except Exception:
            pass
        self._running.pop(uuid, None)

    async def stop_all(self, grace_seconds: float) -> None:
        await asyncio.gather(*(self.stop(uuid, grace_seconds) for uuid in list(self._running)))
