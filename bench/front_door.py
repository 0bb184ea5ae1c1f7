"""Server CPU per Invoke, read from /proc/<pid>/stat over many sequential invokes, for one or
more checkouts in alternating rounds (e.g. the base commit's and this one's):

- `front_door`: lamina's HTTP server and App over a stub Invoke (bench/front_door_server.py):
  what the front door itself costs; beside it `http_floor`, the same HTTP server echoing
  (bench/http_floor.py), what any Python server on this event loop costs;
- `server`: a whole `lamina serve` with a warm Python function: the server process's CPU
  (every thread), the environment's not included.

Requests carry the headers boto3 sends (SigV4-signed in open mode) unless `--bare`. Prints
JSON; asserts nothing.

    .venv/bin/python bench/front_door.py --tree /work/base --tree . [--count 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from common import Lamina, free_port, post_many, tree_python, wait_for_port

TRIVIAL = "def handler(event, context):\n    return event\n"
PATH = "/2015-03-31/functions/{name}/invocations"
BODY = b'{"ping": 1}'
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of the process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


# `--keyed`: the front door checks signatures made with this key.
KEY_ID, SECRET = "AKIDBENCH", "bench-secret"


def boto3_headers(port: int, path: str, key_id: str = "000000000000", secret: str = "secret") -> dict[str, str]:
    """What boto3 sends with an Invoke, signed once (a signature stays valid for minutes)."""
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{port}{path}", data=BODY,
                         headers={"User-Agent": "Boto3/1.34 md/Botocore#1.34 ua/2.0 os/linux lang/python#3.11",
                                  "Content-Type": "application/json", "amz-sdk-invocation-id": "0" * 36,
                                  "amz-sdk-request": "attempt=1"})
    SigV4Auth(Credentials(key_id, secret), "lambda", "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def measure(pid: int, port: int, path: str, headers: dict[str, str], count: int) -> dict[str, float]:
    started_cpu, started = cpu_seconds(pid), time.perf_counter()
    post_many(port, path, BODY, headers, count)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - started_cpu
    return {"cpu_us_per_invoke": round(cpu / count * 1e6, 1), "wall_us_per_invoke": round(elapsed / count * 1e6, 1)}


class FrontDoor:
    """bench/front_door_server.py run by a checkout's interpreter."""

    def __init__(self, tree: str, script: str = "front_door_server.py", env: dict[str, str] | None = None) -> None:
        self.tree, self.port, self.script, self.env = tree, free_port(), script, env

    def __enter__(self) -> FrontDoor:
        script = Path(__file__).with_name(self.script)
        self.process = subprocess.Popen([tree_python(self.tree), str(script), str(self.port)], cwd=self.tree,
                                        env={**os.environ, **(self.env or {})},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(30)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rounds(targets: dict[str, tuple[int, int]], path: str, count: int, count_rounds: int, bare: bool,
           key: tuple[str, str] = ("000000000000", "secret")) -> dict:
    """targets: tree -> (pid, port); each round measures every tree once, in turn."""
    samples: dict[str, list[dict[str, float]]] = {tree: [] for tree in targets}
    for pid, port in targets.values():  # warm-up
        measure(pid, port, path, {} if bare else boto3_headers(port, path, *key), min(count, 1000))
    for _ in range(count_rounds):
        for tree, (pid, port) in targets.items():
            samples[tree].append(measure(pid, port, path, {} if bare else boto3_headers(port, path, *key), count))
    return {tree: {"rounds": runs,
                   "median_cpu_us_per_invoke": round(statistics.median(r["cpu_us_per_invoke"] for r in runs), 1),
                   "median_wall_us_per_invoke": round(statistics.median(r["wall_us_per_invoke"] for r in runs), 1)}
            for tree, runs in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", help="a checkout with a .venv (repeat; default: this one)")
    parser.add_argument("--count", type=int, default=5000, help="invokes per round and tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--what", choices=("front_door", "server", "both"), default="both")
    parser.add_argument("--bare", action="store_true", help="no SigV4/boto3 headers")
    parser.add_argument("--keyed", action="store_true", help="the front door checks signatures (front_door only)")
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in (args.tree or ["."])]
    results: dict = {"count": args.count, "rounds": args.rounds, "headers": "bare" if args.bare else "boto3",
                     "keyed": args.keyed,
                     "load_before": load_average()}
    if args.what in ("front_door", "both"):
        # The floor: the same HTTP server echoing, without lamina's App (this checkout's).
        floor = FrontDoor(str(Path(__file__).resolve().parent.parent), "http_floor.py")
        env = {"LAMINA_ACCESS_KEYS": f"{KEY_ID}:{SECRET}:000000000000"} if args.keyed else None
        doors = [FrontDoor(tree, env=env) for tree in trees]
        for door in (floor, *doors):
            door.__enter__()
        try:
            measured = rounds({"http_floor": (floor.process.pid, floor.port),
                               **{d.tree: (d.process.pid, d.port) for d in doors}},
                              PATH.format(name="f"), args.count, args.rounds, args.bare,
                              (KEY_ID, SECRET) if args.keyed else ("000000000000", "secret"))
            results["http_floor"] = measured.pop("http_floor")
            results["front_door"] = measured
        finally:
            for door in (floor, *doors):
                door.__exit__()
    if args.what in ("server", "both"):
        servers = [Lamina(tree=tree) for tree in trees]
        try:
            for server in servers:
                server.__enter__()
                server.create_python_function("warm", TRIVIAL)
            results["server"] = rounds({s.tree: (s.process.pid, s.port) for s in servers},
                                       PATH.format(name="warm"), args.count, args.rounds, args.bare)
        finally:
            for server in servers:
                server.__exit__()
    results["load_after"] = load_average()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
