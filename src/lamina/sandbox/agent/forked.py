"""lamina's Python runtime as a fork of the agent, with no exec.

For the managed Python runtimes the worker starts the agent on the function runtime's own
interpreter, as that runtime starts (same binary, flags and environment). The runtime is
then a fork of the agent that drops what is the agent's and runs /var/runtime/bootstrap.py
in the interpreter it already has: an environment costs one interpreter start instead of
two, and the pages both processes still share (the interpreter's start-up heap, the modules
both use) are in memory once.

The child never returns into the agent's code: the agent's objects stay referenced on its
stack, unused, so that no finaliser closes an fd number the function has since reused.
"""

from __future__ import annotations

import builtins
import gc
import os
import sys

from . import privileges, supervisor

AGENT_PACKAGE = __name__.rpartition(".")[0]


def spawn(argv: list[str], env: dict[str, str], cwd: str, *, log_fd: int, named_fds: dict[str, int],
          user: int | None, group: int | None, preload: list[str]) -> int:
    """Start `argv` (the interpreter and /var/runtime/bootstrap.py) as a fork; returns its pid.
    Otherwise as `supervisor.spawn`: stdin /dev/null, stdout and stderr to `log_fd`, the
    named fds inherited.

    The modules in `preload` (the runtime loop) are imported here first: imported in the
    child, their allocations would land in half-used pages of the shared heap and copy them
    (measured: 1.3 MB more private memory per environment)."""
    for module in preload:
        __import__(module)
    env = supervisor.runtime_environment(env, named_fds)
    keep = sorted(set(named_fds.values()))
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    # Objects alive now are in both processes: frozen, so that no collection walks (and so
    # copies) the pages they lie in.
    gc.freeze()
    try:
        pid = os.fork()
        if pid == 0:
            status = 127
            try:
                privileges.reset_oom_score(os.getpid())  # before the user change: the agent's protection is not the runtime's
                supervisor.enter_runtime_process(cwd, null, log_fd, keep, user, group, new_session=False)
                privileges.make_dumpable()  # as an exec would leave it: the function may read its own /proc
                supervisor.reset_signals_for_forked_runtime()
                status = _run(argv, env)
            finally:
                os._exit(status)
    finally:
        os.close(null)
    return pid


def _run(argv: list[str], env: dict[str, str]) -> int:
    """Become `python3.X bootstrap.py` and run it to its end; returns the exit status the
    interpreter would have had."""
    os.environ.clear()
    os.environ.update(env)
    script = argv[1]
    sys.argv[:] = argv[1:]
    if sys.path and sys.path[0] == "":  # `-c`'s entry: a script's directory instead
        sys.path[0] = os.path.dirname(script)
    for name in [name for name in sys.modules if name == AGENT_PACKAGE or name.startswith(AGENT_PACKAGE + ".")]:
        del sys.modules[name]  # a function may have a package of that name
    main = type(sys)("__main__")
    main.__file__ = script
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    try:
        with open(script, "rb") as source:
            code = compile(source.read(), script, "exec")
        exec(code, main.__dict__)
        status = 0
    except SystemExit as exit:
        status = _exit_status(exit.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        status = 1
    return _finish(status)


def _exit_status(code: object) -> int:
    """As the interpreter reads `SystemExit.code`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status: int) -> int:
    """What the interpreter does on the way out: wait for non-daemon threads, run atexit
    callbacks, flush stdio."""
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()  # type: ignore[attr-defined]
        except BaseException:
            pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:
            status = status or 120  # as the interpreter does when stdio cannot be flushed
    return status
