"""The pool of execution environments: reuse, cold starts, spares, retirement, reaping.

Warm path: pop the most recently used idle environment of the spec's key, send one frame,
await one frame. Cold path: take a spare sandbox already started for the runtime (its
agent running and, for Python, an interpreter with lamina's runtime imported and waiting),
assign it to the function, run its init, invoke; then start a new spare in the background.

One environment serves one invocation at a time; concurrent invocations of a key get
separate environments. The caller enforces concurrency limits. An environment never
outlives its spec key: `retire(key)` kills the idle ones at once and the busy ones when
their invocation ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections import defaultdict
from pathlib import Path

from ..config import Config
from . import loglines
from .cgroups import CgroupTree, CgroupUnavailable
from .environment import Environment, Host, SandboxFailure
from .isolation import agent_command, bwrap, choose
from .runtimes import catalog
from .runtimes.catalog import Runtime
from .runtimes.detect import RuntimeInstall, detect_runtimes
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10.0  # on-demand init budget (spec §3.1)


class UnsupportedRuntime(ValueError):
    pass


class EnvironmentPool:
    def __init__(self, *, data_dir: Path, sandbox: str = "auto", sandbox_uid: int = 64000,
                 idle_environment_seconds: float = 600, runtimes: dict[str, RuntimeInstall] | None = None,
                 spares_per_runtime: int = 1, nodejs_runtime_dir: Path | None = None,
                 init_timeout_s: float = INIT_TIMEOUT_S) -> None:
        self.data_dir = Path(data_dir)
        self.sandbox_setting = sandbox
        self.sandbox_uid = sandbox_uid
        self.idle_seconds = idle_environment_seconds
        self.spares_per_runtime = spares_per_runtime
        self.init_timeout_s = init_timeout_s
        self._installs = runtimes
        self._nodejs_dir = nodejs_runtime_dir or catalog.NODEJS_RUNTIME_DIR
        self.runtimes: dict[str, Runtime] = {}
        self.host: Host | None = None
        self._idle: dict[str, list[Environment]] = defaultdict(list)
        self._spares: dict[tuple[str, str], list[Environment]] = defaultdict(list)
        self._spare_tasks: dict[tuple[str, str], set[asyncio.Task[None]]] = defaultdict(set)
        self._generations: dict[str, int] = defaultdict(int)
        self._all: set[Environment] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_config(cls, config: Config, **options: object) -> EnvironmentPool:
        return cls(data_dir=config.data_dir, sandbox=config.sandbox, sandbox_uid=config.sandbox_uid,
                   idle_environment_seconds=config.idle_environment_seconds, **options)  # type: ignore[arg-type]

    @property
    def mode(self) -> str:
        assert self.host is not None, "start() the pool first"
        return self.host.isolation.mode

    # -- start and stop -----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        isolation = await loop.run_in_executor(None, choose, self.sandbox_setting)
        if isolation.mode == "process":
            log.warning("!!! SANDBOX DISABLED: functions run as plain processes with no namespaces, no private "
                        "/tmp and no separate user, because %s. Do not run untrusted code.", isolation.reason)
        cgroups = None
        try:
            cgroups = CgroupTree.create()
        except (CgroupUnavailable, OSError) as error:
            log.warning("memory, pids and CPU limits are not enforced: %s", error)
        installs = self._installs if self._installs is not None else await loop.run_in_executor(None, detect_runtimes)
        self.runtimes = {rid: Runtime(install, self._nodejs_dir) for rid, install in catalog.supported(installs).items()}
        work_dir = self.data_dir / "sandbox"
        shutil.rmtree(work_dir / "environments", ignore_errors=True)
        agent = agent_command.for_sandbox(bwrap.SYSTEM_DIRS) if isolation.mode == "bwrap" else agent_command.for_process()
        self.host = Host(isolation, self.sandbox_uid, self.sandbox_uid, cgroups, agent, work_dir)
        bwrap.write_etc(self.host.etc_dir, self.sandbox_uid, self.sandbox_uid)
        if isolation.mode == "process":
            self.host.process_runtime_dirs = _process_runtime_dirs(work_dir, self._nodejs_dir)
        interval = min(max(self.idle_seconds / 4, 0.05), 5.0)
        self._reaper = asyncio.create_task(self._reap_idle(interval))
        log.info("sandbox: %s (%s); runtimes: %s", isolation.mode, isolation.reason, ", ".join(self.runtimes))

    async def close(self) -> None:
        """Kill every environment and remove lamina's cgroups."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
        tasks = [task for tasks in self._spare_tasks.values() for task in tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        for environment in list(self._all):
            environment.kill()
        pending = [env.closed for env in self._all if env.closed is not None and not env.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=10)
        self._idle.clear()
        self._spares.clear()
        if self.host is not None and self.host.cgroups is not None:
            self.host.cgroups.close()

    # -- invoke -------------------------------------------------------------------------

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvokeResult:
        idle = self._idle.get(spec.key)
        while idle:
            environment = idle.pop()
            if environment.dead:
                continue
            result = await environment.invoke(request, spec.timeout_s)
            self._release(environment, spec)
            return result
        return await self._cold_invoke(spec, request)

    def _release(self, environment: Environment, spec: EnvironmentSpec) -> None:
        if environment.dead or self._closing or environment.generation != self._generations[spec.key]:
            environment.kill()
        else:
            self._idle[spec.key].append(environment)

    def _runtime(self, runtime_id: str) -> Runtime:
        runtime = self.runtimes.get(runtime_id)
        if runtime is None:
            raise UnsupportedRuntime(f"runtime {runtime_id} is not available on this machine")
        return runtime

    async def _cold_invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvokeResult:
        runtime = self._runtime(spec.runtime)
        environment = self._take_spare(runtime.id, spec.network)
        try:
            if environment is None:
                environment = await self._start_environment(runtime, spec.network)
            self._replenish(runtime, spec.network)
            environment.generation = self._generations[spec.key]
            init_log = [loglines.init_start(runtime.version_label, runtime.version_arn(spec.region))]
            init = await environment.initialize(spec, self.init_timeout_s)
        except (SandboxFailure, OSError) as error:
            if environment is not None:
                environment.kill()
            log.error("could not start an environment for %s: %s", spec.function_name, error)
            return _sandbox_failure(request, str(error))
        init_log += init.log
        if init.ok:
            result = await environment.invoke(request, spec.timeout_s)
            result.init_duration_ms = init.duration_ms
            result.init_log = init_log
            self._release(environment, spec)
            return result
        # Failed init: report it, reset, and run a suppressed init inside this invocation,
        # charged to its timeout (spec §3.1).
        init_log.append(loglines.init_report(init.duration_ms, "init", init.status, init.error_type))
        loop = asyncio.get_running_loop()
        started, started_wall = loop.time(), time.time()
        reinit = await environment.reinitialize(spec.timeout_s)
        init_log += reinit.log
        if reinit.ok:
            init_log.append(loglines.init_report(reinit.duration_ms, "invoke"))
            result = await environment.invoke(request, spec.timeout_s, started, started_wall)
            result.init_log = init_log
            self._release(environment, spec)
            return result
        init_log.append(loglines.init_report(reinit.duration_ms, "invoke", reinit.status, reinit.error_type))
        memory = environment.memory_mb()
        environment.kill()
        duration_ms = (loop.time() - started) * 1000
        if reinit.status == "timeout":
            body = {"errorType": "Sandbox.Timedout", "errorMessage":
                    f"RequestId: {request.request_id} Error: Task timed out after {spec.timeout_s:.2f} seconds"}
            return InvokeResult(json.dumps(body).encode(), "Sandbox.Timedout", "timeout", duration_ms, memory,
                                environment.log_stream, init_log=init_log,
                                log=[loglines.timed_out(request.request_id, spec.timeout_s)])
        payload, content_type = reinit.error_payload(request.request_id)
        return InvokeResult(payload, reinit.error_type, "error", duration_ms, memory, environment.log_stream,
                            init_log=init_log, content_type=content_type)

    # -- environments -------------------------------------------------------------------

    async def _start_environment(self, runtime: Runtime, network: str) -> Environment:
        assert self.host is not None, "start() the pool first"
        environment = Environment(self.host, runtime, network)
        self._all.add(environment)
        try:
            await environment.start()
        finally:
            if environment.closed is not None:
                environment.closed.add_done_callback(lambda _: self._all.discard(environment))
            else:
                self._all.discard(environment)
        return environment

    def _take_spare(self, runtime_id: str, network: str) -> Environment | None:
        spares = self._spares.get((runtime_id, network))
        while spares:
            environment = spares.pop()
            if not environment.dead:
                return environment
        return None

    def _replenish(self, runtime: Runtime, network: str) -> None:
        """Start spares in the background until `spares_per_runtime` are ready or starting."""
        key = (runtime.id, network)
        missing = self.spares_per_runtime - len(self._spares[key]) - len(self._spare_tasks[key])
        for _ in range(max(0, missing)):
            if self._closing:
                return
            task = asyncio.create_task(self._start_spare(runtime, network))
            self._spare_tasks[key].add(task)
            task.add_done_callback(self._spare_tasks[key].discard)

    async def _start_spare(self, runtime: Runtime, network: str) -> None:
        try:
            environment = await self._start_environment(runtime, network)
        except (SandboxFailure, OSError) as error:
            log.warning("could not start a spare environment for %s: %s", runtime.id, error)
            return
        if self._closing:
            environment.kill()
        else:
            self._spares[(runtime.id, network)].append(environment)

    async def prewarm(self, runtime_id: str, network: str = "host") -> None:
        """Have spares of a runtime ready (e.g. at server start for the runtimes in use)."""
        runtime = self._runtime(runtime_id)
        self._replenish(runtime, network)
        await asyncio.gather(*self._spare_tasks[(runtime.id, network)], return_exceptions=True)

    async def retire(self, key: str) -> None:
        """The spec behind `key` is no longer current: no environment of it is reused."""
        self._generations[key] += 1
        for environment in self._idle.pop(key, []):
            environment.kill()

    async def _reap_idle(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            horizon = time.monotonic() - self.idle_seconds
            for groups in (self._idle, self._spares):
                for key, environments in list(groups.items()):
                    keep = []
                    for environment in environments:
                        if environment.dead:
                            continue
                        if environment.last_used < horizon:
                            environment.kill()
                        else:
                            keep.append(environment)
                    groups[key] = keep  # type: ignore[index]

    def counts(self) -> dict[str, int]:
        """How many environments are idle, spare and in total (for metrics and tests)."""
        return {"idle": sum(len(v) for v in self._idle.values()),
                "spare": sum(len(v) for v in self._spares.values()), "total": len(self._all)}


def _sandbox_failure(request: InvokeRequest, reason: str) -> InvokeResult:
    body = {"errorType": "Sandbox.Failure", "errorMessage": f"RequestId: {request.request_id} Error: {reason}"}
    return InvokeResult(json.dumps(body).encode(), "Sandbox.Failure", "failure", 0.0, 0, "")


def _process_runtime_dirs(work_dir: Path, nodejs_dir: Path) -> dict[str, Path]:
    """Process mode: /var/runtime for Python as a directory of symlinks (lamina's runtime
    loop and the SDK); Node.js uses its runtime directory as is."""
    python = work_dir / "runtime-python"
    shutil.rmtree(python, ignore_errors=True)
    python.mkdir(parents=True)
    entries = [(catalog.PYTHON_RUNTIME_DIR / "bootstrap.py", "bootstrap.py"),
               (catalog.PYTHON_RUNTIME_DIR / "lamina_runtime", "lamina_runtime")]
    for source, name in entries + [(entry, entry.name) for entry in catalog.sdk_entries()]:
        (python / name).symlink_to(source)
    return {"python": python, "nodejs": nodejs_dir}
