"""Optional load generator: wrk (`apt-get install -y wrk`), for bench use only, when the
asyncio client in common.py would saturate a core before the server does."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

SCRIPT = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(body: bytes) -> str:
    return '"' + "".join(f"\\{byte}" for byte in body) + '"'


def throughput(port: int, path: str, body: bytes, clients: int, seconds: float,
               threads: int = 2) -> dict[str, float]:
    """Same shape as common.throughput, plus wrk's error counts; non-2xx answers are not counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(SCRIPT.format(body=_lua_string(body)))
        script.flush()
        done = subprocess.run(
            ["wrk", "-t", str(min(threads, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=seconds + 60, check=True)
    out = done.stdout
    count, amount, unit = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out).groups()
    elapsed = float(amount) * {"ms": 1e-3, "s": 1.0, "m": 60.0}[unit]
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = sum(map(int, m.groups())) if (
        m := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)) else 0
    good = int(count) - non_2xx
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": good, "per_second": round(good / elapsed, 1),
            "non_2xx": non_2xx, "socket_errors": errors, "generator": "wrk"}
