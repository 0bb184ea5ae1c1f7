"""CPU per invocation of lamina's Python runtime loop alone, outside any sandbox: the
runtime process is started on a socketpair and fed events frame by frame, as the worker
does, with a trivial handler. Its CPU comes from /proc (kernel accounting). Prints JSON.

    .venv/bin/python bench/runtime_loop.py [-n 50000] [--trace-id] [--profile out.prof]

`--profile` runs the loop under cProfile inside the runtime (slower; for finding costs).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from lamina.sandbox.agent import wire
from lamina.sandbox.runtimes.catalog import PYTHON_RUNTIME_DIR

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def _event(request_id: str, trace_id: str) -> bytes:
    deadline = str(int(time.time() * 1000) + 30_000).encode()
    arn = b"arn:aws:lambda:us-east-1:000000000000:function:bench"
    fields = (request_id.encode(), deadline, arn, trace_id.encode(), b"", b"", b"application/json", b"", b"{}")
    return wire.encode(wire.R_EVENT, *fields)


def run(count: int, trace: bool, profile: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as task:
        (Path(task) / "app.py").write_text(HANDLER)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {"_LAMINA_RUNTIME_FD": str(theirs.fileno()), "_LAMINA_WIRE": wire.__file__, "_HANDLER": "app.handler",
               "LAMBDA_TASK_ROOT": task, "PATH": os.environ.get("PATH", "/usr/bin"), "HOME": task}
        argv = [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                "import cProfile, lamina_runtime.loop as l; "
                "(cProfile.run('l.main()', sys.argv[2]) if sys.argv[2] else l.main())",
                str(PYTHON_RUNTIME_DIR), profile or ""]
        runtime = subprocess.Popen(argv, env=env, pass_fds=(theirs.fileno(),), cwd=task,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()
        reader = wire.FrameReader()

        def reply() -> tuple[int, list[bytes]]:
            frames: list[tuple[int, list[bytes]]] = []
            while not frames:
                data = ours.recv(65536)
                if not data:
                    raise RuntimeError("the runtime exited")
                frames = reader.feed(data)
            return frames[0]

        kind, _ = reply()
        assert kind == wire.R_NEXT, kind
        trace_id = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1" if trace else ""
        events = [_event(str(uuid.uuid4()), trace_id) for _ in range(count + 1000)]
        for event in events[:1000]:
            ours.sendall(event)
            reply()
        before = _cpu_s(runtime.pid)
        started = time.perf_counter()
        for event in events[1000:]:
            ours.sendall(event)
            kind, _ = reply()
        elapsed = time.perf_counter() - started
        after = _cpu_s(runtime.pid)
        assert kind == wire.R_RESPONSE, kind
        ours.close()
        runtime.wait(30)
    return {"benchmark": "runtime_loop", "invocations": count, "trace_id": trace,
            "runtime_cpu_us": round((sum(after) - sum(before)) / count * 1e6, 1),
            "user_us": round((after[0] - before[0]) / count * 1e6, 1),
            "system_us": round((after[1] - before[1]) / count * 1e6, 1),
            "round_trip_us": round(elapsed / count * 1e6, 1), "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50000)
    parser.add_argument("--trace-id", action="store_true", help="send an X-Ray trace id with each event")
    parser.add_argument("--profile", help="write a cProfile of the runtime here")
    args = parser.parse_args()
    print(json.dumps(run(args.n, args.trace_id, args.profile)))


if __name__ == "__main__":
    main()
