"""`sandbox = process`: no namespaces, loudly; functions still run and report as usual."""

from __future__ import annotations

import logging

import pytest

from .conftest import NEWEST_PYTHON, Harness, body


def test_process_mode_runs_functions_and_warns(fresh_sandbox: object, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lamina.sandbox.pool"):
        harness: Harness = fresh_sandbox(sandbox="process", spares_per_runtime=0)  # type: ignore[operator]
    assert harness.pool.mode == "process"
    assert any("SANDBOX DISABLED" in record.getMessage() for record in caplog.records)
    spec = harness.function({"app.py": """
        import os, tempfile
        import boto3
        def handler(event, context):
            path = os.path.join(tempfile.gettempdir(), "kept")
            if event.get("write"):
                open(path, "w").write("yes")
            print("hello from process mode")
            return {"task": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(), "kept": os.path.exists(path),
                    "tmp_private": tempfile.gettempdir() != "/tmp", "name": context.function_name}
    """}, runtime=NEWEST_PYTHON)
    first = harness.invoke(spec, {"write": True})
    assert first.error_type is None, first.payload
    out = body(first)
    assert out["task"] == out["cwd"] == str(spec.code_dir)
    assert out["tmp_private"] is True and out["name"] == spec.function_name
    assert [line.message for line in first.log] == ["hello from process mode"]
    assert body(harness.invoke(spec))["kept"] is True
    failing = harness.function({"app.py": "def handler(event, context):\n    raise KeyError('k')\n"})
    assert harness.invoke(failing).error_type == "KeyError"
    timeout = harness.function({"app.py": "import time\ndef handler(e, c):\n    time.sleep(30)\n"}, timeout_s=1)
    assert harness.invoke(timeout).error_type == "Sandbox.Timedout"
