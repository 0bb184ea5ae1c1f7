"""`Host`: what all environments of a pool share.

The isolation (bubblewrap or plain processes), the sandbox user, the cgroup tree, the
agent's command, and the pool's working directory with the places under it. The pool
makes one when it starts; every `Environment` it starts is given it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupTree
from .isolation import Isolation
from .isolation.agent_command import AgentCommand
from .scratch import ScratchMaker


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
    scratch: ScratchMaker | None = None  # makes /tmp disks; None: /tmp is a tmpfs counted against memory
    # Starts sandbox processes (fork and exec take milliseconds). Its threads live as long as the
    # pool: bubblewrap's --die-with-parent fires when the *thread* that started it ends.
    spawner: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="lamina-spawn"))

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
