"""Load with wrk (`apt-get install -y wrk`), for when the asyncio client in common.py would
saturate a core before the server does: throughput and wrk's latency percentiles.

Run alone, it loads a warm Invoke of a lamina (this checkout's, or `--tree`'s) at each
`--connections` count and prints JSON, with the CPU one request cost under that load: the
server process's own (every thread), its environments' (the processes under it, alive
throughout), and the whole machine's (wrk included):

    .venv/bin/python bench/wrk_load.py [--tree /work/base] [--connections 64 256] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable

from tree_cpu import cpu_between, machine_busy_seconds, tree_cpu_seconds

SCRIPT = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""
_UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}
# `--latency` prints "Latency Distribution" then lines like "     99%   12.34ms".
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(body: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in body) + '"'


def latency_percentiles_us(out: str) -> dict[str, float | None]:
    """p50/p75/p90/p99 in µs from wrk's `--latency` output (None where it printed none)."""
    found = {f"p{q}": round(float(amount) * _UNITS_US[unit], 1) for q, amount, unit in _PERCENTILE.findall(out)}
    return {key: found.get(key) for key in ("p50", "p75", "p90", "p99")}


def throughput(port: int, path: str, body: bytes, clients: int, seconds: float,
               threads: int = 2) -> dict[str, float]:
    """Same shape as common.throughput, plus wrk's error counts and latency percentiles;
    non-2xx answers are not counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(SCRIPT.format(body=_lua_string(body)))
        script.flush()
        done = subprocess.run(
            ["wrk", "-t", str(min(threads, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "10s", "--latency", "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True)
    out = done.stdout
    count, amount, unit = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out).groups()
    elapsed = float(amount) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(map(int, m.groups())) if (
        m := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0
    good = int(count) - non_2xx
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": good, "per_second": round(good / elapsed, 1),
            "non_2xx": non_2xx, "socket_errors": errors, "latency_us": latency_percentiles_us(out),
            "generator": "wrk"}


def loaded_cpu(server_pid: int, run: Callable[..., dict], *args: object) -> dict:
    """`run(*args)`'s result, plus what each request cost in CPU while it ran (µs)."""
    tree, machine = tree_cpu_seconds(server_pid), machine_busy_seconds()
    result = run(*args)
    tree_after, machine_after = tree_cpu_seconds(server_pid), machine_busy_seconds()
    served = max(result["requests"] + result["non_2xx"], 1)
    server = tree_after.get(server_pid, 0.0) - tree.get(server_pid, 0.0)
    environments = cpu_between({p: c for p, c in tree.items() if p != server_pid}, tree_after)

    def per_request(seconds: float) -> float:
        return round(seconds / served * 1e6, 1)
    result["cpu_us_per_request"] = {"server": per_request(server), "environments": per_request(environments),
                                    "machine": per_request(machine_after - machine)}
    return result


def main() -> None:
    from common import Lamina, repo_root

    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", help="a checkout with a .venv (default: this one)")
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not available():
        parser.error("wrk is not installed")
    path, body = "/2015-03-31/functions/warm/invocations", b'{"ping": 1}'
    results: dict = {"tree": os.path.abspath(args.tree) if args.tree else str(repo_root()), "load_before": [round(x, 2) for x in os.getloadavg()]}
    with Lamina(tree=args.tree) as lamina:
        lamina.create_python_function("warm", "def handler(event, context):\n    return event\n")
        throughput(lamina.port, path, body, max(args.connections), 3)  # start the environments first
        results["runs"] = [loaded_cpu(lamina.process.pid, throughput, lamina.port, path, body, clients, args.seconds)
                           for clients in args.connections]
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
