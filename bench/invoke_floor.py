"""Warm sequential Invoke latency against the HTTP floor (bench/http_floor.py: the same HTTP
server echoing), measured by the same client in the same run, in alternating rounds: each
round times the floor, then a warm Invoke of each checkout's lamina (e.g. the base commit's
and this one's). Prints JSON with p50/p99 and the over-floor figures; asserts nothing.

    .venv/bin/python bench/invoke_floor.py --tree /work/base --tree . [--count 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from common import Lamina, free_port, percentiles, sequential_latencies, wait_for_port

TRIVIAL = "def handler(event, context):\n    return event\n"
PATH = "/2015-03-31/functions/warm/invocations"
BODY = b'{"ping": 1}'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", help="a checkout with a .venv (repeat; default: this one)")
    parser.add_argument("--count", type=int, default=3000, help="requests per round and target")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in (args.tree or ["."])]
    results: dict = {"count": args.count, "rounds": args.rounds, "load_before": [round(x, 2) for x in os.getloadavg()]}

    floor_port = free_port()
    floor = subprocess.Popen([sys.executable, str(Path(__file__).with_name("http_floor.py")), str(floor_port)])
    servers = [Lamina(tree=tree) for tree in trees]
    try:
        wait_for_port(floor_port)
        for server in servers:
            server.__enter__()
            server.create_python_function("warm", TRIVIAL)
        targets = {"http_floor": (floor_port, "/"), **{s.tree: (s.port, PATH) for s in servers}}
        samples: dict[str, list[float]] = {name: [] for name in targets}
        per_round: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for port, path in targets.values():  # warm-up
            sequential_latencies(port, path, BODY, min(args.count, 1000))
        for _ in range(args.rounds):
            for name, (port, path) in targets.items():
                run = sequential_latencies(port, path, BODY, args.count)
                samples[name] += run
                per_round[name].append(percentiles(run))
    finally:
        for server in servers:
            server.__exit__()
        floor.terminate()
        floor.wait()

    overall = {name: percentiles(values) for name, values in samples.items()}
    results["http_floor_latency_us"] = overall.pop("http_floor")
    results["http_floor_rounds"] = per_round.pop("http_floor")
    floor_p50, floor_p99 = results["http_floor_latency_us"]["p50"], results["http_floor_latency_us"]["p99"]
    results["invoke"] = {
        tree: {"latency_us": latency, "rounds": per_round[tree],
               "over_floor_p50_us": round(latency["p50"] - floor_p50, 1),
               "over_floor_p99_us": round(latency["p99"] - floor_p99, 1),
               # each round against its own floor: the load changes between rounds
               "over_floor_p50_us_by_round": [round(r["p50"] - f["p50"], 1)
                                              for r, f in zip(per_round[tree], results["http_floor_rounds"], strict=True)]}
        for tree, latency in overall.items()}
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
