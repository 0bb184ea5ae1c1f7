"""One execution environment, seen from the worker: a sandbox, its agent, its runtime.

An environment is started for a runtime before it knows its function (it can wait as a
spare), is initialised once for one function version, then serves one invocation at a
time until it is discarded. Three channels connect the worker to it:

- the control socket to the agent (start-up, assignment, resets, runtime exits, and the
  invocations of HTTP runtimes);
- for lamina's Python runtime, a socket straight to the runtime process: an invocation is
  one frame out and one frame back, with no process in between;
- the read end of the pipe carrying the runtime's stdout and stderr.

Everything that comes from inside is untrusted: frames are bounded, frame kinds are
checked per channel, request ids are matched, and the memory figure a runtime reports only
ever raises what the host measures (see `highwater`).
`replies` reads the frame that ends an init or an invocation as its outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import marshal
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lamina.deadline import Deadline

from .agent import wire
from .cgroups import EnvironmentCgroup
from .channel import FrameChannel
from .environ import LAMBDA_PATHS, base_environment, function_environment
from .host import Host
from .isolation import bwrap, launch, mounts, process
from .logcapture import LogCapture
from .outcomes import InitOutcome
from .replies import LOST, TIMEOUT, describe, init_outcome, invoke_result
from .runtimes.catalog import Runtime
from .scratch import DEFAULT_SIZE_MB as DEFAULT_SCRATCH_MB
from .scratch import ScratchDisk
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult, LogLine
from .stderr_tail import StderrTail
from .usage import EnvironmentUsage

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0  # sandbox up and agent ready; generous for a loaded machine
SPARE_MEMORY_MB = 128  # the limit of an environment not yet assigned to a function
EXIT_REPORT_GRACE_S = 1.0  # after the runtime's socket closes, how long the agent has to report the exit
_RUNTIME_KINDS = frozenset({wire.R_NEXT, wire.R_RESPONSE, wire.R_ERROR, wire.R_INIT_ERROR, wire.R_WAITING})
_AGENT_KINDS = frozenset({wire.HELLO, wire.READY, wire.INIT_DONE, wire.RESULT, wire.EXITED, wire.FAULT})


class SandboxFailure(Exception):
    """The environment could not be started or broke the protocol."""


class SandboxStartTimeout(SandboxFailure):
    """The environment did not start within `START_TIMEOUT_S` (the host is loaded)."""


class Environment:
    def __init__(self, host: Host, runtime: Runtime, network: str) -> None:
        self.host = host
        self.runtime = runtime
        self.network = network
        self.id = uuid.uuid4().hex
        self.generation = 0  # the pool's generation of the spec key when assigned
        self.log_stream = ""
        self.last_used = time.monotonic()
        self.dead = False
        self.pinned = False  # kept ready for provisioned concurrency: never reaped
        self.closed: asyncio.Future[None] | None = None
        self.capture: LogCapture | None = None  # the current runtime's output
        self._loop = asyncio.get_running_loop()
        self._waiting: asyncio.Future[tuple[int, list[bytes]]] | None = None
        self._inbox: list[tuple[int, list[bytes]]] = []  # frames that came before anyone waited
        self._control: asyncio.Transport | None = None
        self._control_channel: FrameChannel | None = None
        self._fd_socket: socket.socket | None = None  # a dup of the control socket, for passing fds
        self._runtime: asyncio.Transport | None = None  # lamina's Python runtime, directly
        self._runtime_generation = 0  # which runtime process the agent's EXITED reports must be about
        self._runtime_open = False  # the current Python runtime's socket has not closed yet
        self._exit_report: list[bytes] | None = None  # EXITED held until that socket has been read to its end
        self._process: subprocess.Popen[bytes] | None = None
        self._spawning = False  # the process is being started on the spawner's thread
        self._stderr: StderrTail | None = None  # what the sandbox itself (bubblewrap, the agent) wrote
        self._pidfd: int | None = None
        self._agent_pid = 0
        self._start_kinds: set[int] = set()  # the start-up frames not yet received, while the worker awaits them
        self._agent_port = 0  # where the agent serves the Runtime API, on 127.0.0.1
        self.usage = EnvironmentUsage(lambda: (self._agent_pid, self._runtime_generation))
        self._arn: tuple[str, bytes] = ("", b"")  # the last invoked ARN, encoded: the same one, mostly
        self._deadline = Deadline(self._loop, self._invocation_timed_out)  # of the invocation in flight
        self.cgroup: EnvironmentCgroup | None = None
        self._dir: Path | None = None  # process mode: the environment's own directory
        self._scratch: ScratchDisk | None = None  # the /tmp this environment will mount

    async def _scratch_disk(self, size_mb: int) -> ScratchDisk:
        """A scratch disk of `size_mb` for /tmp: the one made in advance if it fits."""
        if self._scratch is not None and self._scratch.size_mb != size_mb:
            self._scratch.close()
            self._scratch = None
        if self._scratch is None:
            assert self.host.scratch is not None
            disk = await self.host.scratch.make(size_mb)
            if self.dead:  # killed meanwhile: nothing will mount it
                disk.close()
                raise SandboxFailure("the environment was stopped while its /tmp was being made")
            self._scratch = disk
        return self._scratch

    @property
    def direct(self) -> bool:
        """Invocations go straight to lamina's Python runtime rather than through the agent."""
        return self.runtime.family == "python"

    # -- frames -------------------------------------------------------------------------

    def _on_frame(self, kind: int, fields: list[bytes], held: bool = False) -> None:
        """A frame from either channel; `held`: an exit report delivered late (once only)."""
        if kind == wire.EXITED:
            if int(fields[0]) != self._runtime_generation:
                return  # a runtime process replaced since (reset)
            if self._runtime_open:
                # The runtime's last frames (an init error, a response) may still be on its own
                # socket: its closing, which follows them, delivers this report.
                self._exit_report = fields
                self._loop.call_later(EXIT_REPORT_GRACE_S, self._deliver_exit_report, self._runtime_generation)
                return
            answered = self._waiting
            if not held and answered is not None and answered.done() and _failed_init(*answered.result()):
                # The runtime's init error came just before (in the same read) and is not taken
                # yet: a reset, which makes this exit stale, may follow it.
                self._exit_report = fields
                self._loop.call_soon(self._deliver_exit_report, self._runtime_generation)
                return
        if kind == wire.FAULT:
            log.error("agent of environment %s failed:\n%s", self.id, fields[0].decode(errors="replace"))
            self.kill()
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result((kind, fields))
        elif kind in self._start_kinds:
            self._inbox.append((kind, fields))  # READY and R_WAITING may come together, before the second is awaited
        elif kind == wire.EXITED or kind in _RUNTIME_KINDS:
            self.kill()  # the runtime died, or spoke, between invocations: this environment is done
        else:
            self._inbox.append((kind, fields))  # e.g. HELLO before the worker awaits it
            if len(self._inbox) > 4:
                self.kill()

    def _deliver_exit_report(self, generation: int) -> None:
        if generation != self._runtime_generation or self._exit_report is None:
            return
        fields, self._exit_report = self._exit_report, None
        self._runtime_open = False
        self._on_frame(wire.EXITED, fields, held=True)

    def _on_violation(self, what: str) -> None:
        log.warning("environment %s broke the protocol: %s", self.id, what)
        self.kill()

    def _on_agent_lost(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result((LOST, []))
        self.kill()

    def _on_runtime_closed(self, generation: int) -> None:
        """The runtime's socket closed: it exited (the agent reports how) or closed it itself."""
        if generation != self._runtime_generation:
            return
        self._runtime_open = False
        if self._exit_report is not None:
            self._deliver_exit_report(generation)
            return
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            self._loop.call_later(EXIT_REPORT_GRACE_S, _set_if_pending, waiting, (LOST, []))

    async def _expect(self, timeout_s: float | None) -> tuple[int, list[bytes]]:
        if self._inbox:
            return self._inbox.pop(0)
        if self.dead:
            return LOST, []
        waiting = self._waiting = self._loop.create_future()
        timer = None
        if timeout_s is not None:
            timer = self._loop.call_later(max(timeout_s, 0), _set_if_pending, waiting, (TIMEOUT, []))
        try:
            return await waiting
        finally:
            if timer is not None:
                timer.cancel()
            self._waiting = None

    async def _send_control(self, kind: int, *fields: bytes, fds: list[int] | None = None) -> None:
        """A frame to the agent, with fds attached when given (closed here once sent)."""
        assert self._control is not None and self._control_channel is not None and self._fd_socket is not None
        frame = wire.encode(kind, *fields)
        try:
            if not fds:
                self._control.write(frame)
                return
            await self._control_channel.drained()  # keep the stream in order
            if self._control.is_closing():
                return
            sent = socket.send_fds(self._fd_socket, [frame], fds)
            if sent < len(frame):
                self._control.write(frame[sent:])
        finally:
            for fd in fds or ():
                os.close(fd)

    # -- the runtime's channels ---------------------------------------------------------

    async def _new_runtime_link(self) -> list[int]:
        """A fresh output pipe (and, for lamina's Python runtime, a socket) for the next
        runtime process; returns the ends to hand to the agent."""
        self._drop_runtime_link()
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        self.capture = LogCapture(read_end)
        self._runtime_generation += 1
        self._exit_report = None
        generation = self._runtime_generation
        theirs: list[int] = []
        if self.direct:
            ours, their_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            theirs.append(their_socket.detach())
            transport, _ = await self._loop.create_unix_connection(
                lambda: FrameChannel(_RUNTIME_KINDS, self._on_frame, lambda: self._on_runtime_closed(generation),
                                     self._on_violation), sock=ours)
            self._runtime = transport  # type: ignore[assignment]
            self._runtime_open = True
        return theirs + [write_end]

    def _drop_runtime_link(self) -> None:
        if self._runtime is not None:
            self._runtime.abort()
            self._runtime = None
        if self.capture is not None:
            self.capture.close()
            self.capture = None

    def take_log(self) -> list[LogLine]:
        return self.capture.take() if self.capture is not None else []

    # -- start --------------------------------------------------------------------------

    async def start(self, memory_mb: int | None = None) -> None:
        """Start the sandbox and its agent; afterwards the environment is a spare. Started
        for a waiting invocation, it gets that function's CPU share (`memory_mb`) at once;
        started as a spare in the background, the least share there is."""
        host = self.host
        scratch = None
        if host.bwrap and host.disk_backed_tmp:  # made while the sandbox starts, off the invoke path
            scratch = asyncio.ensure_future(self._scratch_disk(DEFAULT_SCRATCH_MB))
            # When the start fails first, its failure is the one reported: mark this one seen.
            scratch.add_done_callback(lambda done: done.cancelled() or done.exception())
        worker_end, agent_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        stderr_read, stderr_write = os.pipe2(os.O_CLOEXEC)
        theirs = [agent_end.detach(), stderr_write]  # the child's ends, closed here once it has them
        info_read = -1
        agent = host.agent_for(self.runtime)
        env = dict(agent.env, _LAMINA_CONTROL_FD=str(theirs[0]))
        if host.bwrap:
            assert host.isolation.bwrap is not None
            info_read, info_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            theirs.append(info_write)
            argv = bwrap.command(host.isolation.bwrap, self.runtime, self.network, agent, host.etc_dir, info_write,
                                 host.sdk_tree)
        else:
            argv = agent.argv
        self.closed = self._loop.create_future()
        self._stderr = StderrTail(stderr_read, self._loop)
        try:
            if host.cgroups is not None:
                self.cgroup = host.cgroups.environment(self.id, SPARE_MEMORY_MB, cpu_memory_mb=memory_mb)
                self.usage.watch(self.cgroup)
                argv = self.cgroup.entering(argv)
            self._fd_socket = socket.socket(fileno=os.dup(worker_end.fileno()))
            transport, self._control_channel = await self._loop.create_unix_connection(
                lambda: FrameChannel(_AGENT_KINDS, self._on_frame, self._on_agent_lost, self._on_violation),
                sock=worker_end)
            transport.set_write_buffer_limits(high=0)  # the channel knows when all is written
            self._control = transport  # type: ignore[assignment]
        except BaseException:
            worker_end.close()
            for fd in [*theirs, info_read]:
                if fd >= 0:
                    os.close(fd)
            self.kill()
            raise
        self._spawning = True
        spawn = self._loop.run_in_executor(host.spawner, launch.spawn, argv, env, tuple(theirs[:1] + theirs[2:]),
                                           stderr_write, host.work_dir, host.bwrap)
        spawn.add_done_callback(lambda future: self._on_spawned(future, theirs))
        try:
            await asyncio.shield(spawn)
            await self._handshake(info_read)
            if scratch is not None:
                await scratch
        except BaseException:
            self.kill()
            if scratch is not None and not scratch.done():
                scratch.cancel()
            raise
        finally:
            if info_read >= 0:
                os.close(info_read)

    def _on_spawned(self, spawn: asyncio.Future[subprocess.Popen[bytes]], theirs: list[int]) -> None:
        """The sandbox's process exists (or could not be started): watch for its exit."""
        self._spawning = False
        for fd in theirs:
            os.close(fd)
        if spawn.cancelled() or spawn.exception() is not None:
            if self.dead:
                self._cleanup()
            return
        self._process = spawn.result()
        self._pidfd = os.pidfd_open(self._process.pid)
        self._loop.add_reader(self._pidfd, self._on_process_exit)
        if self.dead:  # killed while it was being started
            self._kill_process_group()

    async def _handshake(self, info_read: int) -> None:
        assert self._process is not None
        if info_read >= 0:
            agent_pid = await bwrap.read_child_pid(info_read, START_TIMEOUT_S)
            if agent_pid is None:
                raise await self._start_failure("bubblewrap did not start the sandbox", LOST)
            self._agent_pid = agent_pid
        else:
            self._agent_pid = self._process.pid
        kind, _ = await self._expect(START_TIMEOUT_S)
        if kind == TIMEOUT:
            raise SandboxStartTimeout(f"the sandbox did not start within {START_TIMEOUT_S:g} s")
        if kind != wire.HELLO:
            raise await self._start_failure("the sandbox did not start", kind)
        setup = {"privileged": self.host.bwrap, "uid": self.host.uid, "gid": self.host.gid,
                 "check_peers": self.host.bwrap and self.network == "host", "prestart": None}
        fds: list[int] = []
        if self.host.bwrap and self.runtime.prestartable:
            # lamina's Python runtime starts now and waits for its function.
            fds = await self._new_runtime_link()
            setup["prestart"] = {"argv": self.runtime.argv(LAMBDA_PATHS), "cwd": "/",
                                 "env": base_environment(LAMBDA_PATHS, self.runtime.family),
                                 "generation": self._runtime_generation, "fork": self.host.forks_runtime(self.runtime),
                                 "preload": list(self.runtime.preload)}
        # Control frames to the agent are marshalled: `marshal` is built in, where importing
        # `json` would add ~10 ms to every start, and plain values in its format 4 read the same
        # on every Python the agent may run on (lamina's, or a Python runtime's from 3.9).
        await self._send_control(wire.SETUP, marshal.dumps(setup), fds=fds)
        # The agent's READY and, for a pre-started runtime, the runtime's R_WAITING come on
        # different channels, in either order; the spare is ready when both have.
        expected = self._start_kinds = {wire.READY, wire.R_WAITING} if fds else {wire.READY}
        while expected:
            kind, fields = await self._expect(START_TIMEOUT_S)
            if kind == wire.READY:
                self._agent_port = int(fields[0])
            if kind == TIMEOUT:
                raise SandboxStartTimeout(f"the sandbox did not get ready within {START_TIMEOUT_S:g} s")
            if kind not in expected:
                raise await self._start_failure("the sandbox did not get ready", kind)
            expected.discard(kind)
        self._start_kinds = set()

    async def _start_failure(self, what: str, kind: int) -> SandboxFailure:
        """Why the sandbox failed to start, with its exit status and the end of its stderr
        (logged whole; its last line goes in the message)."""
        assert self.closed is not None and self._stderr is not None
        if kind == LOST:  # it is exiting: let it finish, so that its status and last words are in
            await asyncio.wait([self.closed], timeout=EXIT_REPORT_GRACE_S)
        self.kill()
        await asyncio.wait([self.closed, self._stderr.ended], timeout=EXIT_REPORT_GRACE_S)
        status = launch.exit_status(self._process.returncode if self._process is not None else None)
        message = f"{what} ({describe(kind)}; {status})"
        stderr = self._stderr.text()
        if stderr:
            log.error("environment %s: %s; its stderr:\n%s", self.id, message, stderr)
            message += f": {self._stderr.last_line()}"
        else:
            log.error("environment %s: %s; it wrote nothing to stderr", self.id, message)
        return SandboxFailure(message)

    # -- init ---------------------------------------------------------------------------

    async def initialize(self, spec: EnvironmentSpec, budget_s: float) -> InitOutcome:
        """Assign this environment to a function and run its init."""
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{spec.function_version}]{self.id}"
        if self.host.bwrap:
            paths = LAMBDA_PATHS
        else:
            self._dir = self.host.work_dir / "environments" / self.id
            # Merging layers walks their trees: off the loop.
            paths = await asyncio.to_thread(process.paths, self._dir, spec, self.runtime,
                                            self.host.process_runtime_dirs)
        env = function_environment(spec, self.runtime.family, paths, self.log_stream, self.runtime.node_major)
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self._agent_port}"
        if not self.host.bwrap and self.direct:
            env["_LAMINA_OPT_DIR"] = paths.opt
        if self.cgroup is not None:
            self.cgroup.set_memory(spec.memory_mb)
            self.cgroup.set_cpu(spec.memory_mb)
        self.usage.assigned(spec.memory_mb)
        use_prestarted = self.host.bwrap and self.runtime.can_use_prestarted(spec) and self._runtime is not None
        fds: list[int] = []
        targets: list[str] = []
        if self.host.bwrap and spec.code_dir.stat().st_mode & 0o005 != 0o005:
            log.warning("%s: its code directory %s is not readable by the sandbox user (needs o+rx)",
                        spec.function_name, spec.code_dir)
        try:
            if self.host.bwrap:
                fds.append(mounts.detached_bind(spec.code_dir))
                targets.append("/var/task")
                if spec.layer_dirs:
                    fds.append(mounts.detached_layers(spec.layer_dirs))
                    targets.append("/opt")
                if self.host.disk_backed_tmp:
                    fds.append((await self._scratch_disk(spec.ephemeral_storage_mb)).take())
                    targets.append("/tmp")
            if not use_prestarted:
                fds += await self._new_runtime_link()
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        assignment = {
            "mounts": targets,
            "tmp_mb": spec.ephemeral_storage_mb if self.host.bwrap and not self.host.disk_backed_tmp else None,
            "env": env, "cwd": paths.task, "argv": self.runtime.command(spec, paths),
            "bootstrap": self.runtime.bootstrap_candidates(paths) or None, "channel": self.direct,
            "generation": self._runtime_generation,
        }
        if use_prestarted:  # what the agent passes on to the waiting runtime, which reads JSON
            assignment["go"] = json.dumps({"env": env, "cwd": paths.task}).encode()
        started = time.monotonic()
        await self._send_control(wire.ASSIGN, marshal.dumps(assignment), fds=fds)
        return await self._init_outcome(started, budget_s)

    async def reinitialize(self, budget_s: float) -> InitOutcome:
        """Reset the runtime (every process but the agent) and initialise again."""
        if self.capture is not None:
            self.capture.take()  # the previous attempt's lines were reported with it
        started = time.monotonic()
        fds = await self._new_runtime_link()
        await self._send_control(wire.REINIT, marshal.dumps({"generation": self._runtime_generation}),
                                 fds=fds)
        return await self._init_outcome(started, budget_s)

    async def _init_outcome(self, started: float, budget_s: float) -> InitOutcome:
        kind, fields = await self._expect(budget_s)
        duration_ms = (time.monotonic() - started) * 1000
        return init_outcome(self, kind, fields, duration_ms, budget_s)

    # -- invoke -------------------------------------------------------------------------

    async def invoke(self, request: InvokeRequest, timeout_s: float, started: float | None = None) -> InvokeResult:
        """Serve one invocation. `started` (time.monotonic()) moves the deadline earlier when
        a suppressed init already used part of the timeout."""
        loop = self._loop
        now = time.monotonic()
        if started is None:
            started = now
        remaining_s = timeout_s - (now - started)
        if self._arn[0] != request.invoked_function_arn:
            self._arn = (request.invoked_function_arn, request.invoked_function_arn.encode())
        fields = (request.request_id.encode(), str(int((time.time() + remaining_s) * 1000)).encode(),
                  self._arn[1], (request.trace_id or "").encode(),
                  (request.client_context or "").encode(), (request.cognito_identity or "").encode(),
                  request.content_type.encode(), (request.tenant_id or "").encode(), request.payload)
        waiting = self._waiting = loop.create_future()
        if self._inbox:  # only an anomaly leaves frames here; let it decide the outcome
            waiting.set_result(self._inbox.pop(0))
        elif self.dead:
            waiting.set_result((LOST, []))
        elif self._runtime is not None:
            self._runtime.write(wire.encode(wire.R_EVENT, *fields))
        else:
            assert self._control is not None
            self._control.write(wire.encode(wire.INVOKE, *fields))
        self._deadline.start(remaining_s)
        try:
            kind, reply = await waiting
        finally:
            self._deadline.stop()
            self._waiting = None
        ended = self.last_used = time.monotonic()
        return invoke_result(self, request, kind, reply, timeout_s, (ended - started) * 1000)

    def _invocation_timed_out(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result((TIMEOUT, []))

    # -- teardown -----------------------------------------------------------------------

    def kill(self) -> None:
        """Kill everything in the sandbox. Cleanup completes when `closed` is done."""
        if self.dead:
            return
        self.dead = True
        self._deadline.close()
        if self._agent_pid:
            try:
                if self.host.bwrap:
                    os.kill(self._agent_pid, signal.SIGKILL)  # PID 1: the whole namespace goes with it
                else:
                    os.killpg(self._agent_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        else:  # still starting: bubblewrap reaps its child and exits by itself once that has died
            self._kill_process_group()
        if self.cgroup is not None and not self.host.bwrap:
            self.cgroup.kill()
        if self._control is not None:
            self._control.abort()
        if self._runtime is not None:
            self._runtime.abort()
        if self._process is None and not self._spawning:
            self._cleanup()

    def _kill_process_group(self) -> None:
        """The process lamina started, in its own process group: bubblewrap and, until it
        calls setsid, the child it clones for the sandbox (which would otherwise wait for its
        parent's go-ahead forever). Whatever escapes is in the cgroup, killed on exit."""
        if self._process is not None and self._process.returncode is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _on_process_exit(self) -> None:
        assert self._process is not None and self._pidfd is not None
        if self._process.poll() is None:
            return
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        if not self.dead:
            self.kill()
        if self.cgroup is not None:
            self.cgroup.kill()  # stragglers: bubblewrap's setup child, processes of process mode
        self._cleanup()

    def _cleanup(self, attempt: int = 0) -> None:
        if self.cgroup is None:
            self._release_host_resources()
            return
        # rmdir of a cgroup takes milliseconds per controller (v1): off the loop.
        try:
            removal = self._loop.run_in_executor(None, self.cgroup.remove)
        except RuntimeError:  # the loop's executor is already shut down: lamina is exiting
            self._cgroup_removed(self.cgroup.remove(), attempt)
            return
        removal.add_done_callback(
            lambda done: self._cgroup_removed(not done.cancelled() and done.exception() is None
                                              and done.result(), attempt))

    def _cgroup_removed(self, removed: bool, attempt: int) -> None:
        if not removed and attempt < 50:  # processes still exiting
            self._loop.call_later(0.02 * (attempt + 1), self._cleanup, attempt + 1)
            return
        self._release_host_resources()

    def _release_host_resources(self) -> None:
        """What the environment held on the host, once its processes and cgroup are gone."""
        self._drop_runtime_link()
        self.usage.close()
        if self._stderr is not None:
            self._stderr.close()
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        if self._fd_socket is not None:
            self._fd_socket.close()
            self._fd_socket = None
        if self._dir is not None:  # process mode: its directory, possibly large, removed off the loop
            removal = self._loop.run_in_executor(None, shutil.rmtree, self._dir, True)
            self._dir = None
            removal.add_done_callback(lambda _: self._closed())
            return
        self._closed()

    def _closed(self) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)


def _failed_init(kind: int, fields: list[bytes]) -> bool:
    return kind == wire.R_INIT_ERROR or (kind == wire.INIT_DONE and fields[:1] != [wire.OK])


def _set_if_pending(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)
