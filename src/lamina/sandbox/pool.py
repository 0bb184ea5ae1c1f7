"""The pool of execution environments: reuse, cold starts, spares, retirement, reaping.

Warm path: pop the most recently used idle environment of the spec's key, send one frame,
await one frame. Cold path: take a spare sandbox already started for the runtime (its
agent running and, for Python, an interpreter with lamina's runtime imported and waiting),
assign it to the function, run its init, invoke; then start a new spare in the background.

One environment serves one invocation at a time; concurrent invocations of a key get
separate environments. The caller enforces concurrency limits; `admission` decides how
many environments start at once and how many the host holds (a cold invoke beyond them
waits briefly, then raises `admission.Busy`). An environment never outlives its spec key:
`retire(key)` kills the idle ones at once and the busy ones when their invocation ends.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from . import loglines, precompile, scratch, sdk_tree
from .admission import Admission, Busy, HostGauge, StartSlot
from .cgroups import CgroupTree, CgroupUnavailable
from .environment import Environment, SandboxFailure, SandboxStartTimeout
from .host import Host
from .isolation import agent_command, bwrap, choose, process
from .outcomes import platform_error
from .runtimes import catalog
from .runtimes.catalog import Runtime
from .runtimes.detect import RuntimeInstall, detect_runtimes
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult

log = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10.0  # on-demand init budget (spec §3.1)
PROVISIONED_INIT_TIMEOUT_S = 130.0  # provisioned concurrency: max(130 s, function timeout)
LOG_DRAIN_INTERVAL_S = 0.1  # how often the output of running functions is collected


class UnsupportedRuntime(ValueError):
    pass


class EnvironmentPool:
    def __init__(self, *, data_dir: Path, sandbox: str = "auto", sandbox_uid: int = 64000,
                 idle_environment_seconds: float = 600, runtimes: dict[str, RuntimeInstall] | None = None,
                 spares_per_runtime: int = 2, nodejs_runtime_dir: Path | None = None,
                 init_timeout_s: float = INIT_TIMEOUT_S, admission: Admission | None = None,
                 max_environments: int = 0) -> None:
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
        # spec key -> its generation (bumped by retire), kept while environments of the key live.
        self._generations: dict[str, int] = {}
        self._assigned: dict[str, int] = {}  # spec key -> how many live environments are assigned to it
        self._all: set[Environment] = set()
        self._provisioned: dict[str, _Provisioned] = {}  # spec key -> what to keep ready
        # Spares still starting, and those a cold start is already waiting for.
        self._starting: dict[tuple[str, str], dict[Environment, asyncio.Task]] = defaultdict(dict)
        self._claimed: set[Environment] = set()
        self._busy: set[Environment] = set()  # initialising or invoking: their output is drained periodically
        self.admission = admission or Admission(HostGauge(), max_environments=max_environments)
        # Cold invokes queued for a start, by spec key: an environment of theirs freed meanwhile serves them.
        self._handoff: dict[str, dict[asyncio.Future[Any], None]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._compiler: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def from_config(cls, config: Config, **options: object) -> EnvironmentPool:
        return cls(data_dir=config.data_dir, sandbox=config.sandbox, sandbox_uid=config.sandbox_uid,
                   idle_environment_seconds=config.idle_environment_seconds,
                   max_environments=config.max_environments, **options)  # type: ignore[arg-type]

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
        await asyncio.to_thread(shutil.rmtree, work_dir / "environments", True)  # process mode's, left by a crash
        agent = agent_command.for_sandbox(bwrap.SYSTEM_DIRS) if isolation.mode == "bwrap" else agent_command.for_process()
        self.host = Host(isolation, self.sandbox_uid, self.sandbox_uid, cgroups, agent, work_dir)
        if isolation.mode == "bwrap":
            await loop.run_in_executor(None, scratch.clear, self.host.scratch_dir)
            maker = scratch.ScratchMaker(self.host.scratch_dir)
            unsupported = await loop.run_in_executor(None, scratch.unsupported_reason, maker)
            if unsupported is None:
                self.host.scratch = maker
            else:
                maker.close()
                log.warning("/tmp will be a tmpfs that counts against each function's memory: %s", unsupported)
        bwrap.write_etc(self.host.etc_dir, self.sandbox_uid, self.sandbox_uid)
        if isolation.mode == "process":
            self.host.process_runtime_dirs = process.runtime_dirs(work_dir, self._nodejs_dir)
        pythons = [r.install.executable for r in self.runtimes.values() if r.family == "python" and r.install.executable]
        await loop.run_in_executor(None, precompile.compile_lamina, pythons)
        if isolation.mode == "bwrap":
            self.host.sdk_tree = await loop.run_in_executor(None, sdk_tree.existing, work_dir, pythons)
            self.host.agent_runtimes = await loop.run_in_executor(None, agent_command.runtimes_that_run_it, self.runtimes)
        self._compiler = asyncio.create_task(self._compile_sdk(pythons))
        interval = min(max(self.idle_seconds / 4, 0.05), 5.0)
        self._reaper = asyncio.create_task(self._reap_idle(interval))
        self._drainer = asyncio.create_task(self._drain_busy())
        log.info("sandbox: %s (%s); runtimes: %s", isolation.mode, isolation.reason, ", ".join(self.runtimes))

    async def close(self) -> None:
        """Kill every environment and remove lamina's cgroups."""
        self._closing = True
        for task in (self._reaper, self._drainer, self._compiler):
            if task is not None:
                task.cancel()
        if self._compiler is not None:
            await asyncio.gather(self._compiler, return_exceptions=True)
        tasks = [task for tasks in self._spare_tasks.values() for task in tasks]
        for task in tasks:
            task.cancel()
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
        if self.host is not None and self.host.scratch is not None:
            self.host.scratch.close()
        if self.host is not None:
            self.host.spawner.shutdown(wait=False)

    # -- invoke -------------------------------------------------------------------------

    def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> Coroutine[Any, Any, InvokeResult]:
        """The invocation, to await; raises `Busy` when no environment can be had now (the
        caller throttles). It picks the path and hands back that path's coroutine: no
        coroutine of its own wraps the warm path's."""
        idle = self._idle.get(spec.key)
        while idle:
            environment = idle.pop()
            if not environment.dead:
                return self._warm_invoke(environment, spec, request)
        return self._cold_invoke(spec, request)

    async def _warm_invoke(self, environment: Environment, spec: EnvironmentSpec,
                           request: InvokeRequest) -> InvokeResult:
        self._busy.add(environment)
        try:
            result = await environment.invoke(request, spec.timeout_s)
        finally:
            self._busy.discard(environment)
        self._release(environment, spec)
        return result

    def _release(self, environment: Environment, spec: EnvironmentSpec) -> None:
        if environment.dead or self._closing or environment.generation != self._generations.get(spec.key, 0):
            environment.kill()
            return
        waiters = self._handoff.get(spec.key)
        while waiters:  # a cold invoke of this key is queued for a start: it takes this one instead
            waiter = next(iter(waiters))
            del waiters[waiter]
            if not waiter.done():
                waiter.set_result(environment)
                return
        self._idle[spec.key].append(environment)

    def _runtime(self, runtime_id: str) -> Runtime:
        runtime = self.runtimes.get(runtime_id)
        if runtime is None:
            raise UnsupportedRuntime(f"runtime {runtime_id} is not available on this machine")
        return runtime

    async def _cold_invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvokeResult:
        runtime = self._runtime(spec.runtime)
        try:
            environment = await self._unassigned_environment(runtime, spec.network, spec.memory_mb,
                                                             handoff_key=spec.key)
        except SandboxStartTimeout as error:  # the host is too loaded to start one in time
            log.warning("could not start an environment for %s: %s", spec.function_name, error)
            raise Busy("scaling", str(error)) from None
        except (SandboxFailure, OSError) as error:
            log.error("could not start an environment for %s: %s", spec.function_name, error)
            return _sandbox_failure(request, str(error))
        if environment.log_stream:  # freed by an invocation of this function while this one queued
            return await self._warm_invoke(environment, spec, request)
        self._assign(environment, spec.key)
        self._busy.add(environment)
        try:
            result = await self._initialize_and_invoke(runtime, environment, spec, request)
        finally:
            self._busy.discard(environment)
            # The next spare starts once this cold start is over, so as not to compete with it.
            self._replenish(runtime, spec.network)
        self._release(environment, spec)
        return result

    async def _initialize_and_invoke(self, runtime: Runtime, environment: Environment, spec: EnvironmentSpec,
                                     request: InvokeRequest) -> InvokeResult:
        init_log = [loglines.init_start(runtime.version_label, runtime.version_arn(spec.region))]
        try:
            init = await environment.initialize(spec, self.init_timeout_s)
        except (SandboxFailure, OSError) as error:  # e.g. the code directory is gone
            environment.kill()
            log.error("could not initialise an environment for %s: %s", spec.function_name, error)
            return _sandbox_failure(request, str(error))
        init_log += init.log
        if init.ok:
            result = await environment.invoke(request, spec.timeout_s)
            result.init_duration_ms = init.duration_ms
            result.init_log = init_log
            return result
        # Failed init: report it, reset, and run a suppressed init inside this invocation,
        # charged to its timeout (spec §3.1).
        init_log.append(loglines.init_report(init.duration_ms, "init", init.status, init.error_type))
        started = time.monotonic()
        reinit = await environment.reinitialize(spec.timeout_s)
        init_log += reinit.log
        if reinit.ok:
            init_log.append(loglines.init_report(reinit.duration_ms, "invoke"))
            result = await environment.invoke(request, spec.timeout_s, started)
            result.init_log = init_log
            return result
        init_log.append(loglines.init_report(reinit.duration_ms, "invoke", reinit.status, reinit.error_type))
        memory = environment.usage.memory_mb()
        environment.kill()  # and the next invocation starts over
        duration_ms = (time.monotonic() - started) * 1000
        if reinit.status == "timeout":
            payload = platform_error("Sandbox.Timedout", request.request_id,
                                     f"Task timed out after {spec.timeout_s:.2f} seconds")
            return InvokeResult(payload, "Sandbox.Timedout", "timeout", duration_ms, memory, environment.log_stream,
                                init_log=init_log, log=[loglines.timed_out(request.request_id, spec.timeout_s)])
        payload, content_type = reinit.error_payload(request.request_id)
        return InvokeResult(payload, reinit.error_type, "error", duration_ms, memory, environment.log_stream,
                            init_log=init_log, content_type=content_type)

    # -- environments -------------------------------------------------------------------

    async def _start_environment(self, runtime: Runtime, network: str, slot: StartSlot,
                                 memory_mb: int | None = None) -> Environment:
        """Start an environment with `slot`, once the host has room for it (else `Busy`). One
        that fails to start (it ran no code of the function yet) is replaced once."""
        try:
            try:
                return await self._start_admitted(runtime, network, memory_mb)
            except SandboxStartTimeout:
                raise
            except (SandboxFailure, OSError) as error:
                log.warning("an environment for %s did not start (%s); starting another", runtime.id, error)
            return await self._start_admitted(runtime, network, memory_mb)
        finally:
            slot.release()

    async def _start_admitted(self, runtime: Runtime, network: str, memory_mb: int | None) -> Environment:
        assert self.host is not None, "start() the pool first"
        await self._make_room()
        self.admission.admit()
        environment = Environment(self.host, runtime, network)
        self._all.add(environment)
        try:
            await environment.start(memory_mb)
        finally:
            self._track(environment)
        return environment

    def _track(self, environment: Environment) -> None:
        """Forget a started (or failed) environment, and give its room back, once it has stopped."""
        def gone(_: object = None) -> None:
            self._all.discard(environment)
            self.admission.gone()
        if environment.closed is not None:
            environment.closed.add_done_callback(gone)
        else:
            gone()

    async def _make_room(self) -> None:
        """Stop idle environments, least recently used first, while the host has no room for
        one more; `Busy` when none is left to stop."""
        while (refusal := self.admission.refusal()) is not None:
            lists = [*self._spares.values(), *self._idle.values()]
            victims = [(e, envs) for envs in lists for e in envs if not e.pinned and not e.dead]
            if not victims:
                raise refusal
            victim, its_list = min(victims, key=lambda pair: pair[0].last_used)
            its_list.remove(victim)
            victim.kill()
            if victim.closed is not None:
                await asyncio.wait([victim.closed], timeout=1)
            self.admission.gauge.forget()

    async def _start_slot(self, handoff_key: str | None, wait_s: float) -> StartSlot | Environment:
        """A start slot, waiting in the queue for one if none is free; or, if `handoff_key` is
        given, an idle environment of that key freed while waiting. `Busy` after `wait_s`."""
        slot = self.admission.try_slot()
        if slot is not None:
            return slot
        refusal = self.admission.refusal()  # no point queueing for room the host lacks
        if refusal is not None and not any(self._idle.values()) and not any(self._spares.values()):
            raise refusal
        waiter = self.admission.enqueue()
        if handoff_key is not None:
            self._handoff.setdefault(handoff_key, {})[waiter] = None
        timer = asyncio.get_running_loop().call_later(wait_s, _set_if_pending, waiter, None)
        try:
            got = await waiter
        except BaseException:  # cancelled: give back whatever came meanwhile
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())
            raise
        finally:
            timer.cancel()
            self.admission.leave(waiter)
            if handoff_key is not None:
                waiters = self._handoff.get(handoff_key)
                if waiters is not None:
                    waiters.pop(waiter, None)
                    if not waiters:
                        del self._handoff[handoff_key]
        if got is None:
            raise Busy("scaling", f"no environment could be started within {wait_s:g} s")
        return got

    def _give_back(self, got: StartSlot | Environment | None) -> None:
        if isinstance(got, StartSlot):
            got.release()
        elif isinstance(got, Environment):
            got.kill()  # rare (a cancelled wait); killing keeps the accounting simple

    async def _unassigned_environment(self, runtime: Runtime, network: str, memory_mb: int, *,
                                      handoff_key: str | None = None, wait_s: float | None = None) -> Environment:
        """A spare if one is ready; else a spare already starting, which is further along than
        a new one would be (it gets this function's CPU weight from now on); else a new one,
        when a start slot is free (waiting up to `wait_s` for one). With `handoff_key`, an
        idle environment of that key freed meanwhile may come back instead: it is already
        initialised (it has a `log_stream`)."""
        environment = self._take_spare(runtime.id, network)
        if environment is not None:
            return environment
        for starting, task in self._starting[(runtime.id, network)].items():
            if starting in self._claimed:
                continue
            self._claimed.add(starting)
            if starting.cgroup is not None:
                starting.cgroup.set_cpu(memory_mb)
            try:
                if await asyncio.shield(task) is starting and not starting.dead:
                    return starting
            finally:
                self._claimed.discard(starting)
            break
        got = await self._start_slot(handoff_key, self.admission.queue_wait_s if wait_s is None else wait_s)
        if isinstance(got, Environment):
            return got
        return await self._start_environment(runtime, network, got, memory_mb)

    def _take_spare(self, runtime_id: str, network: str) -> Environment | None:
        spares = self._spares.get((runtime_id, network))
        while spares:
            environment = spares.pop()
            if not environment.dead:
                return environment
        return None

    def _replenish(self, runtime: Runtime, network: str) -> None:
        """Start spares in the background until `spares_per_runtime` are ready or starting,
        with start slots and room nobody is waiting for (the next cold start tries again)."""
        key = (runtime.id, network)
        missing = self.spares_per_runtime - len(self._spares[key]) - len(self._spare_tasks[key])
        for _ in range(max(0, missing)):
            slot = self.admission.try_slot() if not self._closing else None
            if slot is None:
                return
            try:
                self.admission.admit()  # counted now: several spares are started before any runs
            except Busy:
                slot.release()
                return
            task = asyncio.create_task(self._start_spare(runtime, network, slot))
            self._spare_tasks[key].add(task)
            task.add_done_callback(self._spare_tasks[key].discard)

    async def _start_spare(self, runtime: Runtime, network: str, slot: StartSlot) -> Environment | None:
        """Start a spare (admitted by the caller, with `slot`); a cold start that claimed it
        while it was starting takes it, otherwise it joins the ready spares."""
        assert self.host is not None, "start() the pool first"
        key = (runtime.id, network)
        environment = Environment(self.host, runtime, network)
        task = asyncio.current_task()
        assert task is not None
        self._starting[key][environment] = task
        self._all.add(environment)
        try:
            await environment.start()
        except (SandboxFailure, OSError) as error:
            log.warning("could not start a spare environment for %s: %s", runtime.id, error)
            return None
        finally:
            slot.release()
            self._starting[key].pop(environment, None)
            self._track(environment)
        if self._closing:
            environment.kill()
            return None
        if environment not in self._claimed:
            self._spares[key].append(environment)
        return environment

    async def _compile_sdk(self, pythons: list[Path]) -> None:
        """The SDK's bytecode, in the background; then, for sandboxes, the SDK as one tree."""
        compiled = await precompile.compile_sdk(pythons)
        host = self.host
        if compiled and host is not None and host.bwrap and host.sdk_tree is None:
            host.sdk_tree = await asyncio.to_thread(sdk_tree.build, host.work_dir, pythons)

    async def prewarm(self, runtime_id: str, network: str = "host") -> None:
        """Have spares of a runtime ready (e.g. at server start for the runtimes in use)."""
        runtime = self._runtime(runtime_id)
        self._replenish(runtime, network)
        await asyncio.gather(*self._spare_tasks[(runtime.id, network)], return_exceptions=True)

    def _assign(self, environment: Environment, key: str) -> None:
        """`environment` now serves `key`, at the key's current generation."""
        environment.generation = self._generations.get(key, 0)
        self._assigned[key] = self._assigned.get(key, 0) + 1
        assert environment.closed is not None
        environment.closed.add_done_callback(lambda _: self._unassign(key))

    def _unassign(self, key: str) -> None:
        """An environment of `key` is gone. With the last one the key's generation goes too:
        no environment is left to compare with it, so the key starting over at 0 is the same."""
        left = self._assigned[key] - 1
        if left:
            self._assigned[key] = left
        else:
            del self._assigned[key]
            self._generations.pop(key, None)

    async def retire(self, key: str) -> None:
        """The spec behind `key` is no longer current: no environment of it is reused."""
        if key in self._assigned:  # else nothing is there to outdate
            self._generations[key] = self._generations.get(key, 0) + 1
        self._provisioned.pop(key, None)
        for environment in self._idle.pop(key, []):
            environment.kill()

    # -- provisioned concurrency ----------------------------------------------------------

    async def provision(self, spec: EnvironmentSpec, count: int) -> tuple[int, str | None]:
        """Keep `count` environments of `spec` initialised and waiting (provisioned
        concurrency): invocations of `spec.key` find them warm, the reaper leaves them, and
        one that dies is replaced. Returns (how many are ready, why the others are not)."""
        target = self._provisioned.setdefault(spec.key, _Provisioned(spec))
        target.spec, target.count = spec, count
        alive = [e for e in target.environments if not e.dead]
        for extra in alive[count:]:
            extra.pinned = False
            if extra in self._idle.get(spec.key, []):
                self._idle[spec.key].remove(extra)
                extra.kill()
        target.environments = alive[:count]
        missing = count - len(target.environments)
        outcomes = await asyncio.gather(*(self._provision_one(target) for _ in range(missing)))
        failures = [reason for reason in outcomes if reason]
        ready = sum(1 for e in target.environments if not e.dead)
        return ready, (failures[0] if failures else None)

    async def unprovision(self, key: str) -> None:
        target = self._provisioned.pop(key, None)
        if target is None:
            return
        for environment in target.environments:
            environment.pinned = False
        await self.retire(key)

    async def _provision_one(self, target: _Provisioned) -> str | None:
        spec = target.spec
        runtime = self._runtime(spec.runtime)
        try:
            environment = await self._unassigned_environment(runtime, spec.network, spec.memory_mb,
                                                             wait_s=PROVISIONED_INIT_TIMEOUT_S)
        except (SandboxFailure, OSError, Busy) as error:
            return f"could not start an environment: {error}"
        # Provisioned environments get the longer init budget Lambda gives them.
        init = await environment.initialize(spec, max(PROVISIONED_INIT_TIMEOUT_S, min(spec.timeout_s, 900)))
        self._replenish(runtime, spec.network)
        if not init.ok:
            environment.kill()
            return f"{init.error_type}: the function's initialisation failed"
        if self._provisioned.get(spec.key) is not target or self._closing:
            environment.kill()
            return None
        self._assign(environment, spec.key)
        environment.pinned = True
        target.environments.append(environment)
        self._idle[spec.key].append(environment)
        if environment.closed is not None:
            environment.closed.add_done_callback(lambda _: self._replace_provisioned(target))
        return None

    def _replace_provisioned(self, target: _Provisioned) -> None:
        """A provisioned environment died (timeout, crash): start another in its place."""
        target.environments = [e for e in target.environments if not e.dead]
        if self._closing or self._provisioned.get(target.spec.key) is not target:
            return
        if len(target.environments) < target.count:
            task = asyncio.create_task(self._provision_one(target))
            target.replacing.add(task)
            task.add_done_callback(target.replacing.discard)

    async def _drain_busy(self) -> None:
        """Collect the output of long-running inits and invocations as it comes, so that a
        function's writes seldom wait on a full pipe."""
        while True:
            await asyncio.sleep(LOG_DRAIN_INTERVAL_S)
            for environment in list(self._busy):
                if environment.capture is not None:
                    environment.capture.drain()

    async def _reap_idle(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            horizon = time.monotonic() - self.idle_seconds
            for groups in (self._idle, self._spares):
                for key, environments in list(groups.items()):
                    keep = []
                    for environment in environments:
                        if environment.pinned:
                            keep.append(environment)
                            continue
                        if environment.dead:
                            continue
                        if environment.last_used < horizon:
                            environment.kill()
                        else:
                            keep.append(environment)
                    if keep:
                        groups[key] = keep  # type: ignore[index]
                    else:
                        del groups[key]  # type: ignore[arg-type]

    def counts(self) -> dict[str, int]:
        """How many environments are idle, spare and in total (for metrics and tests)."""
        return {"idle": sum(len(v) for v in self._idle.values()),
                "spare": sum(len(v) for v in self._spares.values()), "total": len(self._all)}


@dataclass
class _Provisioned:
    spec: EnvironmentSpec
    count: int = 0
    environments: list[Environment] = field(default_factory=list)
    replacing: set[asyncio.Task] = field(default_factory=set)


def _sandbox_failure(request: InvokeRequest, reason: str) -> InvokeResult:
    return InvokeResult(platform_error("Sandbox.Failure", request.request_id, reason), "Sandbox.Failure", "failure",
                        0.0, 0, "")


def _set_if_pending(future: asyncio.Future[Any], value: object) -> None:
    if not future.done():
        future.set_result(value)
