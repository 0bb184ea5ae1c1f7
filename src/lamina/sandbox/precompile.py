"""Bytecode for what environments import, compiled once on the host.

Inside a sandbox everything but /tmp is read-only, so an interpreter that finds no .pyc
for its version compiles the source again at every start: ~20 ms for the agent, more for
the runtime loop, and over a second for `import boto3`. lamina therefore compiles the
agent (for its own interpreter and every managed Python) and the runtime loop (for every
managed Python) at start, and the SDK under /var/runtime in the background, at the lowest
CPU priority.
"""

from __future__ import annotations

import asyncio
import compileall
import hashlib
import logging
import os
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .isolation.agent_command import AGENT_PACKAGE
from .runtimes import catalog

log = logging.getLogger(__name__)


def _compile_with(python: Path, paths: Iterable[Path], workers: int = 1) -> list[str]:
    return [str(python), "-m", "compileall", "-q", "-j", str(workers), *(str(p) for p in paths)]


def compile_lamina(pythons: Iterable[Path]) -> None:
    """The agent for this interpreter, lamina's runtime loop for each managed Python."""
    compileall.compile_dir(str(AGENT_PACKAGE), quiet=1)
    # A Python runtime's sandbox runs the agent on that runtime's interpreter too.
    runtime_files = [catalog.PYTHON_RUNTIME_DIR / "lamina_runtime", AGENT_PACKAGE]
    for python in pythons:
        done = subprocess.run(_compile_with(python, runtime_files), capture_output=True, timeout=120)
        if done.returncode != 0:
            log.warning("could not compile lamina's runtime loop for %s: %s", python, done.stderr[-300:])


async def compile_sdk(pythons: Iterable[Path]) -> bool:
    """The SDK packages for each managed Python, one interpreter at a time, niced. A stamp
    per interpreter and SDK version set, beside the bytecode it vouches for (in
    site-packages/__pycache__), skips the work on later starts. True once every Python has
    the SDK's bytecode."""
    entries = [entry for entry in catalog.sdk_entries() if entry.is_dir() or entry.suffix == ".py"]
    if not entries:
        return False
    compiled = True
    versions = "\n".join(sorted(str(entry) for entry in entries))
    stamps = entries[0].parent / "__pycache__"
    stamps.mkdir(exist_ok=True)
    for python in pythons:
        stamp = stamps / ("lamina-sdk-" + hashlib.sha256(f"{python}\n{versions}".encode()).hexdigest()[:24])
        if stamp.exists():
            continue
        # Its own process group: `-j 0` forks a worker per core, which a kill of compileall
        # alone would leave running.
        process = await asyncio.create_subprocess_exec(
            "nice", "-n", "19", *_compile_with(python, entries, workers=0),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True)
        try:
            if await process.wait() == 0:
                stamp.touch()
            else:
                compiled = False
        except asyncio.CancelledError:
            _kill_group(process.pid)
            await process.wait()
            raise
    return compiled


def _kill_group(leader: int) -> None:
    try:
        os.killpg(leader, signal.SIGKILL)
    except ProcessLookupError:
        pass
