"""Instructions per request, counted by valgrind's callgrind: a figure the load of a shared
machine does not move (CPU times do). For each checkout (`--tree`, repeat) and target:

- `http_floor`: the HTTP server echoing (bench/http_floor.py);
- `front_door`: the HTTP server and App over a stub Invoke (bench/front_door_server.py),
  open, or checking signatures with `--keyed`;
- `server`: a whole `lamina serve` with a warm Python function (the server process only:
  environments are not traced).

The server starts with instrumentation off; after a warm-up, `callgrind_control` turns it on
for `--count` sequential Invokes with boto3's headers, then off, and the total is divided by
the count. Needs valgrind. Prints JSON; asserts nothing.

    .venv/bin/python bench/instructions.py --tree /work/base --tree . [--what front_door server] [--count 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import Lamina, free_port, post_many, tree_python, wait_for_port
from front_door import BODY, KEY_ID, PATH, SECRET, TRIVIAL, boto3_headers

BENCH = Path(__file__).resolve().parent
WARM_UP = 200


def _invoke(port: int, path: str, headers: dict[str, str], count: int) -> None:
    post_many(port, path, BODY, headers, count)


def count_instructions(tree: str, what: str, count: int, keyed: bool) -> float:
    keyed = keyed and what == "front_door"
    port, out_dir = free_port(), tempfile.mkdtemp(prefix="lamina-callgrind-")
    out = os.path.join(out_dir, "callgrind.out")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    env["PYTHONMALLOC"] = "malloc"  # valgrind sees each allocation, as it does in C programs
    if keyed:
        env["LAMINA_ACCESS_KEYS"] = f"{KEY_ID}:{SECRET}:000000000000"
    if what == "server":
        data_dir = os.path.join(out_dir, "data")
        program = ["-m", "lamina", "serve", "--port", str(port), "--data-dir", data_dir]
    else:
        program = [str(BENCH / ("http_floor.py" if what == "http_floor" else "front_door_server.py")), str(port)]
    process = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                                tree_python(tree), *program], cwd=tree, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=900)
        path = "/" if what == "http_floor" else PATH.format(name="warm" if what == "server" else "f")
        if what == "server":
            server = Lamina.__new__(Lamina)  # a client of the server started here
            server.port = port
            server.create_python_function("warm", TRIVIAL)
        headers = boto3_headers(port, path, KEY_ID, SECRET) if keyed else boto3_headers(port, path)
        _invoke(port, path, headers, WARM_UP)
        control = ["callgrind_control"]
        subprocess.run([*control, "-i", "on", str(process.pid)], check=True, capture_output=True)
        _invoke(port, path, headers, count)
        subprocess.run([*control, "-i", "off", str(process.pid)], check=True, capture_output=True)
        subprocess.run([*control, "-d", str(process.pid)], check=True, capture_output=True)
        with open(f"{out}.1") as dump:
            totals = re.search(r"^totals: (\d+)", dump.read(), re.MULTILINE)
        assert totals is not None, "callgrind wrote no totals"
        return int(totals.group(1)) / count
    finally:
        process.terminate()
        process.wait(120)
        shutil.rmtree(out_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", help="a checkout with a .venv (repeat; default: this one)")
    parser.add_argument("--what", nargs="+", choices=("http_floor", "front_door", "server"),
                        default=["http_floor", "front_door", "server"])
    parser.add_argument("--count", type=int, default=1000, help="requests counted per target")
    parser.add_argument("--keyed", action="store_true", help="the front door checks signatures (front_door only)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    trees = [str(Path(t).resolve()) for t in (args.tree or ["."])]
    results: dict = {"count": args.count, "keyed": args.keyed, "headers": "boto3", "instructions_per_request": {}}
    for what in args.what:
        results["instructions_per_request"][what] = {
            tree: round(count_instructions(tree, what, args.count, args.keyed)) for tree in trees}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
