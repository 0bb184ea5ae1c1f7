"""The start of lamina's managed Python runtime inside its sandbox, as the function sees it:
the runtime process's CPU (user + system, from its own getrusage) up to the end of the
handler module's import, the modules already loaded when the handler module starts, and
the process's peak RSS. `--functions` new functions per runtime, each invoked once, on its
own server (bwrap sandboxes when run as root). Prints one JSON document; medians.

    .venv/bin/python bench/runtime_start.py [--runtimes python3.11,python3.13] [--functions 10]
    .venv/bin/python bench/runtime_start.py --compare /work/base --rounds 3
        alternating rounds: this checkout's server, then that checkout's, and so on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from common import ROLE, Lamina, zip_of

HANDLER = """\
import sys
MODULES = len(sys.modules)
import resource
_usage = resource.getrusage(resource.RUSAGE_SELF)
CPU_MS = (_usage.ru_utime + _usage.ru_stime) * 1000

def handler(event, context):
    return {"cpu_ms": CPU_MS, "modules": MODULES, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
"""


def measure(tree: str | None, runtimes: list[str], functions: int) -> dict[str, dict[str, float]]:
    results = {}
    with Lamina(tree=tree) as lamina:
        client = lamina.client()
        for runtime in runtimes:
            samples = []
            for index in range(functions):
                name = f"start-{runtime.replace('.', '')}-{index}"
                client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="app.handler",
                                       Code={"ZipFile": zip_of({"app.py": HANDLER})})
                client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
                response = client.invoke(FunctionName=name, Payload=b"{}")
                assert "FunctionError" not in response, response["Payload"].read()
                samples.append(json.loads(response["Payload"].read()))
            results[runtime] = {key: round(statistics.median(s[key] for s in samples), 2)
                                for key in ("cpu_ms", "modules", "maxrss_kb")}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtimes", default="python3.11,python3.13")
    parser.add_argument("--functions", type=int, default=10)
    parser.add_argument("--compare", help="another checkout (with its .venv) to alternate with")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    runtimes = args.runtimes.split(",")
    sides = {"this": None} if args.compare is None else {"this": None, "compare": args.compare}
    rounds: dict[str, list] = {side: [] for side in sides}
    for _ in range(args.rounds):
        for side, tree in sides.items():
            rounds[side].append(measure(tree, runtimes, args.functions))
    summary = {side: {runtime: {key: statistics.median(r[runtime][key] for r in runs)
                                for key in runs[0][runtime]} for runtime in runtimes}
               for side, runs in rounds.items()}
    print(json.dumps({"benchmark": "runtime_start", "functions": args.functions, "rounds": args.rounds,
                      "compare": args.compare, "median_of_rounds": summary, "rounds_seen": rounds,
                      "load_average": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
