"""Invoke benchmarks (issue 3): warm latency against the HTTP floor, cold start, and
sustained throughput. Prints one JSON document; asserts nothing.

    .venv/bin/python bench/invoke.py [--count 20000] [--cold 200] [--clients 64] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import Lamina, free_port, percentiles, sequential_latencies, throughput, wait_for_port

TRIVIAL = "def handler(event, context):\n    return event\n"
PATH = "/2015-03-31/functions/{name}/invocations"
BODY = b'{"ping": 1}'


def floor(count: int, clients: int, seconds: float) -> dict:
    port = free_port()
    server = subprocess.Popen([sys.executable, "bench/http_floor.py", str(port)])
    try:
        wait_for_port(port)
        sequential_latencies(port, "/", BODY, 1000)
        return {"latency_us": percentiles(sequential_latencies(port, "/", BODY, count)),
                "throughput": throughput(port, "/", BODY, clients, seconds)}
    finally:
        server.terminate()
        server.wait()


def cold_starts(lamina: Lamina, samples: int) -> dict:
    """Time to first byte of invocations that must start a new environment: each sample
    follows a configuration change, which retires the warm environments."""
    client = lamina.client()
    lamina.create_python_function("cold", TRIVIAL)
    timings = []
    for i in range(samples):
        client.update_function_configuration(FunctionName="cold", Environment={"Variables": {"SAMPLE": str(i)}})
        client.get_waiter("function_updated_v2").wait(FunctionName="cold", WaiterConfig={"Delay": 0.02})
        timings.append(sequential_latencies(lamina.port, PATH.format(name="cold"), BODY, 1)[0] / 1000)
    ordered = sorted(timings)
    return {"count": samples, "p50_ms": round(ordered[len(ordered) // 2], 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--cold", type=int, default=200)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    results: dict = {"http_floor": floor(args.count, args.clients, args.seconds)}
    with Lamina() as lamina:
        lamina.create_python_function("warm", TRIVIAL)
        path = PATH.format(name="warm")
        sequential_latencies(lamina.port, path, BODY, 1000)
        warm = percentiles(sequential_latencies(lamina.port, path, BODY, args.count))
        results["warm_invoke_latency_us"] = warm
        results["warm_over_floor_p50_us"] = round(warm["p50"] - results["http_floor"]["latency_us"]["p50"], 1)
        started = time.monotonic()
        results["throughput"] = throughput(lamina.port, path, BODY, args.clients, args.seconds)
        results["throughput"]["wall_seconds"] = round(time.monotonic() - started, 2)
        results["cold_start_to_first_byte"] = cold_starts(lamina, args.cold)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
