"""Fixtures for the managed Node.js runtime tests.

`api` is a stand-in Runtime API; `start_runtime` writes a function's files into a
temporary task root and starts `node bootstrap.mjs` there with the environment the
sandbox gives it.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from node_runtime_harness import BOOTSTRAP, NODE, FakeRuntimeApi, RuntimeProcess, base_env


@pytest.fixture
def api() -> Iterator[FakeRuntimeApi]:
    server = FakeRuntimeApi()
    yield server
    server.close()


@pytest.fixture
def start_runtime(api: FakeRuntimeApi, tmp_path: Path) -> Iterator[Callable[..., RuntimeProcess]]:
    """`start_runtime({"index.js": "..."}, handler="index.handler", env={...})`."""
    if NODE is None:
        pytest.skip("node is not installed: the Node.js runtime cannot be tested")
    started: list[RuntimeProcess] = []
    counter = itertools.count()

    def start(
        files: dict[str, str], handler: str = "index.handler", env: dict[str, str] | None = None
    ) -> RuntimeProcess:
        task = tmp_path / f"task{next(counter)}"
        for name, text in files.items():
            path = task / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        task.mkdir(exist_ok=True)
        full_env = base_env(api, task, handler) | (env or {})
        proc = subprocess.Popen(
            [NODE, str(BOOTSTRAP)],
            cwd=task,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        runtime = RuntimeProcess(proc)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.stop()
