"""Environments: reuse, one invocation at a time, retirement, idle reaping, spares."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from lamina.sandbox import InvokeRequest

from .conftest import Harness, body

COUNTER = """
    import os, time
    STARTED = time.time()
    INITS = int(open("/tmp/inits").read()) + 1 if os.path.exists("/tmp/inits") else 1
    open("/tmp/inits", "w").write(str(INITS))
    calls = 0

    def handler(event, context):
        global calls
        calls += 1
        if event.get("write"):
            with open("/tmp/note", "a") as f:
                f.write(event["write"])
        if event.get("sleep"):
            time.sleep(event["sleep"])
        note = open("/tmp/note").read() if os.path.exists("/tmp/note") else ""
        return {"calls": calls, "inits": INITS, "note": note, "stream": context.log_stream_name}
"""


def test_environment_is_reused_with_its_globals_and_tmp(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": COUNTER})
    first = sandbox.invoke(spec, {"write": "a"})
    second = sandbox.invoke(spec, {"write": "b"})
    third = sandbox.invoke(spec)
    assert [body(r)["calls"] for r in (first, second, third)] == [1, 2, 3]
    assert body(third) == {"calls": 3, "inits": 1, "note": "ab", "stream": first.log_stream}
    assert first.log_stream == second.log_stream == third.log_stream
    # Init runs once: its duration and lines come with the first invocation only.
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert first.init_log and first.init_log[0].message.startswith("INIT_START ")
    assert second.init_duration_ms is None and second.init_log == []
    assert first.max_memory_used_mb > 0 and third.max_memory_used_mb >= first.max_memory_used_mb


def test_concurrent_invocations_get_separate_environments(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": COUNTER})
    results = sandbox.invoke_concurrently(spec, 3, {"sleep": 0.3, "write": "x"})
    outs = [body(r) for r in results]
    assert len({r.log_stream for r in results}) == 3
    assert all(out == {"calls": 1, "inits": 1, "note": "x", "stream": out["stream"]} for out in outs)
    # All three are kept and reused afterwards.
    later = sandbox.invoke_concurrently(spec, 3)
    assert {r.log_stream for r in later} == {r.log_stream for r in results}
    assert sorted(body(r)["calls"] for r in later) == [2, 2, 2]


def test_retire_discards_idle_and_busy_environments(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": COUNTER})
    old = sandbox.invoke(spec)

    async def retire_during_invocation() -> object:
        busy = asyncio.ensure_future(sandbox.pool.invoke(
            spec, InvokeRequest(str(uuid.uuid4()), json.dumps({"sleep": 0.5}).encode(), "arn")))
        await asyncio.sleep(0.2)
        await sandbox.pool.retire(spec.key)
        return await busy

    busy_result = sandbox.run(retire_during_invocation())
    assert body(busy_result)["stream"] == old.log_stream  # the invocation in flight completes
    fresh = sandbox.invoke(spec)
    assert fresh.log_stream != old.log_stream
    assert body(fresh)["calls"] == 1 and fresh.init_duration_ms is not None


def test_idle_environments_are_reaped(fresh_sandbox: object) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", idle_environment_seconds=0.5, spares_per_runtime=0)  # type: ignore[operator]
    spec = harness.function({"app.py": COUNTER})
    first = harness.invoke(spec)
    assert harness.pool.counts()["idle"] == 1
    harness.sleep(1.5)
    assert harness.pool.counts() == {"idle": 0, "spare": 0, "total": 0}
    second = harness.invoke(spec)
    assert second.log_stream != first.log_stream and body(second)["calls"] == 1


def test_a_spare_is_ready_for_the_next_cold_start(fresh_sandbox: object) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=1)  # type: ignore[operator]
    spec = harness.function({"app.py": COUNTER})
    harness.run(harness.pool.prewarm(spec.runtime))
    assert harness.pool.counts()["spare"] == 1
    result = harness.invoke(spec)
    assert body(result)["inits"] == 1
    harness.run(harness.pool.prewarm(spec.runtime))  # replenished in the background; wait for it
    assert harness.pool.counts() == {"idle": 1, "spare": 1, "total": 2}
    other = harness.function({"app.py": COUNTER})
    assert body(harness.invoke(other))["calls"] == 1  # a different function on the spare: nothing shared


def test_close_kills_everything_and_removes_cgroups(tmp_path: Path) -> None:
    harness = Harness(tmp_path, sandbox="bwrap")
    spec = harness.function({"app.py": """
        import subprocess
        def handler(event, context):
            subprocess.Popen(["sleep", "300"])
            return "started a straggler"
    """})
    assert body(harness.invoke(spec)) == "started a straggler"
    assert harness.pool.host is not None and harness.pool.host.cgroups is not None
    roots = set(harness.pool.host.cgroups.roots.values())
    pids = [pid for environment in harness.pool._all if environment.cgroup for pid in environment.cgroup.pids()]
    assert len(pids) >= 3  # agent, runtime and the straggler (and a spare's)
    harness.close()
    assert [root for root in roots if root.exists()] == []
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


def test_a_dead_environment_leaves_no_cgroup(fresh_sandbox) -> None:
    sandbox = fresh_sandbox()
    spec = sandbox.function({"app.py": COUNTER})
    sandbox.invoke(spec)
    [environment] = sandbox.pool._idle[spec.key]
    directories = set(environment.cgroup.dirs.values())
    assert all(directory.is_dir() for directory in directories)
    environment.kill()
    sandbox.run(asyncio.wait_for(asyncio.shield(environment.closed), 10))
    assert not [directory for directory in directories if directory.exists()]
