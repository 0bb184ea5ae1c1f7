"""Every runtime this machine offers, each through Invoke."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from helpers import ROLE, make_zip


def offered(lam) -> list[str]:
    return requests.get(f"{lam.endpoint}/_lamina/health", timeout=10).json()["runtimes"]


def create_and_invoke(client, name: str, runtime: str, handler: str, files: dict, executable=(), event=None,
                      **extra) -> tuple[dict, object]:
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": make_zip(files, executable)}, **extra)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {"n": 1}))
    return response, json.loads(response["Payload"].read())


def test_every_python_runtime(client, lam):
    pythons = [r for r in offered(lam) if r.startswith("python3.")]
    assert pythons
    source = "import sys, json\ndef handler(event, context):\n    return [sys.version_info[0], sys.version_info[1]]\n"
    for runtime in pythons:
        name = runtime.replace(".", "-")
        response, body = create_and_invoke(client, name, runtime, "app.handler", {"app.py": source})
        assert "FunctionError" not in response, body
        assert f"python{body[0]}.{body[1]}" == runtime


def test_python_handler_in_a_package_path(client):
    files = {"pkg/__init__.py": "", "pkg/mod.py": "def go(event, context):\n    return event['n'] + 1\n"}
    response, body = create_and_invoke(client, "nested", "python3.11", "pkg/mod.go", files)
    assert body == 2


def test_nodejs_runtime(client, lam):
    node = [r for r in offered(lam) if r.startswith("nodejs")]
    if not node:
        pytest.skip("no Node.js on this machine")
    source = ("exports.handler = async (event, context) => ({ n: event.n + 1, fn: context.functionName, "
              "mem: context.memoryLimitInMB, version: process.version });\n")
    response, body = create_and_invoke(client, "node", node[0], "index.handler", {"index.js": source})
    assert "FunctionError" not in response, body
    assert body["n"] == 2 and body["fn"] == "node" and body["mem"] == "128"
    assert node[0] == f"nodejs{body['version'].lstrip('v').split('.')[0]}.x"


def test_nodejs_error(client, lam):
    node = [r for r in offered(lam) if r.startswith("nodejs")]
    if not node:
        pytest.skip("no Node.js on this machine")
    source = "exports.handler = async () => { throw new TypeError('nope'); };\n"
    response, body = create_and_invoke(client, "node-err", node[0], "index.handler", {"index.js": source})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "nope"
    assert isinstance(body["trace"], list)


SHELL_BOOTSTRAP = """#!/bin/sh
set -eu
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  request_id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/${request_id}/response" \\
       -d "{\\"echo\\": ${event}, \\"handler\\": \\"${_HANDLER}\\"}" > /dev/null
done
"""


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_shell_bootstrap_with_curl(client, runtime):
    response, body = create_and_invoke(client, runtime.replace(".", "-"), runtime, "my.handler",
                                       {"bootstrap": SHELL_BOOTSTRAP}, executable=("bootstrap",), event={"k": "v"})
    assert "FunctionError" not in response, body
    assert body == {"echo": {"k": "v"}, "handler": "my.handler"}


def test_missing_bootstrap_is_an_invalid_entrypoint(client):
    response, body = create_and_invoke(client, "nobootstrap", "provided.al2023", "x", {"readme.txt": "no bootstrap"})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


def test_awslambdaric_runs_unchanged(client, tmp_path):
    target = tmp_path / "pkg"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target),
                    "awslambdaric==4.2.2"], check=True, timeout=600)
    files = {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    executable = tuple(name for name, p in ((str(p.relative_to(target)), p) for p in target.rglob("*"))
                       if p.is_file() and p.stat().st_mode & 0o111)
    files["app.py"] = "def handler(event, context):\n    return {'ric': True, 'id': context.aws_request_id, **event}\n"
    files["bootstrap"] = "#!/bin/sh\nexport PYTHONPATH=/var/task\nexec /usr/bin/python3 -m awslambdaric app.handler\n"
    response, body = create_and_invoke(client, "ric", "provided.al2023", "app.handler", files,
                                       executable=(*executable, "bootstrap"), Timeout=30)
    assert "FunctionError" not in response, body
    assert body == {"ric": True, "id": response["ResponseMetadata"]["RequestId"], "n": 1}
