"""How the agent process is started: importing the `agent` package from a given parent
directory, on lamina's own interpreter, isolated (-I -S -B), or, for a Python runtime in
a sandbox, on that runtime's interpreter exactly as the runtime starts, so that the
runtime can be a fork of the agent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..runtimes.catalog import Runtime

AGENT_PACKAGE = Path(__file__).resolve().parent.parent / "agent"
AGENT_DIR_INSIDE = "/var/lamina"  # the agent package appears at /var/lamina/agent in a sandbox
_PYTHON_INSIDE = "/var/lamina/python"


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    env: dict[str, str]
    binds: list[tuple[Path, str]] = field(default_factory=list)  # (host path, sandbox path), read-only


def _boot(parent: str) -> str:
    # The package's directory leaves sys.path once imported: a forked runtime inherits sys.path.
    return f"import sys; sys.path.insert(0, {parent!r}); from agent.agent import main; sys.path.remove({parent!r}); main()"


def _argv(python: str, parent: str) -> list[str]:
    return [python, "-I", "-S", "-B", "-c", _boot(parent)]


def _interpreter() -> tuple[Path, Path]:
    return Path(os.path.realpath(sys.executable)), Path(sys.base_prefix)


def for_sandbox(system_dirs: tuple[str, ...]) -> AgentCommand:
    """Inside bubblewrap: the interpreter as is when it lives in the system directories
    the sandbox shows anyway, else its prefix bound at /var/lamina/python."""
    executable, prefix = _interpreter()
    binds = [(AGENT_PACKAGE, f"{AGENT_DIR_INSIDE}/agent")]
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if any(str(executable).startswith(d + "/") for d in system_dirs):
        python = str(executable)
    else:
        binds.append((prefix, _PYTHON_INSIDE))
        python = f"{_PYTHON_INSIDE}/{executable.relative_to(prefix)}"
        env["LD_LIBRARY_PATH"] = f"{_PYTHON_INSIDE}/lib"
    return AgentCommand(_argv(python, AGENT_DIR_INSIDE), env, binds)


def for_python_runtime(python_inside: str, runtime_env: dict[str, str]) -> AgentCommand:
    """Inside bubblewrap, on the interpreter of a managed Python runtime (`python_inside`,
    under /var/lang), with no flags and the environment that runtime starts with
    (`runtime_env`): what its forked runtime inherits is what a runtime started on its
    own would have had."""
    return AgentCommand([python_inside, "-c", _boot(AGENT_DIR_INSIDE)], dict(runtime_env),
                        [(AGENT_PACKAGE, f"{AGENT_DIR_INSIDE}/agent")])


def runs_the_agent(python: Path) -> bool:
    """Whether a runtime's interpreter has what the agent imports (an interpreter built
    without libffi has no ctypes): where it has not, that runtime keeps the agent on lamina's
    interpreter and execs its runtime."""
    try:
        probe = subprocess.run([str(python), "-I", "-S", "-c", "import _ctypes, _socket, marshal, select"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def runtimes_that_run_it(runtimes: Mapping[str, Runtime]) -> frozenset[str]:
    """The Python runtimes whose interpreter can run the agent (see Host.forks_runtime)."""
    return frozenset(rid for rid, runtime in runtimes.items() if runtime.family == "python"
                     and runtime.install.executable and runs_the_agent(runtime.install.executable))


def for_process() -> AgentCommand:
    executable, _ = _interpreter()
    return AgentCommand(_argv(str(executable), str(AGENT_PACKAGE.parent)),
                        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
