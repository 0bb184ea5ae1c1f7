"""The agent: lamina's init process inside one execution environment.

It talks to the worker over one inherited stream socket (frames, see `wire`), attaches
the function's mounts and drops privileges, starts the runtime process, serves the Runtime
API over HTTP on 127.0.0.1, and reports how the runtime ends. The worker owns time
(deadlines, init budget), reads the runtime's output itself (from a pipe it hands over),
and kills the whole sandbox when it must.

lamina's Python runtime talks to the worker directly over a socket the worker also hands
over; the agent only wakes a pre-started one (through a pipe) once the function's files are in
place. For the Python runtimes the agent runs on the runtime's own interpreter and pre-starts
the runtime as a fork of itself (`forked`). HTTP runtimes (provided.*, Node.js) go through the
agent's Runtime API.

Lifecycle: HELLO -> SETUP (listener; maybe pre-start a Python runtime) -> READY -> ASSIGN
(mounts, drop privileges, start or wake the runtime) -> INIT_DONE (HTTP runtimes) ->
INVOKE/RESULT ... ; REINIT restarts the runtime for a suppressed init; EXITED whenever a
runtime process ends.
"""

from __future__ import annotations

import _signal as signal  # the C modules: `signal` and `socket` would import `enum` (~5 ms at every start)
import _socket as socket
import errno
import marshal
import os

from . import forked, peers, privileges, runtime_api, seccomp, supervisor, wire
from .http import HttpConnection, Request
from .reactor import Reactor
from .runtime_api import MAX_RESPONSE, Event, Reply, RuntimeApi

TYPE_CHECKING = False  # the agent starts on every cold start: `typing` alone costs it ~1 MB and ms
if TYPE_CHECKING:
    from typing import Any

API = "/2018-06-01"
_INVOCATION = API + "/runtime/invocation/"
_NOT_FOUND = Reply(404, b"404 page not found\n")
_NOT_ALLOWED = Reply(405, b"")


class Agent:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.reactor = Reactor()
        self.frames = wire.FrameReader()
        self.api = RuntimeApi(self)
        self.runtime_pid = 0
        self.generation = 0  # numbers the runtime processes, so the worker can ignore a stale EXITED
        self.connections: dict[int, HttpConnection] = {}
        self.in_pid_namespace = os.getpid() == 1
        self.privileged = False
        self.check_peers = False
        self.uid: int | None = None
        self.gid: int | None = None
        self.port = 0
        self.assignment: dict[str, Any] = {}
        self._received_fds: list[int] = []
        self._listener: socket.socket | None = None
        self._go_pipe = -1  # write end of the pipe a pre-started runtime waits on for its function

    # -- start-up -----------------------------------------------------------------------

    def setup(self, config: dict[str, Any], fds: list[int]) -> None:
        self.privileged = config["privileged"]
        self.check_peers = config["check_peers"]
        if self.privileged:
            self.uid, self.gid = config["uid"], config["gid"]
            privileges.protect_from_oom_killer()
            privileges.forbid_privilege_gain()
            seccomp.install()
        if not self.in_pid_namespace:
            privileges.become_subreaper()
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_write)
        self.reactor.set_reader(wake_read, lambda: self._on_sigchld(wake_read))

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.reactor.set_reader(listener.fileno(), self._on_accept)
        self.reactor.set_reader(self.control.fileno(), self._on_control)

        prestart = config.get("prestart")
        if prestart:
            channel_fd, log_fd = fds
            go_read, self._go_pipe = os.pipe()
            env = dict(prestart["env"], AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.port}")
            self.generation = prestart["generation"]
            named_fds = {"_LAMINA_RUNTIME_FD": channel_fd, "_LAMINA_GO_FD": go_read}
            try:
                if prestart.get("fork"):  # this interpreter is the runtime's: fork it, no second start
                    user, group = self._runtime_user()
                    self.runtime_pid = forked.spawn(prestart["argv"], env, prestart["cwd"], log_fd=log_fd,
                                                    named_fds=named_fds, user=user, group=group,
                                                    preload=prestart["preload"])
                else:
                    self._start_runtime(prestart["argv"], env, prestart["cwd"], log_fd, named_fds)
            finally:
                for fd in (channel_fd, log_fd, go_read):
                    os.close(fd)
        self.send(wire.READY, str(self.port).encode())

    # -- worker side --------------------------------------------------------------------

    def send(self, kind: int, *fields: bytes) -> None:
        self.control.sendall(wire.encode(kind, *fields))

    def _on_control(self) -> None:
        try:
            data, ancillary, _flags, _addr = self.control.recvmsg(64 * 1024, socket.CMSG_SPACE(64))
        except BlockingIOError:
            return
        self._received_fds += _fds_of(ancillary)
        if not data:
            os._exit(0)  # the worker is gone: so is this environment
        for kind, fields in self.frames.feed(data):
            self._on_frame(kind, fields)

    def _on_frame(self, kind: int, fields: list[bytes]) -> None:
        if kind == wire.INVOKE:
            self.api.dispatch(Event(fields))
        elif kind in (wire.ASSIGN, wire.REINIT):
            fds, self._received_fds = self._received_fds, []  # the fds sent along with this frame
            if kind == wire.ASSIGN:
                self.assign(marshal.loads(fields[0]), fds)
            else:
                self.reinit(marshal.loads(fields[0]), fds)
        else:
            raise ValueError(f"unexpected frame kind {kind}")

    def assign(self, assignment: dict[str, Any], fds: list[int]) -> None:
        mount_fds, runtime_fds = fds[:len(assignment["mounts"])], fds[len(assignment["mounts"]):]
        if self.privileged:
            for fd, target in zip(mount_fds, assignment["mounts"]):
                privileges.move_mount(fd, target)
                os.close(fd)
            if assignment.get("tmp_mb"):
                privileges.mount_tmpfs("/tmp", assignment["tmp_mb"])
            assert self.uid is not None and self.gid is not None
            privileges.drop_privileges(self.uid, self.gid)
        self.assignment = assignment
        go_pipe, self._go_pipe = self._go_pipe, -1
        if runtime_fds:
            self._stop_runtime()  # a pre-started runtime that cannot serve this function
            self._launch(assignment["generation"], runtime_fds)
        elif go_pipe >= 0 and self.runtime_pid:
            try:
                os.write(go_pipe, assignment["go"])  # small: fits the pipe, never blocks
            except OSError:
                pass  # it died before being woken; reported as an exit when reaped
        if go_pipe >= 0:
            os.close(go_pipe)

    def reinit(self, request: dict[str, Any], fds: list[int]) -> None:
        """Reset: end every process of the runtime, then start it again."""
        self._stop_runtime()
        self.api.restart()
        self._launch(request["generation"], fds)

    def _launch(self, generation: int, fds: list[int]) -> None:
        assignment = self.assignment
        self.generation = generation
        named_fds = {"_LAMINA_RUNTIME_FD": fds[0]} if assignment["channel"] else {}
        log_fd = fds[-1]
        try:
            argv = list(assignment["argv"])
            candidates = assignment.get("bootstrap")
            if candidates:
                found = [path for path in candidates if os.path.lexists(path)]
                if not found:
                    self._entrypoint_error("Couldn't find valid bootstrap(s): [" + " ".join(candidates) + "]")
                    return
                argv = [found[0]]
            try:
                self._start_runtime(argv, assignment["env"], assignment["cwd"], log_fd, named_fds)
            except OSError as error:
                self._entrypoint_error(supervisor.describe_exec_error(argv[0], error))
        finally:
            for fd in fds:
                os.close(fd)

    def _entrypoint_error(self, message: str) -> None:
        self.api.fail_init()
        self.send(wire.INIT_DONE, wire.ENTRYPOINT, b"Runtime.InvalidEntrypoint", b"", message.encode())

    # -- the runtime process ------------------------------------------------------------

    def _start_runtime(self, argv: list[str], env: dict[str, str], cwd: str, log_fd: int,
                       named_fds: dict[str, int]) -> None:
        user, group = self._runtime_user()
        self.runtime_pid = supervisor.spawn(argv, env, cwd, log_fd=log_fd, named_fds=named_fds, user=user,
                                            group=group, new_session=not self.in_pid_namespace)

    def _runtime_user(self) -> tuple[int | None, int | None]:
        """The (uid, gid) a runtime must switch to; None while the agent is not root."""
        user = self.uid if self.privileged and os.geteuid() == 0 else None
        return user, self.gid if user is not None else None

    def _stop_runtime(self) -> None:
        if not self.runtime_pid:
            return
        if self.in_pid_namespace:
            supervisor.kill_namespace()
        else:
            supervisor.kill_group(self.runtime_pid)
        self.runtime_pid = 0

    def _on_sigchld(self, wake_fd: int) -> None:
        try:
            while os.read(wake_fd, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.runtime_pid:
                self.runtime_pid = 0
                if self.api.state == runtime_api.RESPONSE_SENT:
                    self.api.finish_invocation()  # the response stands; the exit still resets the environment
                self.send(wire.EXITED, str(self.generation).encode(), supervisor.describe_exit(status).encode())

    # -- RuntimeApi listener ------------------------------------------------------------

    def on_init_done(self) -> None:
        self.send(wire.INIT_DONE, wire.OK, b"", b"", b"")

    def on_init_error(self, error_type: str, content_type: str, body: bytes) -> None:
        self.send(wire.INIT_DONE, wire.ERROR, error_type.encode(), content_type.encode(), body)

    def on_invocation_done(self, request_id: str, outcome: bytes, error_type: str, content_type: str,
                           body: bytes) -> None:
        self.send(wire.RESULT, request_id.encode(), outcome, error_type.encode(), content_type.encode(), body,
                  _high_water_kb(self.runtime_pid))

    # -- HTTP ---------------------------------------------------------------------------

    def _on_accept(self) -> None:
        assert self._listener is not None
        try:
            fd, (_host, client_port) = self._listener._accept()
        except BlockingIOError:
            return
        sock = socket.socket(fileno=fd)
        if self.check_peers and not peers.held_by_this_sandbox(client_port, self.port):
            sock.close()
            return
        connection = HttpConnection(sock, self._on_request, self._on_closed, MAX_RESPONSE)
        connection.want_write = lambda on: self.reactor.set_writer(
            connection.fd, connection.on_writable if on else None)
        self.connections[connection.fd] = connection
        self.reactor.set_reader(connection.fd, connection.on_readable)

    def _on_closed(self, connection: HttpConnection) -> None:
        self.connections.pop(connection.fd, None)
        self.reactor.forget(connection.fd)
        if connection.waiter is not None:
            self.api.forget(connection.waiter)
        cut = connection.receiving_body
        if cut is not None and cut.method == "POST" and cut.path.endswith("/response"):
            self.api.truncated(cut.path[len(_INVOCATION):-len("/response")])

    def _on_request(self, connection: HttpConnection, request: Request) -> None:
        reply = self._route(connection, request)
        if reply is not None:
            headers = [("Content-Type", "application/json" if reply.status not in (404, 405) else "text/plain")]
            connection.respond(reply.status, headers, reply.body)

    def _route(self, connection: HttpConnection, request: Request) -> Reply | None:
        path = request.path.split("?", 1)[0]
        if path == _INVOCATION + "next":
            if request.method != "GET":
                return _NOT_ALLOWED

            def deliver(event: Event) -> None:
                connection.waiter = None
                connection.respond(200, _event_headers(event), event.fields[8])

            connection.waiter = deliver
            return self.api.next(deliver)
        if path.startswith(_INVOCATION) and path.count("/") == 5:
            request_id, _, action = path[len(_INVOCATION):].partition("/")
            if action not in ("response", "error"):
                return _NOT_FOUND
            if request.method != "POST":
                return _NOT_ALLOWED
            content_type = request.headers.get("content-type", "")
            if action == "error":
                return self.api.error(request_id, request.body, content_type,
                                      request.headers.get("lambda-runtime-function-error-type"), request.too_large)
            mode = request.headers.get("lambda-runtime-function-response-mode")
            stream_error = request.trailers.get("lambda-runtime-function-error-type")
            if mode == "streaming" and stream_error:
                import base64

                try:
                    error_body = base64.b64decode(request.trailers.get("lambda-runtime-function-error-body", ""))
                except ValueError:
                    error_body = b""
                return self.api.error(request_id, error_body, "application/json", stream_error)
            return self.api.respond(request_id, request.body, content_type, request.too_large, mode)
        if path == API + "/runtime/init/error":
            if request.method != "POST":
                return _NOT_ALLOWED
            return self.api.init_error(request.body, request.headers.get("lambda-runtime-function-error-type"))
        if path == API + "/ping":
            return Reply(200, b"pong")
        return _NOT_FOUND


def _header_value(raw: bytes) -> str:
    # Header values travel as raw bytes (UTF-8 JSON stays UTF-8); line breaks would split
    # the header, and JSON does not need them.
    return raw.replace(b"\r", b" ").replace(b"\n", b" ").decode("latin-1")


def _event_headers(event: Event) -> list[tuple[str, str]]:
    request_id, deadline_ms, arn, trace_id, client_context, cognito, content_type, tenant_id, _ = event.fields
    headers = [("Content-Type", _header_value(content_type) or "application/json"),
               ("Lambda-Runtime-Aws-Request-Id", _header_value(request_id)),
               ("Lambda-Runtime-Deadline-Ms", _header_value(deadline_ms)),
               ("Lambda-Runtime-Invoked-Function-Arn", _header_value(arn))]
    if trace_id:
        headers.append(("Lambda-Runtime-Trace-Id", _header_value(trace_id)))
    if client_context:
        headers.append(("Lambda-Runtime-Client-Context", _header_value(client_context)))
    if cognito:
        headers.append(("Lambda-Runtime-Cognito-Identity", _header_value(cognito)))
    if tenant_id:
        headers.append(("Lambda-Runtime-Aws-Tenant-Id", _header_value(tenant_id)))
    return headers


def _high_water_kb(pid: int) -> bytes:
    """The runtime process's VmHWM in kB, for the worker's Max Memory Used; b"" if unknown."""
    if not pid:
        return b""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            text = status.read()
    except OSError:
        return b""
    start = text.find(b"VmHWM:")
    return text[start + 6:text.find(b"kB", start)].strip() if start >= 0 else b""


def _fds_of(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            count = len(payload) // 4
            fds += list(memoryview(payload)[:count * 4].cast("i"))
    return fds


def _close_inherited_fds(keep: int) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError as error:
                if error.errno != errno.EBADF:
                    raise


def main() -> None:
    control_fd = int(os.environ.pop("_LAMINA_CONTROL_FD"))
    _close_inherited_fds(control_fd)
    control = socket.socket(fileno=control_fd)
    control.setblocking(True)
    agent = Agent(control)
    try:
        agent.send(wire.HELLO)
        reader = wire.FrameReader()
        frames: list[tuple[int, list[bytes]]] = []
        fds: list[int] = []
        while not frames:
            data, ancillary, _flags, _addr = control.recvmsg(65536, socket.CMSG_SPACE(64))
            fds += _fds_of(ancillary)
            if not data:
                os._exit(0)
            frames = reader.feed(data)
        kind, fields = frames[0]
        if kind != wire.SETUP:
            raise ValueError(f"expected SETUP, got frame kind {kind}")
        agent.frames = reader
        agent.setup(marshal.loads(fields[0]), fds)  # from the worker, which runs this interpreter
        for kind, fields in frames[1:]:
            agent._on_frame(kind, fields)
        agent.reactor.run()
    except BaseException:
        import traceback

        try:
            agent.send(wire.FAULT, traceback.format_exc().encode())
        finally:
            os._exit(70)
