"""bubblewrap's own cost per sandbox start: `--count` starts of lamina's bubblewrap command
line for a Python runtime, each running /bin/true in place of the agent. It reports the CPU
per start (user + system, from getrusage of the children) and the mounts the sandbox has,
for the SDK bound as one tree (as lamina does once its tree is linked) and entry by entry
(the fallback). Run as root, where lamina uses bubblewrap. Prints one JSON document.

    .venv/bin/python bench/bwrap_start.py [--count 100] [--runtime python3.11]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from lamina.sandbox import precompile, sdk_tree
from lamina.sandbox.isolation import bwrap, bwrap_problem
from lamina.sandbox.isolation.agent_command import AgentCommand
from lamina.sandbox.runtimes import catalog
from lamina.sandbox.runtimes.detect import detect_runtimes


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(program: str, runtime: catalog.Runtime, work_dir: Path, tree: Path | None, count: int) -> dict:
    agent = AgentCommand(["/bin/true"], {}, [])
    etc_args, etc_fds = bwrap.etc_arguments()
    read_end, write_end = os.pipe2(os.O_CLOEXEC)  # bubblewrap writes the child's pid to its info fd
    try:
        argv = bwrap.with_etc(bwrap.command(program, runtime, "host", agent, work_dir / "etc", write_end, tree), etc_args)
        counting = argv[:argv.index("--")] + ["--", "/bin/sh", "-c", "wc -l < /proc/self/mountinfo"]
        mounts = int(subprocess.run(counting, pass_fds=[*etc_fds, write_end], capture_output=True, text=True,
                                    check=True).stdout)
        cpu, started = _children_cpu_s(), time.perf_counter()
        for _ in range(count):
            for fd in etc_fds:
                os.lseek(fd, 0, os.SEEK_SET)  # bubblewrap reads each copied file from its start
            subprocess.run(argv, pass_fds=[*etc_fds, write_end], check=True)
            os.read(read_end, 4096)
        return {"cpu_ms_per_start": round((_children_cpu_s() - cpu) * 1000 / count, 2),
                "wall_ms_per_start": round((time.perf_counter() - started) * 1000 / count, 2), "mounts": mounts}
    finally:
        for fd in [*etc_fds, read_end, write_end]:
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--runtime", default="python3.11")
    args = parser.parse_args()
    program, problem = bwrap_problem()
    if program is None:
        raise SystemExit(f"bubblewrap isolation is unavailable here: {problem}")
    install = catalog.supported(detect_runtimes())[args.runtime]
    runtime = catalog.Runtime(install)
    pythons = [install.executable] if install.executable else []
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = Path(tmp) / "sandbox"
        bwrap.write_etc(work_dir / "etc", 64000, 64000)
        precompile.compile_lamina(pythons)
        tree = sdk_tree.build(work_dir, pythons)
        result = {"benchmark": "bwrap_start", "runtime": args.runtime, "count": args.count,
                  "sdk_as_one_tree": measure(program, runtime, work_dir, tree, args.count) if tree else None,
                  "sdk_entry_by_entry": measure(program, runtime, work_dir, None, args.count),
                  "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
