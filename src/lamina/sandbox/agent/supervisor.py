"""Starting the runtime process and describing how it ended."""

from __future__ import annotations

import _signal as signal  # not `signal`, which imports `enum`: see agent.py
import os

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


def runtime_environment(env: dict[str, str], named_fds: dict[str, int]) -> dict[str, str]:
    """The runtime's environment: `env`, the inherited fds' names and, for lamina's Python
    runtime, where the frame codec is."""
    env = dict(env, **{name: str(fd) for name, fd in named_fds.items()})
    if "_LAMINA_RUNTIME_FD" in named_fds:
        env["_LAMINA_WIRE"] = os.path.abspath(wire.__file__)
    return env


def spawn(argv: list[str], env: dict[str, str], cwd: str, *, log_fd: int, named_fds: dict[str, int],
          user: int | None = None, group: int | None = None, new_session: bool = False) -> int:
    """Start a runtime; returns its pid. stdin is /dev/null; stdout and stderr both go to
    `log_fd` (the write end of the pipe the worker reads, so their lines interleave as
    written). `named_fds` are inherited and named in environment variables: lamina's Python
    runtime gets its channel to the worker (`_LAMINA_RUNTIME_FD`, with the path of the
    frame codec in `_LAMINA_WIRE`) and, when pre-started, the pipe its assignment will come
    through (`_LAMINA_GO_FD`). Raises OSError when the program cannot be executed.

    A plain fork and exec rather than `subprocess`, whose import alone costs the agent
    (started for every environment) milliseconds and a megabyte."""
    env = runtime_environment(env, named_fds)
    executables = _executables(argv[0], env)
    keep = sorted(set(named_fds.values()))
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    report_read, report_write = os.pipe2(os.O_CLOEXEC)  # the child's exec error, if any; EOF once it has exec'd
    try:
        pid = os.fork()
        if pid == 0:  # the child: nothing here may return into the agent
            try:
                enter_runtime_process(cwd, null, log_fd, keep, user, group, new_session, also_open=report_write)
                _reset_ignored_signals(keep_python_defaults=False)
                _exec(executables, argv, env)
            except BaseException as error:
                code = error.errno if isinstance(error, OSError) and error.errno else 0
                os.write(report_write, code.to_bytes(4, "little"))
            finally:
                os._exit(127)
    finally:
        os.close(null)
        os.close(report_write)
    try:
        report = _read_all(report_read)
    finally:
        os.close(report_read)
    if report:
        os.waitpid(pid, 0)
        code = int.from_bytes(report[:4], "little") or 8  # ENOEXEC: it failed before exec
        raise OSError(code, os.strerror(code))
    privileges.reset_oom_score(pid)
    return pid


def _executables(program: str, env: dict[str, str]) -> list[bytes]:
    """Where to look for `program`: itself when it has a slash, else along the PATH the
    runtime will have (as `subprocess` and Go's exec do)."""
    if "/" in program:
        return [os.fsencode(program)]
    return [os.fsencode(os.path.join(directory, program)) for directory in os.get_exec_path(env)]


def enter_runtime_process(cwd: str, stdin: int, log_fd: int, inherited: list[int], user: int | None,
                          group: int | None, new_session: bool, also_open: int = -1) -> None:
    """In a child of the agent, before it becomes the runtime: its stdio, only the fds it
    inherits (and `also_open`, left close-on-exec), its working directory and session, the
    sandbox user, and death with the agent. Signals are the caller's: an exec and a fork
    need different ones."""
    os.dup2(stdin, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    for fd in inherited:
        if fd > 2:
            os.set_inheritable(fd, True)
    previous = 2
    for fd in sorted({*inherited, also_open} - {-1}):  # close every fd but these
        if fd > previous + 1:
            os.closerange(previous + 1, fd)
        previous = max(previous, fd)
    os.closerange(previous + 1, 1 << 20)
    os.chdir(cwd)
    signal.set_wakeup_fd(-1)
    if new_session:
        os.setsid()
    if group is not None:
        os.setgroups([])
        os.setregid(group, group)
    if user is not None:
        os.setreuid(user, user)
    privileges.die_with_parent()  # matters in process mode: no PID namespace ends with the agent


# Python ignores these itself at start; a runtime that is a fork of the agent keeps them so.
_PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)


def _reset_ignored_signals(keep_python_defaults: bool) -> None:
    """A runtime starts with every signal at its default: exec keeps ignored signals ignored,
    and Python ignores SIGPIPE and SIGXFSZ, as may whatever started lamina (nohup: SIGHUP)."""
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP) or (keep_python_defaults and number in _PYTHON_IGNORES):
            continue
        if signal.getsignal(number) == signal.SIG_IGN:
            signal.signal(number, signal.SIG_DFL)


def reset_signals_for_forked_runtime() -> None:
    """Signals as a fresh interpreter has them: the agent's SIGCHLD handler goes too."""
    _reset_ignored_signals(keep_python_defaults=True)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _exec(executables: list[bytes], argv: list[str], env: dict[str, str]) -> None:
    error = OSError(2, "no such file or directory")
    for executable in executables:
        try:
            os.execve(executable, argv, env)
        except OSError as failed:
            # The first error other than "not there" tells most (as in subprocess).
            if error.errno in (2, 20):
                error = failed
    raise error


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 64)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


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
