"""What lamina tells about environments that fail, and that nothing of an environment
outlives it: a sandbox that cannot start is reported with its exit status and stderr,
Max Memory Used covers the function's own process (and is not measured on every warm
invocation), a fork bomb is reported as the process
limit, and an environment killed at any point of its start leaves no process behind."""

from __future__ import annotations

import asyncio
import logging
import random
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from helpers import sandbox_processes_under
from lamina.sandbox import highwater
from lamina.sandbox.cgroups import EnvironmentCgroup
from lamina.sandbox.environment import Environment, SandboxFailure
from lamina.sandbox.highwater import RuntimeHighWater
from lamina.sandbox.isolation import bwrap

from .conftest import NODEJS, Harness, body, log_text, requires_bwrap

pytestmark = requires_bwrap


def test_a_sandbox_that_cannot_start_is_reported_with_its_stderr_and_status(
        fresh_sandbox: object, caplog: pytest.LogCaptureFixture) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=0)  # type: ignore[operator]
    host = harness.pool.host
    assert host is not None
    passwd = host.etc_dir / "passwd"
    passwd.unlink()  # e.g. the data directory cleaned up under a running server
    spec = harness.function({"app.py": "def handler(event, context):\n    return 'up'\n"})
    with caplog.at_level(logging.ERROR, logger="lamina.sandbox"):
        result = harness.invoke(spec)
    assert result.error_type == "Sandbox.Failure"
    message = body(result)["errorMessage"]
    assert "exit status 1" in message
    assert f"bwrap: Can't find source path {passwd}: No such file or directory" in message
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "its stderr:" in logged and f"Can't find source path {passwd}" in logged and "exit status 1" in logged

    bwrap.write_etc(host.etc_dir, host.uid, host.gid)  # repaired: environments start again
    assert body(harness.invoke(spec)) == "up"


def test_an_agent_that_dies_before_it_is_ready_is_reported_with_its_stderr(
        fresh_sandbox: object, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=0)  # type: ignore[operator]
    host = harness.pool.host
    assert host is not None
    # The agent's interpreter (here a Python runtime's) fails at once, as a broken install
    # would, writing to stderr.
    agent = host.agent_for(harness.pool.runtimes[harness.function({}).runtime])
    broken = type(agent)([*agent.argv[:-1], "import sys; sys.stderr.write('agent: cannot start\\n'); sys.exit(3)"],
                         agent.env, agent.binds)
    monkeypatch.setattr(host, "agent_for", lambda runtime: broken)
    with caplog.at_level(logging.ERROR, logger="lamina.sandbox"):
        with pytest.raises(SandboxFailure) as failure:
            harness.run(_start(harness))
    assert str(failure.value) == "the sandbox did not start (it exited; exit status 3): agent: cannot start"
    assert any("agent: cannot start" in record.getMessage() for record in caplog.records)


async def _start(harness: Harness) -> Environment:
    assert harness.pool.host is not None
    environment = Environment(harness.pool.host, harness.pool.runtimes[harness.function({}).runtime], "host")
    await environment.start()
    return environment


def test_max_memory_used_covers_the_functions_own_high_water_mark(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        def high_water_kb():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        def handler(event, context):
            hog = bytearray(event["mb"] << 20)
            for i in range(0, len(hog), 4096):
                hog[i] = 1
            return high_water_kb()
    """}, memory_mb=256)
    for mb in (0, 60):
        result = sandbox.invoke(spec, {"mb": mb})
        # The kernel keeps RSS in per-CPU counters and /proc reads them approximately, so two
        # readings of the same peak can differ by a fraction of a MB: one MB of slack.
        assert result.max_memory_used_mb + 1 >= -(-body(result) // 1024) >= mb
    assert sandbox.invoke(spec, {"mb": 0}).max_memory_used_mb >= 60  # the environment's peak, as on Lambda


def test_running_into_the_process_limit_is_reported_as_such(sandbox: Harness) -> None:
    """A function whose forks are refused at the limit of 1,024 processes and threads and
    whose runtime then dies (here: its memory filled too) is told of the process limit, as
    Lambda reports a runtime exit: Runtime.ExitError, not Runtime.OutOfMemory."""
    spec = sandbox.function({"app.py": """
        import os, time
        def handler(event, context):
            while True:
                try:
                    if os.fork() == 0:
                        time.sleep(60)
                        os._exit(0)
                except BlockingIOError:  # EAGAIN: the limit
                    break
            hog = []
            while True:
                hog.append(bytearray(16 << 20))
    """}, memory_mb=1024, timeout_s=30)
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.ExitError", body(result)
    assert body(result)["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert "[lamina] the function reached its limit of 1024 processes and threads" in " ".join(log_text(result))
    assert body(sandbox.invoke(sandbox.function({"app.py": "def handler(e, c):\n    return 'fine'\n"}))) == "fine"


def test_environments_killed_while_starting_leave_no_process(tmp_path: Path) -> None:
    """Killed at any moment of its start (as `close` does to the spares being started), an
    environment leaves nothing: not bubblewrap's setup child either, which waits for its
    parent forever if that dies at the wrong moment."""
    harness = Harness(tmp_path, sandbox="bwrap", spares_per_runtime=0)
    rng = random.Random(10)

    async def start_and_kill(delay_s: float) -> None:
        assert harness.pool.host is not None
        environment = Environment(harness.pool.host, harness.pool.runtimes[harness.function({}).runtime], "host")
        task = asyncio.ensure_future(environment.start())
        await asyncio.sleep(delay_s)
        environment.kill()
        await asyncio.gather(task, return_exceptions=True)
        assert environment.closed is not None
        await asyncio.wait_for(environment.closed, 10)

    async def rounds() -> None:
        for _ in range(4):
            await asyncio.gather(*(start_and_kill(rng.uniform(0, 0.03)) for _ in range(8)))

    try:
        harness.run(rounds())
    finally:
        harness.close()
    deadline = time.monotonic() + 5
    while sandbox_processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox_processes_under(tmp_path) == []


def test_the_leftover_check_sees_a_sandbox_process(tmp_path: Path) -> None:
    """The session's check for leftovers (tests/conftest.py) finds a bubblewrap process of
    this session's directory, and only while it runs."""
    pretend = f"exec -a bwrap {sys.executable} -c 'import time; time.sleep(30)' --bind {tmp_path}/data /"
    straggler = subprocess.Popen(["bash", "-c", pretend], cwd="/")
    try:
        deadline = time.monotonic() + 5
        while not sandbox_processes_under(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [entry.split()[0] for entry in sandbox_processes_under(tmp_path)] == [str(straggler.pid)]
        assert sandbox_processes_under(tmp_path / "elsewhere") == []
    finally:
        straggler.kill()
        straggler.wait()
    assert sandbox_processes_under(tmp_path) == []


NODE_HIGH_WATER = {"index.mjs": """
    import { readFileSync } from "node:fs";
    export const handler = async (event) => {
      const hog = Buffer.alloc(event.mb << 20, 1);
      return [hog.length, Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1])];
    };
"""}


@pytest.mark.skipif(NODEJS is None, reason="no Node.js on this machine")
def test_max_memory_used_covers_an_http_runtimes_own_high_water_mark(sandbox: Harness) -> None:
    """The agent reports the VmHWM of a runtime that speaks the HTTP Runtime API."""
    spec = sandbox.function(NODE_HIGH_WATER, runtime=NODEJS, handler="index.handler", memory_mb=256)
    for mb in (0, 60):
        result = sandbox.invoke(spec, {"mb": mb})
        assert result.error_type is None, result.payload
        assert result.max_memory_used_mb + 1 >= -(-body(result)[1] // 1024) >= mb


@pytest.mark.parametrize("runtime", ["python", "nodejs"])
def test_a_warm_invocation_does_not_measure_memory_on_the_host(sandbox: Harness, monkeypatch: pytest.MonkeyPatch,
                                                               runtime: str) -> None:
    """Each response reports its runtime's own high-water mark: while that does not change,
    the host reads neither the cgroup's peak nor /proc per invocation."""
    if runtime == "nodejs":
        if NODEJS is None:
            pytest.skip("no Node.js on this machine")
        spec = sandbox.function(NODE_HIGH_WATER, runtime=NODEJS, handler="index.handler")
    else:
        spec = sandbox.function({"app.py": "def handler(event, context):\n    return [0, 0]\n"})
    sandbox.invoke(spec, {"mb": 0})  # cold start, measured
    readings: list[str] = []
    peak_mb, runtime_mb = EnvironmentCgroup.peak_mb, RuntimeHighWater.mb
    monkeypatch.setattr(EnvironmentCgroup, "peak_mb", lambda self: readings.append("cgroup") or peak_mb(self))
    monkeypatch.setattr(RuntimeHighWater, "mb", lambda self, *a: readings.append("proc") or runtime_mb(self, *a))
    monkeypatch.setattr(highwater, "time", types.SimpleNamespace(monotonic=lambda: 0.0),
                        raising=False)  # within the second
    results = [sandbox.invoke(spec, {"mb": 0}) for _ in range(10)]
    assert all(result.error_type is None and result.max_memory_used_mb > 0 for result in results)
    assert len(readings) <= 2, readings  # at most one measurement (its first report at this clock)
