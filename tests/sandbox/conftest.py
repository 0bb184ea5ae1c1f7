"""Fixtures driving a real EnvironmentPool: real bubblewrap sandboxes, real processes.

Tests are synchronous; `Harness` owns an event loop and runs the pool's coroutines on it,
so the pool's background work (spares, reaping, log draining) runs while a test awaits.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lamina.sandbox import EnvironmentPool, EnvironmentSpec, InvokeRequest, InvokeResult
from lamina.sandbox.isolation import bwrap_problem
from lamina.sandbox.runtimes import catalog
from lamina.sandbox.runtimes.detect import detect_runtimes

FIXTURES = Path(__file__).parent / "fixtures"
NODEJS_STANDIN = FIXTURES / "nodejs"
NODEJS_REAL = catalog.NODEJS_RUNTIME_DIR
INSTALLS = catalog.supported(detect_runtimes())
PYTHONS = sorted((r for r in INSTALLS if r.startswith("python")), key=lambda r: tuple(map(int, r[6:].split("."))))
NEWEST_PYTHON = PYTHONS[-1]
NODEJS = next((r for r in INSTALLS if r.startswith("nodejs")), None)
_BWRAP, BWRAP_PROBLEM = bwrap_problem()

requires_bwrap = pytest.mark.skipif(_BWRAP is None, reason=f"bubblewrap isolation unavailable: {BWRAP_PROBLEM}")


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


class Harness:
    def __init__(self, tmp: Path, **pool_options: Any) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        nodejs_dir = NODEJS_REAL if (NODEJS_REAL / "bootstrap.mjs").exists() else NODEJS_STANDIN
        options: dict[str, Any] = {"data_dir": tmp / "data", "runtimes": INSTALLS, "nodejs_runtime_dir": nodejs_dir}
        options.update(pool_options)
        self.pool = EnvironmentPool(**options)
        self.run(self.pool.start())

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def sleep(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds))

    def close(self) -> None:
        self.run(self.pool.close())
        self.loop.close()

    def function(self, files: dict[str, str], *, runtime: str = NEWEST_PYTHON, handler: str = "app.handler",
                 memory_mb: int = 256, timeout_s: int = 10, ephemeral_storage_mb: int = 512,
                 environment: dict[str, str] | None = None, layers: list[dict[str, str]] | None = None,
                 executable: tuple[str, ...] = ("bootstrap",), **spec_fields: Any) -> EnvironmentSpec:
        """A function whose code is `files` (name -> text, dedented)."""
        name = "fn-" + uuid.uuid4().hex[:8]
        code = self.tmp / name / "code"
        _write_tree(code, files, executable)
        layer_dirs = []
        for index, layer in enumerate(layers or []):
            layer_dir = self.tmp / name / f"layer{index}"
            _write_tree(layer_dir, layer, executable)
            layer_dirs.append(layer_dir)
        return EnvironmentSpec(
            key=f"{name}:1", account_id="000000000000", region="us-east-1", function_name=name,
            function_version="$LATEST", runtime=runtime, handler=handler, memory_mb=memory_mb, timeout_s=timeout_s,
            ephemeral_storage_mb=ephemeral_storage_mb, code_dir=code, environment=environment or {},
            layer_dirs=tuple(layer_dirs), **spec_fields)

    def invoke(self, spec: EnvironmentSpec, event: Any = None, *, payload: bytes | None = None,
               **request_fields: Any) -> InvokeResult:
        body = payload if payload is not None else json.dumps({} if event is None else event).encode()
        request = InvokeRequest(str(uuid.uuid4()), body, arn(spec.function_name), **request_fields)
        return self.run(self.pool.invoke(spec, request))

    def invoke_concurrently(self, spec: EnvironmentSpec, count: int, event: Any = None) -> list[InvokeResult]:
        async def all_at_once() -> list[InvokeResult]:
            requests = [InvokeRequest(str(uuid.uuid4()), json.dumps(event or {}).encode(), arn(spec.function_name))
                        for _ in range(count)]
            return list(await asyncio.gather(*(self.pool.invoke(spec, r) for r in requests)))

        return self.run(all_at_once())


def _write_tree(root: Path, files: dict[str, str], executable: tuple[str, ...]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        if path.name in executable:
            path.chmod(0o755)
    root.mkdir(parents=True, exist_ok=True)


def body(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def log_text(result: InvokeResult) -> list[str]:
    return [line.message for line in result.init_log + result.log]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One bwrap pool per test module."""
    if _BWRAP is None:
        pytest.skip(f"bubblewrap isolation unavailable: {BWRAP_PROBLEM}")
    harness = Harness(tmp_path_factory.mktemp("sandbox"), sandbox="bwrap")
    yield harness
    harness.close()


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[Any]:
    """A factory for pools with their own options, closed after the test."""
    harnesses: list[Harness] = []

    def make(**options: Any) -> Harness:
        harness = Harness(tmp_path / f"pool{len(harnesses)}", **options)
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        harness.close()


def which(program: str) -> str | None:
    return shutil.which(program)
