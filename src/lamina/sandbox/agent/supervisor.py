"""Starting the runtime process and describing how it ended."""

from __future__ import annotations

import os
import signal
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


def spawn(argv: list[str], env: dict[str, str], cwd: str, *, log_fd: int, named_fds: dict[str, int],
          user: int | None = None, group: int | None = None, new_session: bool = False) -> int:
    """Start a runtime; returns its pid. stdin is /dev/null; stdout and stderr both go to
    `log_fd` (the write end of the pipe the worker reads, so their lines interleave as
    written). `named_fds` are inherited and named in environment variables: lamina's Python
    runtime gets its channel to the worker (`_LAMINA_RUNTIME_FD`, with the path of the
    frame codec in `_LAMINA_WIRE`) and, when pre-started, the pipe its assignment will come
    through (`_LAMINA_GO_FD`). Raises OSError when the program cannot be executed."""
    env = dict(env, **{name: str(fd) for name, fd in named_fds.items()})
    if "_LAMINA_RUNTIME_FD" in named_fds:
        env["_LAMINA_WIRE"] = os.path.abspath(wire.__file__)
    pass_fds = tuple(named_fds.values())
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, cwd=cwd, env=env, close_fds=True,
        pass_fds=pass_fds, user=user, group=group, extra_groups=[] if group is not None else None,
        start_new_session=new_session,
        preexec_fn=privileges.die_with_parent)  # matters in process mode: no PID namespace ends with the agent
    privileges.reset_oom_score(process.pid)
    # The agent reaps children itself (it is PID 1); keep subprocess from waiting on it.
    process.returncode = 0
    return process.pid


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
