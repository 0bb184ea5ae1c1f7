"""A cold burst: `--count` concurrent first invocations of as many new functions, so every
one needs a new environment. Prints one JSON document; asserts nothing.

Its own server (bwrap sandboxes when run as root) on a free port with its own data
directory; boto3 with retries off, one thread per invocation, all released at once. Wall
time is to the last answer. CPU is read from /proc (user + system): the server's own,
with the children it reaped (`mkfs`, `mount` and the like), and that of the environments'
processes (bwrap, agent, runtime), which are all still alive at the end; both per started
environment.

    .venv/bin/python bench/cold_burst.py [--count 200]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from common import Lamina
from tree_cpu import TICK, tree_cpu_seconds

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def _own_and_reaped_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return sum(int(value) for value in fields[11:15]) / TICK  # utime stime cutime cstime


def _sandboxes(tree: dict[int, float]) -> set[int]:
    """The bubblewrap processes among `tree`: one per environment."""
    found = set()
    for pid in tree:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "bwrap":
                    found.add(pid)
        except OSError:
            continue
    return found


def burst(lamina: Lamina, count: int) -> dict:
    client = boto3.client("lambda", endpoint_url=lamina.endpoint, region_name="us-east-1",
                          aws_access_key_id="000000000000", aws_secret_access_key="x",
                          config=BotoConfig(retries={"total_max_attempts": 1}, read_timeout=300,
                                            max_pool_connections=count))
    gate = threading.Barrier(count + 1)

    def one(index: int) -> tuple[str, float, dict]:
        gate.wait()
        try:
            response = client.invoke(FunctionName=f"cold{index}", Payload=b"{}")
        except ClientError as error:
            code = error.response["Error"]["Code"]
            detail = {"code": code, "reason": error.response.get("Reason"),
                      "message": error.response["Error"].get("Message", "")[:200]}
            return ("throttled" if code == "TooManyRequestsException" else "error"), time.monotonic(), detail
        except Exception as error:  # noqa: BLE001 - every other outcome is counted as an error
            return "error", time.monotonic(), {"exception": repr(error)}
        body = response["Payload"].read()
        if response.get("FunctionError"):
            return "error", time.monotonic(), {"function_error": body.decode(errors="replace")[:300]}
        return "ok", time.monotonic(), {}

    server = lamina.process.pid
    before_tree = tree_cpu_seconds(server)
    before_server = _own_and_reaped_cpu_s(server)
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        time.sleep(0.5)  # every thread is at the gate
        started = time.monotonic()
        gate.wait()
        outcomes = [future.result() for future in futures]
    finished = max(at for _, at, _ in outcomes)
    server_cpu = _own_and_reaped_cpu_s(server) - before_server
    after_tree = tree_cpu_seconds(server)
    # Environments' processes: those new since the burst began (all of them are), and
    # what the ones already there (spares) spent meanwhile.
    environments_cpu = sum(cpu - before_tree.get(pid, 0.0) for pid, cpu in after_tree.items() if pid != server)
    started_environments = len(_sandboxes(after_tree) - _sandboxes(before_tree))
    kinds = Counter(kind for kind, _, _ in outcomes)
    throttles = [detail for kind, _, detail in outcomes if kind == "throttled"]
    errors = [detail for kind, _, detail in outcomes if kind == "error"]
    served = max(started_environments, 1)
    return {
        "invocations": count,
        "seconds": round(finished - started, 2),
        "succeeded": kinds["ok"], "throttled": len(throttles), "other_errors": len(errors),
        "throttle_reasons": dict(Counter(t["reason"] for t in throttles)),
        "throttle_examples": [t["message"] for t in throttles[:3]],
        "error_examples": errors[:3],
        "environments_started": started_environments,
        "server_cpu_ms_per_environment": round(server_cpu * 1000 / served, 2),
        "environment_cpu_ms_per_environment": round(environments_cpu * 1000 / served, 2),
        "cpu_s": {"server": round(server_cpu, 2), "environments": round(environments_cpu, 2)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    with Lamina() as lamina:
        for index in range(args.count):
            lamina.create_python_function(f"cold{index}", HANDLER, MemorySize=128)
        time.sleep(1)  # let what creating them started (a spare) settle
        load_before = os.getloadavg()[0]
        result = {"benchmark": "cold_burst", **burst(lamina, args.count),
                  "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
