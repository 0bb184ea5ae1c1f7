"""How environments are isolated: bubblewrap (namespaces, mounts, an unprivileged user;
with cgroups for the limits) or, where that cannot work, plain processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from . import mounts


class IsolationUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Isolation:
    mode: str  # "bwrap" | "process"
    reason: str  # why this mode was chosen
    bwrap: str | None = None


def bwrap_problem() -> tuple[str | None, str | None]:
    """(path to bwrap, None) when bubblewrap isolation works here, else (None, why not)."""
    if not sys.platform.startswith("linux"):
        return None, "namespaces need Linux"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    if os.geteuid() != 0:
        return None, "lamina is not running as root (needed for cgroups, the sandbox user and mounts)"
    reason = mounts.unsupported_reason()
    if reason:
        return None, reason
    probe = subprocess.run([bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--ro-bind", "/", "/",
                            "--proc", "/proc", "--", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return None, f"bubblewrap fails here: {probe.stderr.strip() or probe.returncode}"
    return bwrap, None


def choose(setting: str) -> Isolation:
    if setting == "process":
        return Isolation("process", "the sandbox setting is `process`")
    bwrap, problem = bwrap_problem()
    if bwrap is not None:
        return Isolation("bwrap", "bubblewrap works here", bwrap)
    if setting == "bwrap":
        raise IsolationUnavailable(f"sandbox = bwrap, but {problem}")
    return Isolation("process", problem or "")
