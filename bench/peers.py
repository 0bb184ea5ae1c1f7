"""lamina against a peer (issue 11): the same warm Invoke workload against lamina and
serverless-offline (npm serverless@3 + serverless-offline@13, one python3.11 function, its
Lambda invoke port), in alternating rounds. Prints one JSON document with each side's figures
per round, the medians and the lamina/peer ratios beside the issue's targets; asserts nothing.
Without Node/npm, or without the npm registry, the peer is reported as skipped and lamina is
still measured.

    .venv/bin/python bench/peers.py [--rounds 3] [--count 2000] [--clients 64] [--seconds 5]
                                    [--load auto|wrk|python] [--warmup-seconds 120] [--budget 900]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3
import sls_offline
import wrk_load
from botocore.config import Config as BotoConfig
from common import Lamina, percentiles, sequential_latencies, throughput
from tree_cpu import cpu_between, tree_cpu_seconds

TRIVIAL = "def handler(event, context):\n    return event\n"
PATH = "/2015-03-31/functions/{name}/invocations"
BODY = b'{"ping": 1}'
TARGETS = {"throughput_ratio": (">=", 5.0), "p50_ratio": ("<=", 0.3)}
LAMINA_FUNCTION = "peerbench-echo"


@dataclass
class Side:
    """One server under test: where to send Invoke, and whose CPU to count."""
    name: str
    endpoint: str
    port: int
    function: str
    pid: int

    @property
    def path(self) -> str:
        return PATH.format(name=self.function)


def lambda_client(endpoint: str):
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="000000000000", aws_secret_access_key="x",
                        config=BotoConfig(retries={"max_attempts": 0}, read_timeout=60))


def check_payloads(side: Side) -> dict:
    try:
        return _check_payloads(side)
    except Exception as error:  # a broken peer is a finding, not a crash
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def _check_payloads(side: Side) -> dict:
    """Both servers must echo the event: once through boto3, once as raw HTTP."""
    event = {"check": uuid.uuid4().hex, "nested": {"list": [1, 2.5, "three", None, True]}}
    reply = lambda_client(side.endpoint).invoke(FunctionName=side.function, Payload=json.dumps(event).encode())
    got = json.loads(reply["Payload"].read())
    connection = http.client.HTTPConnection("127.0.0.1", side.port, timeout=30)
    connection.request("POST", side.path, BODY, {"Content-Type": "application/json"})
    raw = connection.getresponse()
    raw_body = raw.read()
    connection.close()
    boto_ok = reply["StatusCode"] == 200 and "FunctionError" not in reply and got == event
    raw_ok = raw.status == 200 and json.loads(raw_body) == json.loads(BODY)
    return {"ok": boto_ok and raw_ok, "boto3_ok": boto_ok, "raw_http_ok": raw_ok,
            **({} if boto_ok else {"boto3_sent": event, "boto3_got": got}),
            **({} if raw_ok else {"raw_status": raw.status, "raw_body": raw_body[:200].decode(errors="replace")})}


def load_generator(choice: str) -> tuple[str, Callable[..., dict]]:
    if choice == "wrk" or (choice == "auto" and wrk_load.available()):
        return "wrk", wrk_load.throughput
    return "python-asyncio (bench/common.py)", throughput


def measure(side: Side, count: int, warmup: int, clients: int, seconds: float, load: Callable[..., dict]) -> dict:
    sequential_latencies(side.port, side.path, BODY, warmup)
    before = tree_cpu_seconds(side.pid)
    latency = percentiles(sequential_latencies(side.port, side.path, BODY, count))
    sequential_cpu = cpu_between(before, tree_cpu_seconds(side.pid))
    before = tree_cpu_seconds(side.pid)
    loaded = load(side.port, side.path, BODY, clients, seconds)
    loaded_cpu = cpu_between(before, tree_cpu_seconds(side.pid))
    return {"latency_us": latency,
            "sequential_cpu_us_per_invoke": round(sequential_cpu / count * 1e6, 1),
            "throughput": loaded,
            "throughput_cpu_us_per_invoke": round(loaded_cpu / max(1, loaded["requests"]) * 1e6, 1)}


def warm_up(side: Side, args: argparse.Namespace, load: Callable[..., dict]) -> list[float]:
    """Load passes until the rate settles: the peer starts one python3 process per concurrent
    request, so at 64 connections it takes many seconds to have them all. Returns each pass's rate."""
    sequential_latencies(side.port, side.path, BODY, args.warmup)
    deadline = time.monotonic() + args.warmup_seconds
    rates: list[float] = []
    while time.monotonic() < deadline:
        rates.append(load(side.port, side.path, BODY, args.clients, args.seconds)["per_second"])
        if len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.15 * max(rates[-2], 1.0):
            break
    return rates


def medians(rounds: list[dict]) -> dict:
    def median(pick: Callable[[dict], float]) -> float:
        return round(statistics.median(pick(r) for r in rounds), 1)

    return {"p50_us": median(lambda r: r["latency_us"]["p50"]), "p99_us": median(lambda r: r["latency_us"]["p99"]),
            "per_second": median(lambda r: r["throughput"]["per_second"]),
            "sequential_cpu_us_per_invoke": median(lambda r: r["sequential_cpu_us_per_invoke"]),
            "throughput_cpu_us_per_invoke": median(lambda r: r["throughput_cpu_us_per_invoke"])}


def ratios(lamina: dict, peer: dict) -> dict:
    values = {"throughput_ratio": lamina["per_second"] / peer["per_second"],
              "p50_ratio": lamina["p50_us"] / peer["p50_us"],
              "p99_ratio": lamina["p99_us"] / peer["p99_us"],
              "sequential_cpu_ratio": lamina["sequential_cpu_us_per_invoke"] / peer["sequential_cpu_us_per_invoke"]}
    result = {}
    for key, value in values.items():
        entry: dict = {"value": round(value, 3)}
        if key in TARGETS:
            op, bound = TARGETS[key]
            entry.update(target=f"{op} {bound}", met=value >= bound if op == ">=" else value <= bound)
        result[key] = entry
    return result


def node_versions() -> dict:
    def version(tool: str) -> str:
        return subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()

    peer_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    python3 = subprocess.run(["python3", "--version"], capture_output=True, text=True, timeout=30, env=peer_env)
    return {"node": version("node"), "npm": version("npm"), "python3": python3.stdout.strip()}


@contextlib.contextmanager
def peer_side(args: argparse.Namespace, report: dict) -> Iterator[Side | None]:
    """The peer, or None with the reason in `report` when it cannot run here."""
    report.update(name="serverless-offline", skipped=False)
    if args.no_peer:
        report.update(skipped=True, reason="--no-peer given")
        yield None
        return
    try:
        report["packages"] = sls_offline.install()
        report.update(node_versions(), cache=str(sls_offline.CACHE))
        with sls_offline.ServerlessOffline(TRIVIAL) as peer:
            yield Side("serverless-offline", peer.endpoint, peer.port, sls_offline.NAME, peer.process.pid)
    except sls_offline.PeerUnavailable as why:
        report.update(skipped=True, reason=str(why))
        yield None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000, help="sequential invokes per round")
    parser.add_argument("--warmup", type=int, default=300, help="sequential invokes before each measurement")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5, help="throughput phase length per round")
    parser.add_argument("--warmup-seconds", type=float, default=120,
                        help="most time per side spent reaching a settled rate before the rounds")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--budget", type=float, default=900, help="no new round starts after this many seconds")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    if args.load == "wrk" and not wrk_load.available():
        parser.error("--load wrk: wrk is not installed")

    started = time.monotonic()
    generator, load = load_generator(args.load)
    results: dict = {
        "benchmark": "peers", "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "workload": {"handler": "python3.11, returns its event", "body": BODY.decode(), "rounds": args.rounds,
                     "sequential_count": args.count, "warmup": args.warmup, "clients": args.clients,
                     "seconds": args.seconds, "load_generator": generator},
        "peer": {}}
    with Lamina() as lamina, peer_side(args, results["peer"]) as peer:
        lamina.create_python_function(LAMINA_FUNCTION, TRIVIAL)
        sides = [Side("lamina", lamina.endpoint, lamina.port, LAMINA_FUNCTION, lamina.process.pid)]
        sides += [peer] if peer else []
        results["sanity_before"] = {side.name: check_payloads(side) for side in sides}
        # Discarded passes start an instance per connection on each side: the rounds are warm.
        results["warmup_per_second"] = {side.name: warm_up(side, args, load) for side in sides}
        results["rounds"] = []
        for number in range(1, args.rounds + 1):
            if time.monotonic() - started > args.budget:
                results["stopped_early"] = f"budget of {args.budget:.0f} s spent after {number - 1} rounds"
                break
            results["rounds"].append({"round": number, **{
                side.name: measure(side, args.count, args.warmup, args.clients, args.seconds, load)
                for side in sides}})
        results["sanity_after"] = {side.name: check_payloads(side) for side in sides}

    rounds = results["rounds"]
    if not rounds:
        print(json.dumps(results, indent=2))
        return
    results["medians"] = {side.name: medians([r[side.name] for r in rounds]) for side in sides}
    if peer:
        results["ratios"] = ratios(results["medians"]["lamina"], results["medians"][peer.name])
    results["sanity_ok"] = all(check["ok"] for key in ("sanity_before", "sanity_after")
                               for check in results[key].values())
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
