"""OS-only runtimes (provided.al2023, provided.al2) and Node.js: the function brings the
runtime loop and speaks the HTTP Runtime API. The proofs of fidelity are a shell bootstrap
using curl and the official awslambdaric package, unchanged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import NODEJS, Harness, body, log_text, which

SHELL_BOOTSTRAP = """
    #!/bin/sh
    set -eu
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    echo "cold start in $(pwd) as $(id -u)"
    while true; do
      HEADERS="$(mktemp)"
      EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
      REQUEST_ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
      echo "handling $REQUEST_ID"
      if [ "$EVENT" = '"fail"' ]; then
        curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -d '{"errorMessage":"asked to","errorType":"Shell.Failure"}' >/dev/null
      else
        curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\\"echo\\": $EVENT, \\"exec\\": \\"${AWS_EXECUTION_ENV:-unset}\\"}" >/dev/null
      fi
    done
"""


@pytest.mark.skipif(which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_shell_bootstrap_with_curl(sandbox: Harness, runtime: str) -> None:
    spec = sandbox.function({"bootstrap": SHELL_BOOTSTRAP}, runtime=runtime, handler="function.handler")
    first = sandbox.invoke(spec, {"n": 1})
    assert first.error_type is None, first.payload
    assert body(first) == {"echo": {"n": 1}, "exec": "unset"}  # AWS_EXECUTION_ENV is not set for provided.*
    assert log_text(first)[1] == "cold start in /var/task as 64000"
    assert [line.message for line in first.log] == [f"handling {line.message.split()[-1]}" for line in first.log]
    second = sandbox.invoke(spec, [1, 2, 3])
    assert body(second) == {"echo": [1, 2, 3], "exec": "unset"} and second.log_stream == first.log_stream
    failed = sandbox.invoke(spec, "fail")
    assert failed.error_type == "Shell.Failure"
    assert failed.payload == b'{"errorMessage":"asked to","errorType":"Shell.Failure"}'  # passed through as sent


def test_bootstrap_from_opt_when_the_code_has_none(sandbox: Harness) -> None:
    spec = sandbox.function({"README": "no bootstrap here"}, runtime="provided.al2023",
                            layers=[{"bootstrap": SHELL_BOOTSTRAP}])
    assert body(sandbox.invoke(spec, 5)) == {"echo": 5, "exec": "unset"}


def test_missing_bootstrap_is_an_invalid_entrypoint(sandbox: Harness) -> None:
    spec = sandbox.function({"README": "nothing to run"}, runtime="provided.al2023")
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    message = body(result)["errorMessage"]
    assert message.endswith("Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")
    assert message.startswith("RequestId: ")
    assert any("Phase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint" in m for m in log_text(result))


def test_bootstrap_that_is_not_executable_is_an_invalid_entrypoint(sandbox: Harness) -> None:
    spec = sandbox.function({"bootstrap": SHELL_BOOTSTRAP}, runtime="provided.al2023", executable=())
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    assert body(result)["errorMessage"].endswith("Error: fork/exec /var/task/bootstrap: permission denied")


def test_bootstrap_exiting_during_init(sandbox: Harness) -> None:
    spec = sandbox.function({"bootstrap": "#!/bin/sh\necho 'giving up'\nexit 3\n"}, runtime="provided.al2023")
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.ExitError"
    assert body(result)["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert log_text(result).count("giving up") == 2  # the init, then the suppressed init


@pytest.fixture(scope="module")
def awslambdaric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("awslambdaric")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                "--target", str(target), "awslambdaric==4.2.2"], capture_output=True, text=True,
                               timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"pip could not install awslambdaric: {installed.stderr.strip()[-300:]}")
    return target


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no /usr/bin/python3 for the bootstrap")
def test_official_awslambdaric_runs_unchanged(sandbox: Harness, awslambdaric_dir: Path) -> None:
    spec = sandbox.function({
        "bootstrap": "#!/bin/sh\nexec /usr/bin/python3 -m awslambdaric \"$_HANDLER\"\n",
        "app.py": """
            import logging, os
            logging.getLogger().setLevel(logging.INFO)
            def handler(event, context):
                logging.info("via awslambdaric")
                if event.get("fail"):
                    raise RuntimeError("broken on purpose")
                return {"got": event, "request_id": context.aws_request_id, "fn": context.function_name,
                        "memory": context.memory_limit_in_mb, "remaining": context.get_remaining_time_in_millis() > 0}
        """,
    }, runtime="provided.al2023", handler="app.handler")
    # pip's --target output is the zip's content, copied next to the function's code
    shutil.copytree(awslambdaric_dir, spec.code_dir, dirs_exist_ok=True)
    spec.code_dir.chmod(0o755)  # as extracted from a zip: readable by the sandbox user
    result = sandbox.invoke(spec, {"k": "v"})
    assert result.error_type is None, (result.payload, log_text(result))
    out = body(result)
    assert out["got"] == {"k": "v"} and out["fn"] == spec.function_name and out["memory"] == "256"
    assert out["remaining"] is True and len(out["request_id"]) == 36
    assert any(line.message.startswith("[INFO]") and line.message.endswith("via awslambdaric") for line in result.log)
    failed = sandbox.invoke(spec, {"fail": True})
    assert failed.error_type == "RuntimeError"
    error = body(failed)
    assert error["errorMessage"] == "broken on purpose" and error["errorType"] == "RuntimeError"
    assert error["stackTrace"]
    assert body(sandbox.invoke(spec, {"again": 1}))["got"] == {"again": 1}


@pytest.mark.skipif(NODEJS is None, reason="no Node.js on this machine")
def test_nodejs_runtime(sandbox: Harness) -> None:
    spec = sandbox.function({"index.mjs": """
        export const handler = async (event, context) => {
          console.log("from node");
          if (event.fail) throw new TypeError("bad input");
          return { event, id: context.awsRequestId, cwd: process.cwd(), node: process.version,
                   exec: process.env.AWS_EXECUTION_ENV, nodePath: process.env.NODE_PATH };
        };
    """}, runtime=NODEJS, handler="index.handler")
    result = sandbox.invoke(spec, {"a": 1})
    assert result.error_type is None, (result.payload, log_text(result))
    out = body(result)
    major = NODEJS.removeprefix("nodejs").removesuffix(".x")
    assert out["event"] == {"a": 1} and out["cwd"] == "/var/task" and out["node"].startswith(f"v{major}.")
    assert out["exec"] == f"AWS_Lambda_{NODEJS}"
    assert out["nodePath"] == (f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
                               "/var/runtime/node_modules:/var/runtime:/var/task")
    assert any("from node" in line.message for line in result.log)
    failed = sandbox.invoke(spec, {"fail": True})
    assert failed.error_type == "TypeError"
    assert body(failed)["errorMessage"] == "bad input" and "trace" in body(failed)
