"""`Host`: what all environments of a pool share.

The isolation (bubblewrap or plain processes), the sandbox user, the cgroup tree, the
agent's command, and the pool's working directory with the places under it. The pool
makes one when it starts; every `Environment` it starts is given it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import CgroupTree
from .isolation import Isolation
from .isolation.agent_command import AgentCommand


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
    disk_backed_tmp: bool = False  # /tmp on a scratch disk (else a tmpfs counted against memory)

    @property
    def scratch_dir(self) -> Path:
        return self.work_dir / "scratch"

    @property
    def etc_dir(self) -> Path:
        return self.work_dir / "etc"

    @property
    def bwrap(self) -> bool:
        return self.isolation.mode == "bwrap"
