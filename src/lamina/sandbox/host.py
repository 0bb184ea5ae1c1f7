"""`Host`: what all environments of a pool share.

The isolation (bubblewrap or plain processes), the sandbox user, the cgroup tree, the
agent's command (per runtime), and the pool's working directory with the places under it.
The pool makes one when it starts; every `Environment` it starts is given it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupTree
from .environ import LAMBDA_PATHS, base_environment
from .isolation import Isolation, agent_command
from .isolation.agent_command import AgentCommand
from .runtimes.catalog import Runtime
from .scratch import ScratchMaker


@dataclass
class Host:
    """What all environments of a pool share."""

    isolation: Isolation
    uid: int
    gid: int
    cgroups: CgroupTree | None
    agent: AgentCommand  # on lamina's interpreter: for every runtime but Python in a sandbox
    work_dir: Path  # <data_dir>/sandbox
    process_runtime_dirs: dict[str, Path] = field(default_factory=dict)  # process mode: family -> runtime dir
    scratch: ScratchMaker | None = None  # makes /tmp disks; None: /tmp is a tmpfs counted against memory
    sdk_tree: Path | None = None  # the SDK as one directory for /var/runtime, once it is linked (sdk_tree.py)
    # Starts sandbox processes (fork and exec take milliseconds). Its threads live as long as the
    # pool: bubblewrap's --die-with-parent fires when the *thread* that started it ends.
    spawner: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="lamina-spawn"))

    agent_runtimes: frozenset[str] = frozenset()  # Python runtimes whose interpreter can run the agent
    _python_agents: dict[str, AgentCommand] = field(default_factory=dict)

    def forks_runtime(self, runtime: Runtime) -> bool:
        """Whether this runtime's sandbox runs the agent on the runtime's own interpreter
        and pre-starts the runtime as a fork of it: lamina's Python runtime, in bubblewrap."""
        return self.bwrap and runtime.prestartable and runtime.id in self.agent_runtimes

    def agent_for(self, runtime: Runtime) -> AgentCommand:
        if not self.forks_runtime(runtime):
            return self.agent
        command = self._python_agents.get(runtime.id)
        if command is None:
            interpreter = runtime.argv(LAMBDA_PATHS)[0]
            command = agent_command.for_python_runtime(interpreter, base_environment(LAMBDA_PATHS, runtime.family))
            self._python_agents[runtime.id] = command
        return command

    @property
    def disk_backed_tmp(self) -> bool:
        return self.scratch is not None

    @property
    def scratch_dir(self) -> Path:
        return self.work_dir / "scratch"

    @property
    def etc_dir(self) -> Path:
        return self.work_dir / "etc"

    @property
    def bwrap(self) -> bool:
        return self.isolation.mode == "bwrap"
