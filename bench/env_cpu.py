"""CPU per warm invoke of the environment's processes and of the server, for a trivial
Python handler, on two paths:

- `pool`: direct `EnvironmentPool.invoke` calls in this process (the server side is this
  process's own CPU, from getrusage; the environment's is its processes', from /proc);
- `http`: sequential Invoke requests on one keep-alive connection to a `lamina serve`
  subprocess (the server side is that process's CPU; the environment's, its descendants').

CPU figures come from the kernel's accounting, not from wall-clock time, so they hold on a
shared machine; p50 is the wall-clock latency of the same invocations. Prints JSON.

    .venv/bin/python bench/env_cpu.py [--path pool|http|both] [-n 20000]
    .venv/bin/python bench/env_cpu.py --compare /work/base --rounds 3
        alternating rounds: this checkout, then the one at /work/base (run with its own
        .venv), and so on; medians per side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tree_cpu import cpu_between, tree_cpu_seconds  # noqa: E402

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
WARMUP = 1000


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _settle(root: int, timeout_s: float = 120) -> None:
    """Wait for the server's background byte-compiling of the SDK to end: its CPU is not
    the invocations'."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any("compileall" in _cmdline(pid) for pid in tree_cpu_seconds(root)):
        time.sleep(0.2)


def _environment_cpu(root: int) -> dict[int, float]:
    """CPU seconds per process of the environments under `root`: the trees of its children
    that are sandboxes (bubblewrap, or the agent in process mode)."""
    found: dict[int, float] = {}
    for pid in tree_cpu_seconds(root):
        if pid != root and _parent(pid) == root and ("bwrap" in _cmdline(pid) or "agent.agent" in _cmdline(pid)):
            found.update(tree_cpu_seconds(pid))
    return found


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return int(file.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def pool_round(count: int, runtime: str) -> dict[str, float]:
    from common import BENCH_ARN, pool_with_function

    from lamina.sandbox import InvokeRequest

    async with pool_with_function(HANDLER, runtime) as (pool, spec):
        requests = [InvokeRequest(str(uuid.uuid4()), b"{}", BENCH_ARN) for _ in range(count + WARMUP)]
        for request in requests[:WARMUP]:
            await pool.invoke(spec, request)
        me = os.getpid()
        _settle(me)
        samples = []
        clock = time.perf_counter_ns
        env_before, server_before = _environment_cpu(me), _own_cpu_s()
        for request in requests[WARMUP:]:
            start = clock()
            result = await pool.invoke(spec, request)
            samples.append((clock() - start) / 1000)
            assert result.error_type is None, result.payload
        server_after, env_after = _own_cpu_s(), _environment_cpu(me)
    return {"env_cpu_us": cpu_between(env_before, env_after) / count * 1e6,
            "server_cpu_us": (server_after - server_before) / count * 1e6,
            "p50_us": statistics.median(samples)}


def http_round(count: int) -> dict[str, float]:
    from common import Lamina, sequential_latencies

    with Lamina() as lamina:
        lamina.create_python_function("bench", HANDLER)
        path = "/2015-03-31/functions/bench/invocations"
        sequential_latencies(lamina.port, path, b"{}", WARMUP)
        server = lamina.process.pid
        _settle(server)
        server_before, before = tree_cpu_seconds(server)[server], _environment_cpu(server)
        samples = sequential_latencies(lamina.port, path, b"{}", count)
        server_after, after = tree_cpu_seconds(server)[server], _environment_cpu(server)
    return {"env_cpu_us": cpu_between(before, after) / count * 1e6,
            "server_cpu_us": (server_after - server_before) / count * 1e6,
            "p50_us": statistics.median(samples)}


def one_side(paths: list[str], count: int, runtime: str) -> dict[str, dict[str, float]]:
    import uvloop

    figures = {}
    if "pool" in paths:
        figures["pool"] = uvloop.run(pool_round(count, runtime))
    if "http" in paths:
        figures["http"] = http_round(count)
    return figures


def compare(base: Path, rounds: int, paths: list[str], count: int, runtime: str) -> dict[str, object]:
    """Alternating rounds, each in a fresh process: this checkout, then `base`."""
    sides = {"after": (Path(sys.executable), Path(__file__).parents[1]),
             "before": (base / ".venv/bin/python", base)}
    collected: dict[str, dict[str, dict[str, list[float]]]] = {side: {} for side in sides}
    for _ in range(rounds):
        for side, (python, cwd) in sides.items():
            argv = [str(python), str(Path(__file__).resolve()), "--path", ",".join(paths), "-n", str(count),
                    "--runtime", runtime]
            output = subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout
            for path, figures in json.loads(output.splitlines()[-1])["figures"].items():
                for name, value in figures.items():
                    collected[side].setdefault(path, {}).setdefault(name, []).append(value)
    return {"benchmark": "env_cpu", "rounds": rounds, "invocations": count, "runtime": runtime,
            "load_average": os.getloadavg(),
            "median": {side: {path: {name: _median(values) for name, values in figures.items()}
                              for path, figures in by_path.items()} for side, by_path in collected.items()},
            "all": collected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="both", help="pool, http, or both (comma-separated)")
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--runtime", default="python3.11", help="the pool path's runtime")
    parser.add_argument("--compare", type=Path, help="a checkout (with its .venv) to alternate with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = ["pool", "http"] if args.path == "both" else args.path.split(",")
    if args.compare:
        print(json.dumps(compare(args.compare, args.rounds, paths, args.n, args.runtime)))
        return
    figures = one_side(paths, args.n, args.runtime)
    print(json.dumps({"benchmark": "env_cpu", "invocations": args.n, "load_average": os.getloadavg(),
                      "figures": {path: {name: round(value, 1) for name, value in values.items()}
                                  for path, values in figures.items()}}))


if __name__ == "__main__":
    main()
