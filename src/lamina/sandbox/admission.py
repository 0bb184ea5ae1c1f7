"""Admission of new execution environments: how fast they start, how many the host holds.

Lambda scales a function by starting environments at a bounded rate and throttles what it
cannot place. lamina does the same against the one host it runs on:

- at most `max_starting` environment starts are in flight (more only make every start
  slower: 1,000 bwrap sandboxes started at once all miss their start timeout). A cold
  invoke that finds no start free waits in a bounded FIFO queue, for a bounded time; the
  pool also hands it an environment of its function freed meanwhile;
- a new environment is admitted only while the host has room: fewer than
  `max_environments` alive, MemAvailable above a reserve once the starts in flight are
  counted at their typical cost, and the host's threads well under the kernel's limit.

What is refused raises `Busy`, which the invoke layer answers with 429
TooManyRequestsException (a Reason and Retry-After), which the SDKs retry. Only cold
starts come here; the warm path never does. /proc is read at most every `REFRESH_S`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

START_COST_MB = 16  # what a started, unassigned environment takes (measured: 10-15 MB)
START_THREADS = 8  # threads of a starting environment: bwrap (2), agent, runtime and theirs
ENVIRONMENT_BUDGET_MB = 64  # default max_environments: one per this much memory above the reserve
THREADS_PER_ENVIRONMENT = 16  # ... and one per this many threads the kernel allows
REFRESH_S = 0.05  # how stale a reading of /proc may be
QUEUE_LIMIT = 1000  # cold invokes waiting for a start
QUEUE_WAIT_S = 5.0  # how long one waits before it is throttled
RETRY_AFTER_S = 1  # what a throttled caller is told to wait

Kind = Literal["capacity", "scaling"]


class Busy(Exception):
    """No environment can be started for this invocation now.

    `kind` is "capacity" when the host holds all the environments it can, "scaling" when
    environments cannot be started as fast as they are asked for."""

    def __init__(self, kind: Kind, detail: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(detail)
        self.kind = kind
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class HostReading:
    available_mb: int
    threads: int


class HostGauge:
    """MemAvailable and the host's thread count, from /proc, cached for `REFRESH_S`."""

    def __init__(self, proc: Path = Path("/proc"), clock: Callable[[], float] = time.monotonic) -> None:
        self._proc = proc
        self._clock = clock
        meminfo = self._meminfo()
        self.total_mb = meminfo["MemTotal"] // 1024
        self.thread_limit = min(self._int("sys/kernel/pid_max"), self._int("sys/kernel/threads-max"))
        self._reading: HostReading | None = None
        self._read_at = 0.0

    def read(self) -> HostReading:
        now = self._clock()
        if self._reading is None or now - self._read_at >= REFRESH_S:
            self._reading = HostReading(self._meminfo()["MemAvailable"] // 1024, self._threads())
            self._read_at = now
        return self._reading

    def forget(self) -> None:
        """The next `read` reads /proc again (e.g. after environments were stopped)."""
        self._reading = None

    def _meminfo(self) -> dict[str, int]:
        values = {}
        for line in (self._proc / "meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("MemTotal", "MemAvailable"):
                values[name] = int(rest.split()[0])  # kB
        return values

    def _threads(self) -> int:
        # /proc/loadavg: "0.10 0.20 0.30 running/threads last_pid"
        return int((self._proc / "loadavg").read_text().split()[3].split("/")[1])

    def _int(self, name: str) -> int:
        return int((self._proc / name).read_text())


def memory_reserve_mb(total_mb: int) -> int:
    """Memory kept free for the host itself: a tenth of it, at least 512 MB."""
    return max(512, total_mb // 10)


def default_max_environments(gauge: HostGauge) -> int:
    """One environment per `ENVIRONMENT_BUDGET_MB` of memory above the reserve, and at most
    one per `THREADS_PER_ENVIRONMENT` threads the kernel allows."""
    by_memory = (gauge.total_mb - memory_reserve_mb(gauge.total_mb)) // ENVIRONMENT_BUDGET_MB
    return max(1, min(by_memory, gauge.thread_limit // THREADS_PER_ENVIRONMENT))


class StartSlot:
    """Leave to start one environment; `release()` once the start is over."""

    __slots__ = ("_admission", "_released")

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._slot_released()


class Admission:
    def __init__(self, gauge: HostGauge, *, max_environments: int = 0, max_starting: int = 0,
                 queue_limit: int = QUEUE_LIMIT, queue_wait_s: float = QUEUE_WAIT_S) -> None:
        self.gauge = gauge
        self.max_environments = max_environments or default_max_environments(gauge)
        self.max_starting = max_starting or default_max_starting()
        self.queue_limit = queue_limit
        self.queue_wait_s = queue_wait_s
        self.reserve_mb = memory_reserve_mb(gauge.total_mb)
        self.live = 0  # environments admitted and not yet gone, starting or started
        self.starting = 0  # start slots held
        self._queue: dict[asyncio.Future[Any], None] = {}  # FIFO of waiters for a slot

    # -- start slots ----------------------------------------------------------------------

    def try_slot(self) -> StartSlot | None:
        """A start slot at once if one is free and nobody is queued for one."""
        if self.starting >= self.max_starting or self._queue:
            return None
        self.starting += 1
        return StartSlot(self)

    def enqueue(self) -> asyncio.Future[Any]:
        """A place in the queue: the future's result is a `StartSlot` once one is free. Others
        may resolve it first (with anything else); `leave` it in every case."""
        if self.live + len(self._queue) >= self.max_environments:  # each may need an environment
            raise Busy("capacity", f"{self.live} environments are alive and {len(self._queue)} wait to start, "
                                   f"the most this host allows (max_environments {self.max_environments})")
        if len(self._queue) >= self.queue_limit:
            raise Busy("scaling", f"{len(self._queue)} invocations already wait for an environment to start")
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue[waiter] = None
        return waiter

    def leave(self, waiter: asyncio.Future[Any]) -> None:
        self._queue.pop(waiter, None)

    def _slot_released(self) -> None:
        self.starting -= 1
        while self._queue and self.starting < self.max_starting:
            waiter = next(iter(self._queue))
            del self._queue[waiter]
            if not waiter.done():
                self.starting += 1
                waiter.set_result(StartSlot(self))

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- room on the host -----------------------------------------------------------------

    def refusal(self) -> Busy | None:
        """Why one more environment does not fit on the host now, or None if it does."""
        if self.live >= self.max_environments:
            return Busy("capacity", f"{self.live} environments are alive, the most this host allows "
                                    f"(max_environments {self.max_environments})")
        reading = self.gauge.read()
        free_mb = reading.available_mb - self.starting * START_COST_MB
        if free_mb - START_COST_MB < self.reserve_mb:
            return Busy("capacity", f"the host has {reading.available_mb} MB of memory available, "
                                    f"{self.reserve_mb} MB are kept free")
        threads_limit = self.gauge.thread_limit - self.gauge.thread_limit // 10
        if reading.threads + (self.starting + 1) * START_THREADS > threads_limit:
            return Busy("capacity", f"the host runs {reading.threads} threads of the {self.gauge.thread_limit} "
                                    "it allows")
        return None

    def admit(self) -> None:
        """Count one more environment (raises `Busy` when it does not fit); call `gone()`
        when it has stopped."""
        refusal = self.refusal()
        if refusal is not None:
            raise refusal
        self.live += 1

    def gone(self) -> None:
        self.live -= 1


def default_max_starting() -> int:
    """Environment starts in flight: four per CPU, which keeps the CPUs busy while
    bubblewrap and the runtimes wait on the kernel (measured: 8 on 2 CPUs starts about as
    many per second as 200 do, and each in well under a second)."""
    return 4 * (os.cpu_count() or 1)
