"""How the agent process is started: lamina's own interpreter, isolated (-I -S -B),
importing the `agent` package from a given parent directory."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

AGENT_PACKAGE = Path(__file__).resolve().parent.parent / "agent"
AGENT_DIR_INSIDE = "/var/lamina"  # the agent package appears at /var/lamina/agent in a sandbox
_PYTHON_INSIDE = "/var/lamina/python"


@dataclass(frozen=True)
class AgentCommand:
    argv: list[str]
    env: dict[str, str]
    binds: list[tuple[Path, str]] = field(default_factory=list)  # (host path, sandbox path), read-only


def _argv(python: str, parent: str) -> list[str]:
    boot = f"import sys; sys.path.insert(0, {parent!r}); from agent.agent import main; main()"
    return [python, "-I", "-S", "-B", "-c", boot]


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


def for_process() -> AgentCommand:
    executable, _ = _interpreter()
    return AgentCommand(_argv(str(executable), str(AGENT_PACKAGE.parent)),
                        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
