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
import resource
import time
from collections import Counter

from bursts import burst_client, invoke_once, released_together
from common import Lamina
from tree_cpu import TICK, machine_busy_seconds, tree_cpu_seconds

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def _own_and_reaped_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return sum(int(value) for value in fields[11:15]) / TICK  # utime stime cutime cstime


def _client_cpu_s() -> float:
    """This process's own CPU: boto3's 200 threads share the machine with the server."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
    client = burst_client(lamina.endpoint, count)

    def one(index: int) -> tuple[str, float, dict]:
        kind, at, detail, _ = invoke_once(client, f"cold{index}")
        return kind, at, detail

    server = lamina.process.pid
    before_tree = tree_cpu_seconds(server)
    before_server = _own_and_reaped_cpu_s(server)
    before_client, before_machine = _client_cpu_s(), machine_busy_seconds()
    started, outcomes = released_together(count, one)
    finished = max(at for _, at, _ in outcomes)
    server_cpu = _own_and_reaped_cpu_s(server) - before_server
    client_cpu, machine_busy = _client_cpu_s() - before_client, machine_busy_seconds() - before_machine
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
        "cpu_s": {"server": round(server_cpu, 2), "environments": round(environments_cpu, 2),
                  "client": round(client_cpu, 2), "machine": round(machine_busy, 2)},
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
