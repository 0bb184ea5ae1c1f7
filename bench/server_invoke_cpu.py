"""Server CPU per warm invocation, over HTTP (issue 11): the lamina server process's own CPU
(event loop and SQLite thread, from /proc/<pid>/stat; not the environments') across
sequential warm invokes, including the log flush after them. Prints JSON; asserts nothing.

    .venv/bin/python bench/server_invoke_cpu.py [--count 5000] [--lines 0]

Run the same file with another checkout's interpreter for its figures (`cd /work/base &&
.venv/bin/python /path/to/bench/server_invoke_cpu.py`): the server started is the
interpreter's lamina.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import Lamina, sequential_latencies

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=0, help="lines the function prints per invocation")
    args = parser.parse_args()
    prints = "".join(f"    print('a line of output number {i} from the handler')\n" for i in range(args.lines))
    with Lamina() as lamina:
        lamina.create_python_function("cpu", f"def handler(event, context):\n{prints}    return 1\n")
        path = "/2015-03-31/functions/cpu/invocations"
        sequential_latencies(lamina.port, path, b"{}", 500)  # warm
        time.sleep(1)  # let the warm-up's logs be written
        before = cpu_seconds(lamina.process.pid)
        started = time.perf_counter()
        sequential_latencies(lamina.port, path, b"{}", args.count)
        time.sleep(1)  # the flusher writes what is left (idle CPU over this second is tiny)
        cpu = cpu_seconds(lamina.process.pid) - before
        wall = time.perf_counter() - started
    import lamina as package
    print(json.dumps({"benchmark": "server_invoke_cpu", "lamina": str(Path(package.__file__).parent),
                      "count": args.count, "lines": args.lines,
                      "server_us_per_invoke": round(cpu / args.count * 1e6, 1), "wall_s": round(wall, 2),
                      "loadavg": Path("/proc/loadavg").read_text().split()[:3]}))


if __name__ == "__main__":
    main()
