"""How long the pool's work holds the event loop: the longest single callback (one step of a
task, a reader, a timer) while environments start, initialise, invoke, are retired and the
pool closes. Nothing the pool does may hold the loop for more than 10 ms.

Measured on the standard asyncio loop (its `Handle._run` is timed); prints JSON with the
longest callback, the 99th percentile and the slowest callbacks by what they ran.

    .venv/bin/python bench/sandbox_loop_block.py [-n 20] [--runtime python3.12] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

from lamina.sandbox import EnvironmentPool, EnvironmentSpec, InvokeRequest

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
_timings: list[tuple[float, str]] = []
_recording = False
_current: tuple[float, str] | None = None  # the callback running now: (started, what)
_blocking: dict[str, int] = {}  # where the loop thread was, sampled during callbacks over 5 ms


def _watch(loop_thread: int) -> None:
    """Sample the loop thread's stack while a callback has run for more than 5 ms."""
    while True:
        time.sleep(0.001)
        current = _current
        if current is None or time.perf_counter() - current[0] < 0.005:
            continue
        frame = sys._current_frames().get(loop_thread)
        if frame is None:
            continue
        stack = [f for f in traceback.extract_stack(frame) if "/lamina/" in f.filename]
        if stack:
            where = " < ".join(f"{f.filename.split('/lamina/')[-1]}:{f.lineno} {f.name}" for f in reversed(stack[-3:]))
            _blocking[where] = _blocking.get(where, 0) + 1


def _time_callbacks() -> None:
    """Wrap `Handle._run` so that every callback's duration is recorded while `_recording`."""
    original = asyncio.events.Handle._run

    def timed(handle: asyncio.events.Handle) -> None:
        if not _recording:
            return original(handle)
        global _current
        what = _describe(handle._callback)
        started = time.perf_counter()
        _current = (started, what)
        try:
            return original(handle)
        finally:
            _current = None
            _timings.append((time.perf_counter() - started, what))

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]


def _describe(callback: object) -> str:
    """The coroutine a task step runs, or the callback itself."""
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        return task.get_coro().__qualname__  # type: ignore[union-attr]
    return getattr(callback, "__qualname__", repr(callback))[:120]


async def run(count: int, runtime: str, sandbox: str, layers: int) -> dict[str, object]:
    global _recording
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        code.chmod(0o755)
        (code / "app.py").write_text(HANDLER)
        layer_dirs = []
        for index in range(layers):  # process mode merges these per environment
            layer = Path(tmp) / f"layer{index}" / "python"
            for module in range(200):
                (layer / f"pkg{module}").mkdir(parents=True)
                (layer / f"pkg{module}" / "__init__.py").write_text("")
            layer_dirs.append(layer.parent)
        pool = EnvironmentPool(data_dir=Path(tmp) / "data", sandbox=sandbox, spares_per_runtime=0)
        await pool.start()
        _recording = True
        try:
            for index in range(count):
                spec = EnvironmentSpec(key=f"block-{index}-{uuid.uuid4().hex}", account_id="000000000000",
                                       region="us-east-1", function_name=f"block{index}", function_version="$LATEST",
                                       runtime=runtime, handler="app.handler", memory_mb=512, timeout_s=30,
                                       ephemeral_storage_mb=512, code_dir=code, layer_dirs=tuple(layer_dirs))
                request = InvokeRequest(str(uuid.uuid4()), b"{}", f"arn:aws:lambda:us-east-1:000000000000:function:x{index}")
                result = await pool.invoke(spec, request)
                assert result.error_type is None, result.payload
                await pool.retire(spec.key)
                await asyncio.sleep(0.05)  # the retired environment's teardown runs meanwhile
        finally:
            await pool.close()
            _recording = False
        durations = sorted(duration for duration, _ in _timings)
        slowest: dict[str, float] = {}
        for duration, what in sorted(_timings, reverse=True)[:200]:
            slowest[what] = max(slowest.get(what, 0.0), duration)
        top = sorted(slowest.items(), key=lambda item: -item[1])[:5]
        return {"benchmark": "sandbox_loop_block", "sandbox": pool.mode, "runtime": runtime, "environments": count,
                "callbacks": len(durations), "max_ms": round(durations[-1] * 1000, 2),
                "p99_ms": round(durations[int(0.99 * len(durations))] * 1000, 3),
                "over_10ms": sum(1 for d in durations if d > 0.010),
                "slowest": [{"ms": round(d * 1000, 2), "callback": what} for what, d in top],
                "blocked_in": dict(sorted(_blocking.items(), key=lambda item: -item[1])[:8])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--layers", type=int, default=0, help="layers of 200 packages each (merged in process mode)")
    args = parser.parse_args()
    _time_callbacks()
    threading.Thread(target=_watch, args=(threading.get_ident(),), daemon=True).start()
    print(json.dumps(asyncio.run(run(args.n, args.runtime, args.sandbox, args.layers))))


if __name__ == "__main__":
    main()
