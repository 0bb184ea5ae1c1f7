"""Starting the runtime process, capturing its output, and describing how it ended."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

from . import privileges, wire

# Go's names for signals, as Lambda prints them in "Runtime exited with error: signal: killed".
_SIGNAL_NAMES = {
    signal.SIGHUP: "hangup", signal.SIGINT: "interrupt", signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction", signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
    signal.SIGKILL: "killed", signal.SIGUSR1: "user defined signal 1", signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2", signal.SIGPIPE: "broken pipe", signal.SIGALRM: "alarm clock",
    signal.SIGTERM: "terminated", signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded", signal.SIGSYS: "bad system call",
}

# errno -> Go's wording, for "fork/exec /var/task/bootstrap: permission denied"
_EXEC_ERRORS = {2: "no such file or directory", 8: "exec format error", 13: "permission denied",
                20: "not a directory", 21: "is a directory"}


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(status)}"


def describe_exec_error(path: str, error: OSError) -> str:
    reason = _EXEC_ERRORS.get(error.errno or 0, (error.strerror or str(error)).lower())
    return f"fork/exec {path}: {reason}"


class RuntimeProcess:
    """A runtime and what the agent holds of it: the read end of its stdout/stderr pipe
    and, for lamina's Python runtime, the agent's end of the private channel."""

    def __init__(self, pid: int, log_fd: int, channel: socket.socket | None) -> None:
        self.pid = pid
        self.log_fd = log_fd
        self.channel = channel


def spawn(argv: list[str], env: dict[str, str], cwd: str, *, with_channel: bool,
          user: int | None = None, group: int | None = None, new_session: bool = False) -> RuntimeProcess:
    """Start a runtime: stdin /dev/null, stdout and stderr into one pipe (so their lines
    interleave as written). With `with_channel` the child gets its end of a socketpair,
    named in `_LAMINA_RUNTIME_FD`, and the path of the frame codec in `_LAMINA_WIRE`. Raises OSError when the program cannot be executed."""
    log_read, log_write = os.pipe()
    ours = theirs = None
    pass_fds: tuple[int, ...] = ()
    if with_channel:
        ours, theirs = socket.socketpair()
        env = dict(env, _LAMINA_RUNTIME_FD=str(theirs.fileno()), _LAMINA_WIRE=os.path.abspath(wire.__file__))
        pass_fds = (theirs.fileno(),)
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log_write, stderr=log_write, cwd=cwd, env=env,
            close_fds=True, pass_fds=pass_fds, user=user, group=group,
            extra_groups=[] if group is not None else None, start_new_session=new_session,
            preexec_fn=privileges.die_with_parent)  # matters in process mode: no PID namespace ends with the agent
    except BaseException:
        os.close(log_read)
        if ours is not None:
            ours.close()
        raise
    finally:
        os.close(log_write)
        if theirs is not None:
            theirs.close()
    privileges.reset_oom_score(process.pid)
    os.set_blocking(log_read, False)
    # The agent reaps children itself (it is PID 1); keep subprocess from waiting on it.
    process.returncode = 0
    return RuntimeProcess(process.pid, log_read, ours)


def kill_namespace() -> None:
    """Kill every process in the sandbox but the agent. Only valid as PID 1 of a PID
    namespace: kill(-1) then reaches exactly the processes of this namespace."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_group(pid: int) -> None:
    """Process mode: the runtime leads its own session; kill its process group."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
