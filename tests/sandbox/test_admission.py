"""Admission of new environments: start slots, the queue, and the host's room (a fake /proc)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from lamina.sandbox import InvokeRequest, admission
from lamina.sandbox.admission import Admission, Busy, HostGauge, StartSlot

from .conftest import Harness, arn

GB = 1024 * 1024  # kB


class FakeProc:
    def __init__(self, root: Path, total_kb: int = 16 * GB, available_kb: int = 12 * GB, threads: int = 200,
                 pid_max: int = 32768, threads_max: int = 100000) -> None:
        self.root = root
        (root / "sys" / "kernel").mkdir(parents=True)
        (root / "sys" / "kernel" / "pid_max").write_text(f"{pid_max}\n")
        (root / "sys" / "kernel" / "threads-max").write_text(f"{threads_max}\n")
        self.total_kb = total_kb
        self.set(available_kb, threads)

    def set(self, available_kb: int, threads: int = 200) -> None:
        (self.root / "meminfo").write_text(
            f"MemTotal:       {self.total_kb} kB\nMemFree:         1000 kB\nMemAvailable:   {available_kb} kB\n")
        (self.root / "loadavg").write_text(f"0.50 0.40 0.30 2/{threads} 12345\n")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path)


def test_gauge_reads_meminfo_and_threads_and_caches_them(proc: FakeProc) -> None:
    clock = Clock()
    gauge = HostGauge(proc.root, clock)
    assert gauge.total_mb == 16 * 1024
    assert gauge.thread_limit == 32768
    assert gauge.read().available_mb == 12 * 1024 and gauge.read().threads == 200
    proc.set(8 * GB, 300)
    assert gauge.read().available_mb == 12 * 1024  # still the cached reading
    clock.now += 2 * admission.REFRESH_S
    assert gauge.read().available_mb == 8 * 1024 and gauge.read().threads == 300
    proc.set(4 * GB)
    gauge.forget()
    assert gauge.read().available_mb == 4 * 1024


def test_default_max_environments_follows_memory_then_threads(tmp_path: Path) -> None:
    by_memory = HostGauge(FakeProc(tmp_path / "a", total_kb=24 * GB).root)
    reserve = admission.memory_reserve_mb(24 * 1024)
    assert reserve == 24 * 1024 // 10
    assert admission.default_max_environments(by_memory) == (24 * 1024 - reserve) // admission.ENVIRONMENT_BUDGET_MB
    by_threads = HostGauge(FakeProc(tmp_path / "b", total_kb=24 * GB, pid_max=1600).root)
    assert admission.default_max_environments(by_threads) == 1600 // admission.THREADS_PER_ENVIRONMENT
    small = HostGauge(FakeProc(tmp_path / "c", total_kb=GB // 2).root)
    assert admission.memory_reserve_mb(small.total_mb) == 512
    assert admission.default_max_environments(small) == 1


def test_slots_are_bounded_and_pass_to_the_queue_in_order(proc: FakeProc) -> None:
    async def scenario() -> None:
        gate = Admission(HostGauge(proc.root), max_environments=100, max_starting=2)
        first, second = gate.try_slot(), gate.try_slot()
        assert isinstance(first, StartSlot) and isinstance(second, StartSlot)
        assert gate.try_slot() is None and gate.starting == 2
        early, late = gate.enqueue(), gate.enqueue()
        assert gate.queued == 2
        first.release()
        first.release()  # releasing twice frees one slot only
        assert early.done() and not late.done()
        assert isinstance(early.result(), StartSlot) and gate.starting == 2
        assert gate.try_slot() is None  # someone is queued: no jumping the queue
        late.set_result("an environment handed over by the pool")
        second.release()
        assert gate.starting == 1 and gate.queued == 0
        gate.leave(early)
        gate.leave(late)
        early.result().release()
        assert gate.starting == 0
        assert gate.try_slot() is not None

    asyncio.run(scenario())


def test_the_queue_is_bounded(proc: FakeProc) -> None:
    async def scenario() -> None:
        gate = Admission(HostGauge(proc.root), max_environments=100, max_starting=1, queue_limit=3)
        assert gate.try_slot() is not None
        for _ in range(3):
            gate.enqueue()
        with pytest.raises(Busy) as refused:
            gate.enqueue()
        assert refused.value.kind == "scaling" and refused.value.retry_after_s == admission.RETRY_AFTER_S

    asyncio.run(scenario())


def test_waiters_and_environments_together_stay_within_max_environments(proc: FakeProc) -> None:
    async def scenario() -> None:
        gate = Admission(HostGauge(proc.root), max_environments=3, max_starting=1)
        gate.admit()
        gate.admit()
        gate.enqueue()
        with pytest.raises(Busy) as refused:
            gate.enqueue()
        assert refused.value.kind == "capacity"

    asyncio.run(scenario())


def test_admit_counts_environments_up_to_max_environments(proc: FakeProc) -> None:
    gate = Admission(HostGauge(proc.root), max_environments=2, max_starting=4)
    gate.admit()
    gate.admit()
    with pytest.raises(Busy, match="max_environments 2") as refused:
        gate.admit()
    assert refused.value.kind == "capacity"
    gate.gone()
    gate.admit()
    assert gate.live == 2


def test_no_room_when_memory_would_fall_into_the_reserve(proc: FakeProc) -> None:
    gauge = HostGauge(proc.root)
    gate = Admission(gauge, max_environments=1000, max_starting=4)
    reserve_kb = gate.reserve_mb * 1024
    proc.set(reserve_kb + 40 * 1024)  # room for one start of START_COST_MB (16), not for three
    gauge.forget()
    assert gate.refusal() is None
    gate.try_slot()
    gate.try_slot()  # two starts in flight count at their typical cost before they show in MemAvailable
    refusal = gate.refusal()
    assert refusal is not None and refusal.kind == "capacity" and "memory" in str(refusal)
    proc.set(reserve_kb + 100 * admission.START_COST_MB * 1024)
    gauge.forget()
    assert gate.refusal() is None


def test_no_room_when_threads_near_the_kernel_limit(proc: FakeProc) -> None:
    gauge = HostGauge(proc.root)
    gate = Admission(gauge, max_environments=1000, max_starting=4)
    proc.set(12 * GB, threads=32768 - 32768 // 10 - admission.START_THREADS + 1)
    gauge.forget()
    refusal = gate.refusal()
    assert refusal is not None and "threads" in str(refusal)


# -- the pool, with real sandboxes ------------------------------------------------------

SLEEPER = {"app.py": """
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"ok": True}
"""}


def _pool(fresh_sandbox, **limits) -> Harness:
    return fresh_sandbox(spares_per_runtime=0, admission=Admission(HostGauge(), **limits))


def test_a_queued_cold_invoke_takes_an_environment_its_function_frees(fresh_sandbox) -> None:
    harness = _pool(fresh_sandbox, max_environments=10, max_starting=1)
    spec = harness.function(SLEEPER)
    assert harness.invoke(spec).error_type is None  # one environment, now idle
    held = harness.pool.admission.try_slot()  # no start can begin
    assert held is not None
    results = harness.invoke_concurrently(spec, 2, {"sleep": 0.3})
    held.release()
    assert [r.error_type for r in results] == [None, None]
    assert [r.init_duration_ms for r in results] == [None, None]  # the second waited and ran warm
    assert harness.pool.counts()["total"] == 1


def test_a_cold_invoke_that_waits_too_long_is_refused(fresh_sandbox) -> None:
    harness = _pool(fresh_sandbox, max_environments=10, max_starting=1, queue_wait_s=0.2)
    held = harness.pool.admission.try_slot()
    with pytest.raises(Busy) as refused:
        harness.invoke(harness.function(SLEEPER))
    held.release()
    assert refused.value.kind == "scaling" and harness.pool.admission.queued == 0


def test_at_max_environments_the_least_recently_used_idle_one_makes_room(fresh_sandbox) -> None:
    harness = _pool(fresh_sandbox, max_environments=1)
    first, second = harness.function(SLEEPER), harness.function(SLEEPER)
    assert harness.invoke(first).error_type is None
    assert harness.invoke(second).error_type is None  # first's idle environment was stopped for it
    assert harness.pool.counts() == {"idle": 1, "spare": 0, "total": 1}
    assert harness.pool.admission.live == 1


def test_at_max_environments_with_none_idle_a_cold_invoke_is_refused(fresh_sandbox) -> None:
    harness = _pool(fresh_sandbox, max_environments=1)
    busy, other = harness.function(SLEEPER), harness.function(SLEEPER)

    async def both() -> tuple[object, BaseException | None]:
        running = asyncio.ensure_future(harness.pool.invoke(busy, _request(busy, {"sleep": 1})))
        await asyncio.sleep(0.5)  # started and invoking
        try:
            await harness.pool.invoke(other, _request(other))
        except Busy as error:
            return await running, error
        return await running, None

    result, refusal = harness.run(both())
    assert isinstance(refusal, Busy) and refusal.kind == "capacity"
    assert result.error_type is None


def _request(spec, event=None) -> InvokeRequest:
    return InvokeRequest(str(uuid.uuid4()), json.dumps(event or {}).encode(), arn(spec.function_name))
