"""The background SDK compile leaves nothing running when it is cancelled (a server or pool
closing during its first start)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from lamina.sandbox import precompile
from lamina.sandbox.runtimes import catalog


def _compilers_of(directory: Path) -> set[int]:
    """Live pids of the compileall processes (leader and its -j 0 workers) working on `directory`."""
    needle = str(directory).encode()
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and b"compileall" in cmdline and needle in cmdline:
            pids.add(int(proc.name))
    return pids


def test_cancelled_sdk_compile_leaves_no_processes(tmp_path: Path, monkeypatch) -> None:
    sdk = tmp_path / "site-packages" / "sdkpkg"
    sdk.mkdir(parents=True)
    for i in range(4000):  # enough work that the compile is still running when cancelled
        (sdk / f"m{i}.py").write_text("".join(f"def f{j}(x):\n    return x + {j}\n" for j in range(40)))
    monkeypatch.setattr(catalog, "sdk_entries", lambda: (sdk,))

    async def start_then_cancel() -> set[int]:
        task = asyncio.create_task(precompile.compile_sdk([Path(sys.executable)]))
        deadline = time.monotonic() + 30
        while len(started := _compilers_of(sdk)) < 2:  # the leader and at least one worker
            assert time.monotonic() < deadline, "compileall never started its worker processes"
            assert not task.done(), "the compile finished before it could be cancelled"
            await asyncio.sleep(0.02)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return started

    started = asyncio.run(start_then_cancel())
    deadline = time.monotonic() + 5
    while (left := started & _compilers_of(sdk)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left running after the cancel: {sorted(left)}"
