"""Shared pieces of the benchmarks: a lamina server process, raw HTTP clients, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

ROLE = "arn:aws:iam::000000000000:role/bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def tree_python(tree: str | Path | None) -> str:
    """The interpreter of a checkout (its `.venv`, made by scripts/setup); None: this one."""
    return sys.executable if tree is None else str(Path(tree).resolve() / ".venv" / "bin" / "python")


class Lamina:
    """A `lamina serve` process; `tree` runs another checkout's lamina (e.g. the base commit's)."""

    def __init__(self, env: dict[str, str] | None = None, tree: str | Path | None = None) -> None:
        self.port = free_port()
        self.data_dir = tempfile.mkdtemp(prefix="lamina-bench-")
        self.env = {**os.environ, **(env or {})}
        self.tree = tree

    def __enter__(self) -> Lamina:
        self.log = open(os.path.join(self.data_dir, "server.log"), "wb")
        self.process = subprocess.Popen(
            [tree_python(self.tree), "-m", "lamina", "serve", "--port", str(self.port), "--data-dir", self.data_dir],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tree)
        wait_for_port(self.port)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "lambda"):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="000000000000", aws_secret_access_key="x",
                            config=BotoConfig(retries={"max_attempts": 0}, read_timeout=300))

    def create_python_function(self, name: str, source: str, **extra) -> None:
        client = self.client()
        extra.setdefault("Runtime", "python3.11")
        client.create_function(FunctionName=name, Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": zip_of({"app.py": source})}, **extra)
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})


def sequential_latencies(port: int, path: str, body: bytes, count: int) -> list[float]:
    """Latency of `count` POSTs one after another on one keep-alive connection, in µs."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        samples.append((time.perf_counter() - started) * 1e6)
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
    connection.close()
    return samples


def post_many(port: int, path: str, body: bytes, headers: dict[str, str], count: int) -> None:
    """`count` POSTs one after another on one keep-alive connection; any answer but 200 is an error."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for _ in range(count):
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
    connection.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"count": len(ordered), "p50": at(0.5), "p99": at(0.99), "p99.9": at(0.999),
            "mean": round(statistics.fmean(ordered), 1)}


async def _client_loop(port: int, request: bytes, deadline: float, counts: list[int], index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < deadline:
        writer.write(request)
        length = None
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length or 0)
        counts[index] += 1
    writer.close()


def throughput(port: int, path: str, body: bytes, clients: int, seconds: float,
               headers: dict[str, str] | None = None) -> dict[str, float]:
    """Completed requests per second with `clients` connections each sending back to back."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{extra}"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    counts = [0] * clients

    async def run() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client_loop(port, request, deadline, counts, i) for i in range(clients)))

    started = time.monotonic()
    asyncio.run(run())
    elapsed = time.monotonic() - started
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": sum(counts),
            "per_second": round(sum(counts) / elapsed, 1)}


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


BENCH_ARN = "arn:aws:lambda:us-east-1:000000000000:function:bench"


@contextlib.asynccontextmanager
async def pool_with_function(handler: str, runtime: str, sandbox: str = "auto") -> AsyncIterator[tuple[Any, Any]]:
    """A started EnvironmentPool (of the interpreter's lamina) and the spec of one function with
    `handler` as app.py; invoke it with BENCH_ARN. Closed on exit."""
    from lamina.sandbox import EnvironmentPool, EnvironmentSpec

    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text(handler)
        pool = EnvironmentPool(data_dir=Path(tmp) / "data", sandbox=sandbox, spares_per_runtime=0)
        await pool.start()
        spec = EnvironmentSpec(key="bench", account_id="000000000000", region="us-east-1", function_name="bench",
                               function_version="$LATEST", runtime=runtime, handler="app.handler", memory_mb=512,
                               timeout_s=30, ephemeral_storage_mb=512, code_dir=code)
        try:
            yield pool, spec
        finally:
            await pool.close()
