"""Starting a sandbox's first process (bubblewrap, or in process mode the agent itself) and
saying how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from . import bwrap


def spawn(argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...], stderr: int,
           cwd: Path, sandboxed: bool) -> subprocess.Popen[bytes]:
    """Start the sandbox (on the spawner's thread), in a process group of its own, in the
    pool's directory (which tells, in /proc, whose sandbox it is). A bubblewrap command gets
    /etc's entries as they are now."""
    etc_args, etc_fds = bwrap.etc_arguments() if sandboxed else ([], [])
    try:
        return subprocess.Popen(bwrap.with_etc(argv, etc_args) if sandboxed else argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr, env=env, pass_fds=(*pass_fds, *etc_fds),
                                start_new_session=True, cwd=cwd)
    finally:
        for fd in etc_fds:
            os.close(fd)


def exit_status(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"
