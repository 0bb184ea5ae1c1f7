"""Density: the memory an idle warm environment costs, and how many fit in a GiB.

Its own server (bwrap sandboxes: run as root) on a free port with its own data directory;
`--functions` Python functions each invoked once, then left idle. Each environment is the
tree of processes under a bubblewrap process started in the pool's directory (bwrap, the
agent, the runtime); its cost is the sum of their PSS (`/proc/<pid>/smaps_rollup`), so
pages shared between environments are split between them. Prints one JSON document.

    .venv/bin/python bench/density.py [--functions 20] [--settle 2] [--runtime python3.11]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from common import Lamina

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        command = stat[stat.index("(") + 1:stat.rindex(")")]
        table[int(name)] = (int(stat[stat.rindex(")") + 2:].split()[1]), command)
    return table


def _pss_kib(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:", "Pss_Anon:", "Pss_File:", "Private_Dirty:"):
                fields[parts[0][:-1].lower()] = int(parts[1])
    return fields


def environments(work_dir: Path) -> list[dict]:
    """Per environment: its processes and their summed memory figures, in KiB."""
    table = _processes()
    children = defaultdict(list)
    for pid, (parent, _) in table.items():
        children[parent].append(pid)
    found = []
    for pid, (_, command) in table.items():
        try:
            if command != "bwrap" or os.readlink(f"/proc/{pid}/cwd") != str(work_dir):
                continue
        except OSError:
            continue
        if table.get(table[pid][0], (0, ""))[1] == "bwrap":
            continue  # bubblewrap's own child, counted in its parent's tree
        tree, stack = [], [pid]
        while stack:
            member = stack.pop()
            tree.append(member)
            stack += children.get(member, [])
        totals: dict[str, int] = defaultdict(int)
        names = []
        for member in tree:
            try:
                for key, value in _pss_kib(member).items():
                    totals[key] += value
                names.append(table[member][1])
            except OSError:
                continue
        found.append({"processes": names, **totals})
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=20)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before measuring")
    parser.add_argument("--runtime", default="python3.11")
    args = parser.parse_args()
    with Lamina() as lamina:
        client = lamina.client()
        for index in range(args.functions):
            lamina.create_python_function(f"density{index}", HANDLER, Runtime=args.runtime)
            response = client.invoke(FunctionName=f"density{index}", Payload=b"{}")
            assert response["StatusCode"] == 200 and "FunctionError" not in response, response
        time.sleep(args.settle)
        found = environments(Path(lamina.data_dir) / "sandbox")
    if not found:
        raise SystemExit("no sandboxed environments found (is bubblewrap isolation in use? run as root)")
    pss = sorted(environment["pss"] / 1024 for environment in found)
    median = statistics.median(pss)
    print(json.dumps({
        "functions": args.functions, "runtime": args.runtime, "environments": len(found),
        "processes_per_environment": statistics.median(len(e["processes"]) for e in found),
        "process_names": sorted({name for e in found for name in e["processes"]}),
        "pss_mib": {"median": round(median, 2), "min": round(pss[0], 2), "max": round(pss[-1], 2)},
        "pss_anon_mib_median": round(statistics.median(e["pss_anon"] for e in found) / 1024, 2),
        "pss_file_mib_median": round(statistics.median(e["pss_file"] for e in found) / 1024, 2),
        "rss_mib_median": round(statistics.median(e["rss"] for e in found) / 1024, 2),
        "environments_per_gib": round(1024 / median, 1),
        "load_average": os.getloadavg(),
    }, indent=2))


if __name__ == "__main__":
    main()
