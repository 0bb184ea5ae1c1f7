"""Event loop lag: how late a timer set every SAMPLE_SECONDS actually fires.

Every request, invocation and background task shares one event loop, so any call that
blocks it delays all of them; the lag is that delay, measured at no per-request cost.
`GET /_lamina/health` and `/_lamina/metrics` show it; a stall longer than WARN_MS is logged,
at most once per WARN_EVERY_SECONDS (with how many there were meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

log = logging.getLogger("lamina.loop")

SAMPLE_SECONDS = 0.05
RECENT_SAMPLES = 1_200  # the last minute
WARN_MS = 100.0
WARN_EVERY_SECONDS = 60.0


class LoopLagMonitor:
    def __init__(self, sample_seconds: float = SAMPLE_SECONDS, warn_ms: float = WARN_MS,
                 warn_every_seconds: float = WARN_EVERY_SECONDS) -> None:
        self.sample_seconds = sample_seconds
        self.warn_ms = warn_ms
        self.warn_every_seconds = warn_every_seconds
        self.max_ms = 0.0
        self._recent: deque[float] = deque(maxlen=RECENT_SAMPLES)
        self._stalls_unreported = 0
        self._worst_unreported = 0.0
        self._last_warning = float("-inf")
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def summary(self) -> dict[str, float]:
        """{max, p99, recent_max} in milliseconds; `max` is since start, the others over the last minute."""
        recent = sorted(self._recent)
        p99 = recent[min(len(recent) - 1, int(len(recent) * 0.99))] if recent else 0.0
        return {"max": round(self.max_ms, 1), "p99": round(p99, 1),
                "recent_max": round(recent[-1] if recent else 0.0, 1)}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.sample_seconds
            await asyncio.sleep(self.sample_seconds)
            self.record(max(0.0, loop.time() - expected) * 1000)

    def record(self, lag_ms: float) -> None:
        self._recent.append(lag_ms)
        self.max_ms = max(self.max_ms, lag_ms)
        if lag_ms <= self.warn_ms:
            return
        self._stalls_unreported += 1
        self._worst_unreported = max(self._worst_unreported, lag_ms)
        now = time.monotonic()
        if now - self._last_warning >= self.warn_every_seconds:
            log.warning("the event loop was blocked for %.0f ms (%d stalls over %.0f ms since the last warning); "
                        "every request waited meanwhile", self._worst_unreported, self._stalls_unreported,
                        self.warn_ms)
            self._last_warning = now
            self._stalls_unreported = 0
            self._worst_unreported = 0.0
