"""What every poller is given, and how the supervisor drives it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lamina.config import Config
from lamina.control.arns import LATEST
from lamina.events.aws_clients import AwsClients
from lamina.events.checkpoints import Checkpoints
from lamina.events.dispatch import Dispatcher
from lamina.events.failure_destinations import FailureDestinations
from lamina.events.mapping_model import EventSourceMapping
from lamina.events.mq_brokers import MqBrokers
from lamina.observability.metrics import Metrics

log = logging.getLogger("lamina.events")


@dataclass
class PollerDeps:
    config: Config
    aws: AwsClients
    dispatcher: Dispatcher
    metrics: Metrics
    checkpoints: Checkpoints
    failures: FailureDestinations
    brokers: MqBrokers


class Poller(Protocol):
    async def run(self) -> None:
        """Poll until stopped; returns once in-flight batches are settled."""

    def stop(self) -> None:
        """Ask the poller to finish the batches it holds and return."""


class StopSignal:
    """A stop request, awaitable alongside other work."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    @property
    def set(self) -> bool:
        return self.event.is_set()

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        try:
            await asyncio.wait_for(self.event.wait(), max(0.0, seconds))
        except TimeoutError:
            return False
        return True


RECONNECT_SECONDS = 2.0


async def consume_until_stopped(consume: Callable[[], Awaitable[None]], stopping: StopSignal, deps: PollerDeps,
                                mapping: EventSourceMapping, source: str) -> None:
    """Run a broker consumer until the mapping stops; a lost connection is reported on the
    mapping (`LastProcessingResult`) and retried after a pause."""
    while not stopping.set:
        try:
            await consume()
        except Exception as error:
            log.warning("mapping %s: %s: %s", mapping.uuid, source, error)
            deps.dispatcher.report(mapping, f"PROBLEM: Connection error: {error}")
            await stopping.sleep(RECONNECT_SECONDS)


def function_config(deps: PollerDeps, mapping: EventSourceMapping) -> dict[str, Any] | None:
    """The configuration the mapping's function runs with now (None if it is gone)."""
    function = deps.dispatcher.invoke.functions.functions.get(mapping.function_key)
    if function is None:
        return None
    key = mapping.qualifier or LATEST
    if key in function.aliases:
        key = function.aliases[key].function_version
    version = function.versions.get(key)
    if version is None or version.live is None:
        return None
    return version.live.config
