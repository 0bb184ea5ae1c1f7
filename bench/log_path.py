"""CPU of the logs+metrics step of an invocation (issue 11): what the invoke service does
after the environment answered — count the metrics, build the invocation's log record and
queue it — plus the log store's batched SQLite writes of it, in one process, with no HTTP
and no sandbox. Prints JSON; asserts nothing.

    .venv/bin/python bench/log_path.py [--invocations 20000] [--lines 0] [--streams 4]

For the figures before a change, run this same file with the other checkout's interpreter
(`cd /work/base && .venv/bin/python /path/to/bench/log_path.py`): it drives whichever API
the imported lamina has (`LogStore.record` and `Metrics.counters`, else the older
`LogStore.append` of rendered events and `Metrics.add`).

`process_us` is the whole process's CPU (event loop and SQLite thread, from getrusage) per
invocation; `loop_us` only the event loop thread's, i.e. what the invoke path itself pays.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from lamina.invoke.report import invocation_log
from lamina.observability.log_store import LogStore
from lamina.observability.metrics import Metrics
from lamina.sandbox.spec import InvokeResult, LogLine
from lamina.store.state import StateStore

ACCOUNT, REGION, FUNCTION, GROUP = "000000000000", "us-east-1", "bench", "/aws/lambda/bench"
BURST = 64  # invocations between yields to the event loop (the flusher runs in between)


def _result(stream: str, lines: int) -> InvokeResult:
    now = int(time.time() * 1000)
    log = [LogLine(now, f"a line of output number {i} from the handler") for i in range(lines)]
    return InvokeResult(b'{"ok": true}', None, "success", 1.234, 42, stream, log=log)


def _step(logs: LogStore, metrics: Metrics):
    """One invocation's logs+metrics work, as the imported lamina's InvokeService.run does it."""
    key = (ACCOUNT, REGION, FUNCTION)
    if hasattr(logs, "record"):
        def step(request_id: str, result: InvokeResult) -> None:
            metrics.counters(key).invoked(result.duration_ms, result.error_type is not None, False, False)
            logs.record(ACCOUNT, REGION, GROUP, result.log_stream,
                        invocation_log(request_id, "$LATEST", result, 128))
    else:
        def step(request_id: str, result: InvokeResult) -> None:
            count = metrics.add
            count(ACCOUNT, REGION, FUNCTION, "Invocations")
            count(ACCOUNT, REGION, FUNCTION, "Duration", result.duration_ms)
            if result.error_type:
                count(ACCOUNT, REGION, FUNCTION, "Errors")
            events = invocation_log(request_id, "$LATEST", result, 128)
            logs.append(ACCOUNT, REGION, GROUP, result.log_stream, events)
    return step


async def _run(directory: Path, invocations: int, lines: int, streams: int) -> dict:
    store = StateStore(directory / "state.db")
    logs, metrics = LogStore(store), Metrics(store)
    await store.open()
    await logs.start()
    await metrics.start()
    step = _step(logs, metrics)
    names = [f"2026/12/03/[$LATEST]{i:032x}" for i in range(streams)]
    results = [_result(name, lines) for name in names]
    request_ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(invocations)]
    gc.collect()
    before, loop_before, wall = resource.getrusage(resource.RUSAGE_SELF), time.thread_time(), time.perf_counter()
    for i, request_id in enumerate(request_ids):
        step(request_id, results[i % streams])
        if i % BURST == BURST - 1:
            await asyncio.sleep(0)
    loop_cpu = time.thread_time() - loop_before
    await logs.flush()
    await metrics.flush()
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    stored = await logs.stream_events(ACCOUNT, REGION, GROUP, names[0], limit=1_000_000)
    await metrics.close()
    await logs.close()
    await store.close()
    expected = len(range(0, invocations, streams)) * (3 + lines)
    assert len(stored) == expected, (len(stored), expected)  # every event got written
    return {"process_us": round(cpu / invocations * 1e6, 2), "loop_us": round(loop_cpu / invocations * 1e6, 2),
            "wall_s": round(wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invocations", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=0, help="lines of function output per invocation")
    parser.add_argument("--streams", type=int, default=4, help="environments the invocations spread over")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-log-path-") as directory:
        figures = asyncio.run(_run(Path(directory), args.invocations, args.lines, args.streams))
    import lamina
    print(json.dumps({"benchmark": "log_path", "lamina": str(Path(lamina.__file__).parent),
                      "python": sys.version.split()[0], "invocations": args.invocations, "lines": args.lines,
                      "streams": args.streams, **figures, "loadavg": Path("/proc/loadavg").read_text().split()[:3]}))


if __name__ == "__main__":
    main()
