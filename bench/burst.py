"""A burst of concurrent first invocations (issue 10): how fast environments start, how long
1,000 concurrent synchronous invokes of a ~1-second function take, how many are throttled,
and what the host's memory does. Prints one JSON document; asserts nothing.

Its own server on a free port with its own data directory; boto3 with retries off, one
request per thread, all released at once on loopback.

    .venv/bin/python bench/burst.py [--count 1000] [--sleep 1.0] [--max-environments 0]
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from collections import Counter

from bursts import burst_client, invoke_once, released_together
from common import Lamina

SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep({sleep})\n    return {{'ok': True}}\n"


def mem_available_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


class MemorySampler(threading.Thread):
    """The lowest MemAvailable seen, sampled every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.lowest = mem_available_mb()
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(0.05):
            self.lowest = min(self.lowest, mem_available_mb())

    def stop(self) -> None:
        self._finished.set()
        self.join()


def burst(lamina: Lamina, name: str, count: int, sleep_s: float) -> dict:
    client = burst_client(lamina.endpoint, count)

    def one(_: int) -> tuple[str, float, dict]:
        kind, at, detail, response = invoke_once(client, name, "Tail")
        if response is not None:
            log = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
            kind = "cold" if "Init Duration" in log else "warm"
        return kind, at, detail

    sampler = MemorySampler()
    before = mem_available_mb()
    sampler.start()
    started, outcomes = released_together(count, one)
    finished = max(at for _, at, _ in outcomes)
    at_end = mem_available_mb()
    time.sleep(2)
    sampler.stop()

    kinds = Counter(kind for kind, _, _ in outcomes)
    cold_done = [at - started for kind, at, _ in outcomes if kind == "cold"]
    # Environments started per second while the burst lasted: the cold starts, over the time
    # from the burst's start to the end of the last start (its answer, less one run of the function).
    rate = len(cold_done) / max(max(cold_done) - sleep_s, 0.001) if cold_done else 0.0
    throttles = [detail for kind, _, detail in outcomes if kind == "throttled"]
    errors = [detail for kind, _, detail in outcomes if kind == "error"]
    succeeded = kinds["cold"] + kinds["warm"]
    return {
        "invocations": count,
        "seconds": round(finished - started, 2),
        "succeeded": succeeded, "throttled": len(throttles), "other_errors": len(errors),
        "share": {"succeeded": round(succeeded / count, 3), "throttled": round(len(throttles) / count, 3),
                  "other_errors": round(len(errors) / count, 3)},
        "environments_started": kinds["cold"],
        "served_warm": kinds["warm"],
        "environments_per_s": round(rate, 1),
        "environments_per_10_s": f"{round(rate * 10):,} environments per 10 s",
        "throttle_reasons": dict(Counter(t["reason"] for t in throttles)),
        "retry_after": dict(Counter(t["retry_after"] for t in throttles)),
        "error_examples": errors[:5],
        "host_memory_available_mb": {"before": before, "lowest": sampler.lowest, "at_end": at_end,
                                     "after_2_s": mem_available_mb()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--sleep", type=float, default=1.0, help="seconds the function sleeps")
    parser.add_argument("--max-environments", type=int, default=0, help="LAMINA_MAX_ENVIRONMENTS (0: derived)")
    args = parser.parse_args()
    env = {"LAMINA_MAX_ENVIRONMENTS": str(args.max_environments)}
    with Lamina(env) as lamina:
        lamina.create_python_function("burst", SLEEPER.format(sleep=args.sleep), MemorySize=128, Timeout=30)
        result = {"benchmark": "burst", "function_sleep_s": args.sleep, **burst(lamina, "burst", args.count, args.sleep)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
