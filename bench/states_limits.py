"""Step Functions under executions that never end by themselves (issue 10, items 1 and 2): how
long `/_lamina/health` takes to answer, and how much memory the server holds, while
- an Express 100,000-item inline Map of Pass states runs (StartSyncExecution; it completes),
- the same Map runs as a Standard execution (it fails at the 25,000-event history limit),
- a Standard Pass -> Choice loop with no exit runs (it fails at the history limit).
Prints one JSON document; asserts nothing.

    .venv/bin/python bench/states_limits.py [--items 100000]

Health is polled every 10 ms on its own keep-alive connection; RSS is the server process's
(VmRSS, sampled with the polls; VmHWM at the end is the high-water mark of the whole run).
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from common import ROLE, Lamina, percentiles

ENDLESS = {"StartAt": "L", "States": {
    "L": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "D"}], "Default": "L"},
    "D": {"Type": "Succeed"}}}
MAP = {"StartAt": "M", "States": {"M": {
    "Type": "Map", "MaxConcurrency": 0, "End": True,
    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}


def memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Probe:
    """Polls health and samples the server's RSS from a thread while a scenario runs."""

    def __init__(self, lamina: Lamina) -> None:
        self.lamina = lamina
        self.latencies_ms: list[float] = []
        self.rss_kb: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.lamina.port, timeout=60)
        while not self._stop.is_set():
            started = time.perf_counter()
            connection.request("GET", "/_lamina/health")
            connection.getresponse().read()
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self.rss_kb.append(memory_kb(self.lamina.process.pid, "VmRSS"))
            time.sleep(0.01)
        connection.close()

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, Any]:
        health = percentiles(self.latencies_ms)
        return {"health_ms": {**health, "max": round(max(self.latencies_ms), 1),
                              "over_50ms": sum(1 for x in self.latencies_ms if x > 50)},
                "rss_mb_max": round(max(self.rss_kb) / 1024, 1)}


def clients(lamina: Lamina) -> tuple[Any, Any]:
    def make(**extra: Any) -> Any:
        return boto3.client("stepfunctions", endpoint_url=lamina.endpoint, region_name="us-east-1",
                            aws_access_key_id="000000000000", aws_secret_access_key="x",
                            config=BotoConfig(retries={"max_attempts": 0}, read_timeout=600, **extra))
    return make(), make(inject_host_prefix=False)


def finished(sfn: Any, arn: str) -> dict[str, Any]:
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.05)
    return described


def outcome(described: dict[str, Any], started: float) -> dict[str, Any]:
    return {"status": described["status"], "error": described.get("error"), "cause": described.get("cause"),
            "seconds": round(time.monotonic() - started, 2)}


def express_map(lamina: Lamina, items: str) -> dict[str, Any]:
    sfn, sync = clients(lamina)
    arn = sfn.create_state_machine(name="map-express", roleArn=ROLE, type="EXPRESS",
                                   definition=json.dumps(MAP))["stateMachineArn"]
    with Probe(lamina) as probe:
        started = time.monotonic()
        answer = sync.start_sync_execution(stateMachineArn=arn, input=items)
    return {**outcome(answer, started), **probe.report()}


def standard(lamina: Lamina, name: str, definition: dict[str, Any], payload: str) -> dict[str, Any]:
    sfn, _ = clients(lamina)
    arn = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]
    with Probe(lamina) as probe:
        started = time.monotonic()
        execution = sfn.start_execution(stateMachineArn=arn, input=payload)["executionArn"]
        answered = round(time.monotonic() - started, 3)
        described = finished(sfn, execution)
    last = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=1)["events"][0]
    return {**outcome(described, started), "start_execution_seconds": answered,
            "last_event": {"id": last["id"], "type": last["type"]}, **probe.report()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    items = json.dumps([0] * args.items, separators=(",", ":"))
    with Lamina() as lamina:
        results = {
            "express_map": express_map(lamina, items),
            "standard_map": standard(lamina, "map-standard", MAP, items),
            "standard_endless_loop": standard(lamina, "endless", ENDLESS, "{}"),
            "server_rss_high_water_mb": round(memory_kb(lamina.process.pid, "VmHWM") / 1024, 1),
        }
    print(json.dumps({"benchmark": "states_limits", "items": args.items, "results": results}, indent=2))


if __name__ == "__main__":
    main()
