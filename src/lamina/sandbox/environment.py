"""One execution environment, seen from the worker: a sandbox, its agent, its cgroup.

An environment is started for a runtime before it knows its function (it can wait as a
spare), is initialised once for one function version, then serves one invocation at a
time until it is discarded. Everything the agent sends is treated as untrusted input:
frames are bounded, request ids checked, and memory figures come from the cgroup.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import loglines
from .agent import wire
from .cgroups import CgroupTree, EnvironmentCgroup
from .environ import LAMBDA_PATHS, Paths, base_environment, function_environment
from .isolation import Isolation, bwrap, mounts
from .isolation.agent_command import AgentCommand
from .runtimes.catalog import Runtime
from .spec import EnvironmentSpec, InvokeRequest, InvokeResult, LogLine

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0  # sandbox up and agent ready; generous for a loaded machine
SPARE_MEMORY_MB = 128  # the limit of an environment not yet assigned to a function
FLUSH_GRACE_S = 0.1  # how long a timed-out environment may take to hand over its last log lines
_TIMEOUT = -1  # pseudo frame kinds for what the worker itself observes
_LOST = -2


class SandboxFailure(Exception):
    """The environment could not be started or broke the protocol."""


@dataclass
class Host:
    """What all environments of a pool share."""

    isolation: Isolation
    uid: int
    gid: int
    cgroups: CgroupTree | None
    agent: AgentCommand
    work_dir: Path  # <data_dir>/sandbox
    process_runtime_dirs: dict[str, Path] = field(default_factory=dict)  # process mode: family -> runtime dir

    @property
    def etc_dir(self) -> Path:
        return self.work_dir / "etc"

    @property
    def bwrap(self) -> bool:
        return self.isolation.mode == "bwrap"


@dataclass
class InitOutcome:
    ok: bool
    duration_ms: float
    log: list[LogLine]
    status: str = "success"  # success | error | timeout
    error_type: str | None = None
    body: bytes = b""  # what /init/error posted: returned as is
    content_type: str = "application/json"
    message: str = ""  # a platform error, returned as "RequestId: <id> Error: <message>"

    def error_payload(self, request_id: str) -> tuple[bytes, str]:
        if self.body:
            return self.body, self.content_type
        body = {"errorType": self.error_type, "errorMessage": f"RequestId: {request_id} Error: {self.message}"}
        return json.dumps(body).encode(), "application/json"


def _exit_message(description: str) -> str:
    if description == "exit status 0":
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {description}"


def _log_lines(blob: bytes) -> list[LogLine]:
    return [LogLine(ts, line.decode("utf-8", "replace")) for ts, line in wire.decode_logs(blob)] if blob else []


class _ControlProtocol(asyncio.Protocol):
    """The worker's end of the control socket: frames in, callbacks out."""

    def __init__(self, environment: Environment) -> None:
        self._environment = environment
        self._reader = wire.FrameReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except ValueError as error:
            log.warning("environment %s broke the protocol: %s", self._environment.id, error)
            self._environment.kill()
            return
        for kind, fields in frames:
            self._environment._on_frame(kind, fields)

    def connection_lost(self, exc: Exception | None) -> None:
        self._environment._on_lost()


class Environment:
    def __init__(self, host: Host, runtime: Runtime, network: str) -> None:
        self.host = host
        self.runtime = runtime
        self.network = network
        self.id = uuid.uuid4().hex
        self.created = datetime.now(UTC)
        self.spec: EnvironmentSpec | None = None
        self.generation = 0  # the pool's generation of the spec key when assigned
        self.log_stream = ""
        self.last_used = time.monotonic()
        self.dead = False
        self.closed: asyncio.Future[None] | None = None
        self.paths = LAMBDA_PATHS
        self._loop = asyncio.get_running_loop()
        self._waiting: asyncio.Future[tuple[int, list[bytes]]] | None = None
        self._inbox: list[tuple[int, list[bytes]]] = []  # frames that came before anyone waited
        self._transport: asyncio.Transport | None = None
        self._fd_socket: socket.socket | None = None  # a dup of the control socket, for passing fds
        self._process: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None
        self._agent_pid = 0
        self._runtime_pid = 0
        self._oom_kills = 0
        self.cgroup: EnvironmentCgroup | None = None
        self._dir: Path | None = None  # process mode: the environment's own directory

    # -- frames -------------------------------------------------------------------------

    def _on_frame(self, kind: int, fields: list[bytes]) -> None:
        if kind == wire.FAULT:
            log.error("agent of environment %s failed:\n%s", self.id, fields[0].decode(errors="replace"))
            self.kill()
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result((kind, fields))
        elif kind == wire.EXITED:
            self.kill()  # the runtime died between invocations: this environment is done
        else:
            self._inbox.append((kind, fields))  # e.g. HELLO before the worker awaits it
            if len(self._inbox) > 4:
                self.kill()

    def _on_lost(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result((_LOST, []))
        self.kill()

    def _send(self, kind: int, *fields: bytes) -> None:
        assert self._transport is not None
        self._transport.write(wire.encode(kind, *fields))

    async def _expect(self, timeout_s: float | None) -> tuple[int, list[bytes]]:
        if self._inbox:
            return self._inbox.pop(0)
        if self.dead:
            return _LOST, []
        waiting = self._waiting = self._loop.create_future()
        timer = None
        if timeout_s is not None:
            timer = self._loop.call_later(max(timeout_s, 0), _set_if_pending, waiting, (_TIMEOUT, []))
        try:
            return await waiting
        finally:
            if timer is not None:
                timer.cancel()
            self._waiting = None

    # -- start --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sandbox and its agent; afterwards the environment is a spare."""
        host = self.host
        worker_end, agent_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        info_read = info_write = -1
        env = dict(host.agent.env, _LAMINA_CONTROL_FD=str(agent_end.fileno()))
        if host.bwrap:
            assert host.isolation.bwrap is not None
            info_read, info_write = os.pipe()
            os.set_blocking(info_read, False)
            argv = bwrap.command(host.isolation.bwrap, self.runtime, self.network, host.agent, host.etc_dir,
                                 info_write)
            pass_fds: tuple[int, ...] = (agent_end.fileno(), info_write)
        else:
            argv = host.agent.argv
            pass_fds = (agent_end.fileno(),)
        try:
            if host.cgroups is not None:
                self.cgroup = host.cgroups.environment(self.id, SPARE_MEMORY_MB)
            self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
                                             pass_fds=pass_fds, start_new_session=not host.bwrap)
        except BaseException:
            for fd in (info_read, info_write):
                if fd >= 0:
                    os.close(fd)
            worker_end.close()
            agent_end.close()
            self.kill()
            raise
        finally:
            agent_end.close()
        if info_write >= 0:
            os.close(info_write)
        self.closed = self._loop.create_future()
        self._pidfd = os.pidfd_open(self._process.pid)
        self._loop.add_reader(self._pidfd, self._on_process_exit)
        self._fd_socket = socket.socket(fileno=os.dup(worker_end.fileno()))
        transport, _ = await self._loop.create_unix_connection(lambda: _ControlProtocol(self), sock=worker_end)
        self._transport = transport  # type: ignore[assignment]
        try:
            await self._handshake(info_read)
        except BaseException:
            self.kill()
            raise
        finally:
            if info_read >= 0:
                os.close(info_read)

    async def _handshake(self, info_read: int) -> None:
        assert self._process is not None
        if info_read >= 0:
            self._agent_pid = await _read_child_pid(self._loop, info_read, START_TIMEOUT_S)
        else:
            self._agent_pid = self._process.pid
        kind, _ = await self._expect(START_TIMEOUT_S)
        if kind != wire.HELLO:
            raise SandboxFailure(f"the sandbox did not start ({_describe(kind)}); see the server's log")
        if self.cgroup is not None:
            # Before the agent starts anything, so every process of the sandbox is inside.
            self.cgroup.add(self._agent_pid)
        prestart = None
        if self.host.bwrap and self.runtime.prestartable:
            prestart = {"argv": self.runtime.argv(LAMBDA_PATHS), "cwd": "/",
                        "env": base_environment(LAMBDA_PATHS, self.runtime.family, self.runtime.node_major)}
        setup = {"privileged": self.host.bwrap, "uid": self.host.uid, "gid": self.host.gid,
                 "check_peers": self.host.bwrap and self.network == "host", "prestart": prestart}
        self._send(wire.SETUP, json.dumps(setup).encode())
        kind, _ = await self._expect(START_TIMEOUT_S)
        if kind != wire.READY:
            raise SandboxFailure(f"the agent did not get ready ({_describe(kind)}); see the server's log")

    # -- init ---------------------------------------------------------------------------

    def _process_paths(self, spec: EnvironmentSpec) -> Paths:
        """Process mode has no mount namespace: the function sees the real directories."""
        self._dir = self.host.work_dir / "environments" / self.id
        tmp = self._dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        opt = self._dir / "opt"
        if len(spec.layer_dirs) == 1:
            opt = spec.layer_dirs[0]
        else:
            _merge_layers(spec.layer_dirs, opt)
        runtime_dir = self.host.process_runtime_dirs.get(self.runtime.family, self._dir / "runtime")
        runtime_dir.mkdir(parents=True, exist_ok=True)
        prefix = self.runtime.install.prefix
        return Paths(task=str(spec.code_dir), opt=str(opt), runtime=str(runtime_dir),
                     lang=str(prefix) if prefix else "/var/lang", tmp=str(tmp))

    async def initialize(self, spec: EnvironmentSpec, budget_s: float) -> InitOutcome:
        """Assign this environment to a function and run its init."""
        self.spec = spec
        self.log_stream = f"{self.created:%Y/%m/%d}/[{spec.function_version}]{self.id}"
        paths = LAMBDA_PATHS if self.host.bwrap else self._process_paths(spec)
        self.paths = paths
        env = function_environment(spec, self.runtime.family, paths, self.log_stream, self.runtime.node_major)
        if not self.host.bwrap and self.runtime.family == "python":
            env["_LAMINA_OPT_DIR"] = paths.opt
        if self.cgroup is not None:
            self.cgroup.set_memory(spec.memory_mb)
            self.cgroup.set_cpu(spec.memory_mb)
            self._oom_kills = self.cgroup.oom_kills()
        fds: list[int] = []
        targets: list[str] = []
        try:
            if self.host.bwrap:
                fds.append(mounts.detached_bind(spec.code_dir))
                targets.append("/var/task")
                if spec.layer_dirs:
                    fds.append(mounts.detached_layers(spec.layer_dirs))
                    targets.append("/opt")
            assignment = {
                "mounts": targets, "tmp_mb": spec.ephemeral_storage_mb if self.host.bwrap else None,
                "env": env, "cwd": paths.task, "argv": self.runtime.command(spec, paths),
                "bootstrap": self.runtime.bootstrap_candidates(paths) or None,
                "channel": self.runtime.family == "python",
                "use_prestarted": self.host.bwrap and self.runtime.can_use_prestarted(spec),
            }
            started = self._loop.time()
            frame = wire.encode(wire.ASSIGN, json.dumps(assignment).encode())
            await self._send_with_fds(frame, fds)
        finally:
            for fd in fds:
                os.close(fd)
        return await self._init_outcome(started, budget_s)

    async def reinitialize(self, budget_s: float) -> InitOutcome:
        """Reset the runtime (every process but the agent) and initialise again."""
        started = self._loop.time()
        self._send(wire.REINIT)
        return await self._init_outcome(started, budget_s)

    async def _send_with_fds(self, frame: bytes, fds: list[int]) -> None:
        assert self._transport is not None and self._fd_socket is not None
        while self._transport.get_write_buffer_size():  # keep the stream in order
            await asyncio.sleep(0.001)
        if not fds:
            self._transport.write(frame)
            return
        sent = socket.send_fds(self._fd_socket, [frame], fds)
        if sent < len(frame):  # the socket buffer is nearly empty at this point; finish the rest in order
            self._transport.write(frame[sent:])

    async def _init_outcome(self, started: float, budget_s: float) -> InitOutcome:
        kind, fields = await self._expect(budget_s)
        duration_ms = (self._loop.time() - started) * 1000
        if kind == wire.INIT_DONE:
            outcome, error_type, content_type, body, blob, pid = fields
            self._runtime_pid = int(pid or 0)
            lines = _log_lines(blob)
            if outcome == wire.OK:
                return InitOutcome(True, duration_ms, lines)
            if outcome == wire.ENTRYPOINT:
                return InitOutcome(False, duration_ms, lines, "error", "Runtime.InvalidEntrypoint",
                                   message=body.decode(errors="replace"))
            return InitOutcome(False, duration_ms, lines, "error", error_type.decode() or "Runtime.Unknown",
                               body=body, content_type=content_type.decode() or "application/json")
        if kind == _TIMEOUT:
            lines = await self.flush_logs()
            return InitOutcome(False, duration_ms, lines, "timeout", "Sandbox.Timedout",
                               message=f"Task timed out after {budget_s:.2f} seconds")
        description = fields[0].decode() if kind == wire.EXITED else "signal: killed"
        lines = _log_lines(fields[1]) if kind == wire.EXITED else []
        error_type = "Runtime.OutOfMemory" if self._out_of_memory() else "Runtime.ExitError"
        if kind not in (wire.EXITED, _LOST):
            self.kill()
        return InitOutcome(False, duration_ms, lines, "error", error_type, message=_exit_message(description))

    async def flush_logs(self) -> list[LogLine]:
        """What the agent still buffers, if it answers quickly."""
        if self.dead:
            return []
        self._send(wire.FLUSH)
        kind, fields = await self._expect(FLUSH_GRACE_S)
        return _log_lines(fields[0]) if kind == wire.LOGS else []

    # -- invoke -------------------------------------------------------------------------

    async def invoke(self, request: InvokeRequest, timeout_s: float, started: float | None = None,
                     started_wall: float | None = None) -> InvokeResult:
        """Serve one invocation. `started` (loop time) and `started_wall` (epoch seconds)
        move the deadline earlier when a suppressed init already used part of the timeout."""
        loop = self._loop
        if started is None:
            started = loop.time()
            started_wall = time.time()
        assert started_wall is not None and self._transport is not None
        deadline_ms = int((started_wall + timeout_s) * 1000)
        waiting = self._waiting = loop.create_future()
        if self._inbox:  # only an anomaly leaves frames here; let it decide the outcome
            waiting.set_result(self._inbox.pop(0))
        self._transport.write(wire.encode(
            wire.INVOKE, request.request_id.encode(), str(deadline_ms).encode(), request.invoked_function_arn.encode(),
            (request.trace_id or "").encode(), (request.client_context or "").encode(),
            (request.cognito_identity or "").encode(), request.content_type.encode(),
            (request.tenant_id or "").encode(), request.payload))
        timer = loop.call_at(started + timeout_s, _set_if_pending, waiting, (_TIMEOUT, []))
        if self.dead:
            _set_if_pending(waiting, (_LOST, []))
        try:
            kind, fields = await waiting
        finally:
            timer.cancel()
            self._waiting = None
        duration_ms = (loop.time() - started) * 1000
        self.last_used = time.monotonic()
        if kind == wire.RESULT and fields[0] == request.request_id.encode():
            _, outcome, error_type, content_type, payload, blob = fields
            failed = outcome != wire.OK
            return InvokeResult(payload, error_type.decode() if failed else None, "error" if failed else "success",
                                duration_ms, self.memory_mb(), self.log_stream, log=_log_lines(blob),
                                content_type=content_type.decode() or "application/json")
        if kind == _TIMEOUT:
            lines = await self.flush_logs()
            self.kill()
            lines.append(loglines.timed_out(request.request_id, timeout_s))
            body = {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request.request_id} Error: Task timed out after {timeout_s:.2f} seconds"}
            return InvokeResult(json.dumps(body).encode(), "Sandbox.Timedout", "timeout", duration_ms,
                                self.memory_mb(), self.log_stream, log=lines)
        return self._failed_invocation(request, kind, fields, duration_ms)

    def _failed_invocation(self, request: InvokeRequest, kind: int, fields: list[bytes],
                           duration_ms: float) -> InvokeResult:
        """The runtime exited, the agent vanished, or it broke the protocol."""
        lines = _log_lines(fields[1]) if kind == wire.EXITED else []
        memory = self.memory_mb()
        if kind in (wire.EXITED, _LOST):
            description = fields[0].decode() if kind == wire.EXITED else "signal: killed"
            error_type = "Runtime.OutOfMemory" if self._out_of_memory() else "Runtime.ExitError"
            message = _exit_message(description)
            status = "error"
        else:
            error_type, message, status = "Sandbox.Failure", "the environment broke the protocol", "failure"
        self.kill()
        lines += loglines.runtime_failure(request.request_id, message, error_type)
        body = {"errorType": error_type, "errorMessage": f"RequestId: {request.request_id} Error: {message}"}
        return InvokeResult(json.dumps(body).encode(), error_type, status, duration_ms, memory, self.log_stream,
                            log=lines)

    # -- measurements -------------------------------------------------------------------

    def memory_mb(self) -> int:
        if self.cgroup is not None:
            try:
                return self.cgroup.peak_mb()
            except OSError:
                return 0
        return _peak_rss_mb(self._runtime_pid)

    def _out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_kills() > self._oom_kills

    # -- teardown -----------------------------------------------------------------------

    def kill(self) -> None:
        """Kill everything in the sandbox. Cleanup completes when `closed` is done."""
        if self.dead:
            return
        self.dead = True
        if self._agent_pid:
            try:
                if self.host.bwrap:
                    os.kill(self._agent_pid, signal.SIGKILL)  # PID 1: the whole namespace goes with it
                else:
                    os.killpg(self._agent_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.cgroup is not None and not self.host.bwrap:
            self.cgroup.kill()
        if self._process is not None and self._agent_pid == 0:
            self._process.kill()
        if self._transport is not None:
            self._transport.abort()
        if self._process is None:
            self._cleanup()

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
            self.cgroup.kill()  # stragglers outside the PID namespace (process mode)
        self._cleanup()

    def _cleanup(self, attempt: int = 0) -> None:
        if self.cgroup is not None and not self.cgroup.remove() and attempt < 50:
            self._loop.call_later(0.02 * (attempt + 1), self._cleanup, attempt + 1)
            return
        if self._fd_socket is not None:
            self._fd_socket.close()
            self._fd_socket = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)


def _set_if_pending(future: asyncio.Future, value: object) -> None:
    if not future.done():
        future.set_result(value)


def _describe(kind: int) -> str:
    return {_TIMEOUT: "timed out", _LOST: "it exited"}.get(kind, f"frame {kind}")


async def _read_child_pid(loop: asyncio.AbstractEventLoop, fd: int, timeout_s: float) -> int:
    """bubblewrap's --info-fd: JSON with the sandbox's init (the agent) as seen from the host."""
    done: asyncio.Future[bytes] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        buffer.extend(data)
        if not data or b"}" in buffer:
            loop.remove_reader(fd)
            _set_if_pending(done, bytes(buffer))

    loop.add_reader(fd, readable)
    try:
        data = await asyncio.wait_for(done, timeout_s)
    finally:
        loop.remove_reader(fd)
    if b"}" not in data:
        raise SandboxFailure("bubblewrap did not start the sandbox; see the server's log")
    return int(json.loads(data[:data.index(b"}") + 1])["child-pid"])


def _peak_rss_mb(pid: int) -> int:
    """Process mode without cgroups: the runtime process's own high-water mark."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return -(-int(line.split()[1]) // 1024)
    except (OSError, ValueError):
        pass
    return 0


def _merge_layers(layers: tuple[Path, ...], target: Path) -> None:
    """Process mode: layers merged into one directory of symlinks, later layers on top."""
    target.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        for source in sorted(layer.rglob("*")):
            destination = target / source.relative_to(layer)
            if source.is_dir() and not source.is_symlink():
                if destination.is_symlink():
                    destination.unlink()
                destination.mkdir(exist_ok=True)
            else:
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                destination.symlink_to(source)
