"""Faults are contained and reported as AWS does (spec §3, §4): the environment that failed
is discarded or reset, the server and other functions keep serving."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import Harness, body, log_text


def assert_still_serving(sandbox: Harness) -> None:
    other = sandbox.function({"app.py": "def handler(event, context):\n    return 'fine'\n"})
    assert body(sandbox.invoke(other)) == "fine"


def test_timeout(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import time
        def handler(event, context):
            print("before the long sleep")
            if event.get("sleep"):
                time.sleep(60)
            return "quick"
    """}, timeout_s=1)
    first = sandbox.invoke(spec)
    result = sandbox.invoke(spec, {"sleep": True})
    assert result.status == "timeout" and result.error_type == "Sandbox.Timedout"
    request_id = body(result)["errorMessage"].split()[1]
    assert result.payload == (b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ' + request_id.encode()
                              + b' Error: Task timed out after 1.00 seconds"}')
    lines = [line.message for line in result.log]
    assert lines[0] == "before the long sleep"
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} Task timed out after 1\.00 seconds",
                        lines[-1])
    assert result.duration_ms >= 1000
    # The environment was discarded: the next invocation gets a fresh one.
    after = sandbox.invoke(spec)
    assert body(after) == "quick" and after.log_stream != first.log_stream and after.init_duration_ms is not None


@pytest.mark.parametrize(("code", "message"), [
    ("import sys\n    sys.exit(1)", "Runtime exited with error: exit status 1"),
    ("import os\n    os._exit(0)", "Runtime exited without providing a reason"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)", "Runtime exited with error: signal: killed"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)", "Runtime exited with error: signal: segmentation fault"),
])
def test_runtime_exits_during_an_invocation(sandbox: Harness, code: str, message: str) -> None:
    spec = sandbox.function({"app.py": f"def handler(event, context):\n    print('about to go')\n    {code}\n"})
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.ExitError" and result.status == "error"
    request_id = body(result)["errorMessage"].split()[1]
    assert body(result) == {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: {message}"}
    assert [line.message for line in result.log] == ["about to go", f"RequestId: {request_id} Error: {message}",
                                                     "Runtime.ExitError"]
    after = sandbox.invoke(spec, {"n": 2})
    assert after.log_stream != result.log_stream  # reset: a new environment
    assert_still_serving(sandbox)


def test_out_of_memory(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        def handler(event, context):
            hog = []
            while True:
                hog.append(b"x" * (16 * 1024 * 1024))
    """}, memory_mb=128)
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.OutOfMemory"
    request_id = body(result)["errorMessage"].split()[1]
    assert body(result)["errorMessage"] == f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    assert 100 <= result.max_memory_used_mb <= 130
    assert_still_serving(sandbox)


def test_failed_init_is_retried_inside_the_first_invocation(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import os
        if not os.path.exists("/tmp/tried"):
            open("/tmp/tried", "w").close()
            raise RuntimeError("first init fails")
        def handler(event, context):
            return "second init worked"
    """})
    result = sandbox.invoke(spec)
    assert body(result) == "second init worked" and result.error_type is None
    assert result.init_duration_ms is None  # a suppressed init is not an Init Duration
    reports = [m for m in log_text(result) if m.startswith("INIT_REPORT")]
    assert re.fullmatch(r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: RuntimeError",
                        reports[0])
    assert re.fullmatch(r"INIT_REPORT Init Duration: [\d.]+ ms\tPhase: invoke", reports[1])
    assert any(m.startswith("[ERROR] RuntimeError: first init fails") for m in log_text(result))
    assert body(sandbox.invoke(spec)) == "second init worked"


def test_init_budget(fresh_sandbox: object) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", init_timeout_s=1, spares_per_runtime=0)  # type: ignore[operator]
    spec = harness.function({"app.py": """
        import time
        time.sleep(1.5)
        def handler(event, context):
            return "slow init done"
    """}, timeout_s=5)
    result = harness.invoke(spec)
    # The init ran out of its budget; the suppressed init inside the invocation may use the
    # function's timeout, and finishes.
    assert body(result) == "slow init done"
    reports = [m for m in log_text(result) if m.startswith("INIT_REPORT")]
    assert reports[0].endswith("\tPhase: init\tStatus: timeout\tError Type: Sandbox.Timedout")
    assert reports[1].endswith("\tPhase: invoke")
    assert result.duration_ms >= 1500  # charged to the invocation

    hopeless = harness.function({"app.py": "import time\ntime.sleep(30)\n"}, timeout_s=1)
    timed_out = harness.invoke(hopeless)
    assert timed_out.error_type == "Sandbox.Timedout" and timed_out.status == "timeout"
    assert body(timed_out)["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    assert log_text(timed_out)[-1].endswith("Task timed out after 1.00 seconds")


def test_fork_bomb_stays_inside_its_environment(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import os, subprocess, time
        def handler(event, context):
            subprocess.Popen(["/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb"])
            time.sleep(2)
            return "still here"
    """}, timeout_s=20)
    result = sandbox.invoke(spec)
    assert body(result) == "still here"
    assert any("Cannot fork" in line.message for line in result.log)
    # It was the pids limit that stopped it (read from the environment's cgroup, outside).
    (environment,) = sandbox.pool._idle[spec.key]
    pids = environment.cgroup.dirs["pids"]
    assert int((pids / "pids.events").read_text().split()[1]) > 0  # forks refused at the limit
    if (pids / "pids.peak").exists():  # Linux >= 6.1
        assert 100 < int((pids / "pids.peak").read_text()) <= 1024
    assert_still_serving(sandbox)
    sandbox.run(sandbox.pool.retire(spec.key))  # and killing the environment ends it all
    sandbox.sleep(0.5)
    assert_still_serving(sandbox)


def test_output_flood_is_capped(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import sys, threading
        line = "z" * 1023 + "\\n"
        def flood_forever():
            while True:
                sys.stdout.write(line)
        def handler(event, context):
            for _ in range(4096):  # 4 MiB
                sys.stdout.write(line)
            if event.get("forever"):
                threading.Thread(target=flood_forever, daemon=True).start()
            return "flooded"
    """}, timeout_s=30)
    result = sandbox.invoke(spec)
    assert body(result) == "flooded"
    assert sum(len(line.message) + 1 for line in result.log) <= 1024 * 1024 + 200
    assert result.log[-1].message.startswith("[lamina] ") and "bytes of log output dropped" in result.log[-1].message
    assert sandbox.invoke(spec, {"forever": True}).payload == b'"flooded"'
    for _ in range(3):  # still serving while its own thread floods on
        assert sandbox.invoke(spec).error_type is None
    assert_still_serving(sandbox)


def test_filling_tmp_hits_ephemeral_storage(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import errno
        def handler(event, context):
            written = 0
            chunk = b"t" * (1024 * 1024)
            try:
                with open("/tmp/fill", "wb") as f:
                    while True:
                        f.write(chunk)
                        f.flush()
                        written += len(chunk)
            except OSError as error:
                return {"errno": error.errno == errno.ENOSPC, "written_mb": written // (1024 * 1024)}
    """}, memory_mb=512, ephemeral_storage_mb=64)
    out = body(sandbox.invoke(spec))
    # ENOSPC once about EphemeralStorage is used (the disk-backed /tmp rounds its metadata up).
    assert out["errno"] is True and 60 <= out["written_mb"] <= 68
    assert_still_serving(sandbox)


def test_closing_the_runtime_api_socket(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import os
        def handler(event, context):
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                        os.close(int(fd))
                except OSError:
                    pass
            return "closed"
    """})
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.ExitError"
    assert body(result)["errorMessage"].endswith("Runtime exited with error: exit status 1")
    assert_still_serving(sandbox)


def test_http_runtime_dropping_its_connections(sandbox: Harness) -> None:
    """A runtime whose long poll gives up and reconnects still gets its event, once."""
    spec = sandbox.function({"bootstrap": """
        #!/bin/sh
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
        while true; do
          HEADERS="$(mktemp)"
          EVENT=$(curl -sS --max-time 0.3 -D "$HEADERS" "$API/invocation/next") || { echo "gave up"; continue; }
          ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
          curl -sS -X POST "$API/invocation/$ID/response" -d "$EVENT" >/dev/null
        done
    """}, runtime="provided.al2023")
    assert body(sandbox.invoke(spec, {"n": 1})) == {"n": 1}
    sandbox.sleep(1)  # several long polls abandoned meanwhile
    result = sandbox.invoke(spec, {"n": 2})
    assert body(result) == {"n": 2}
    assert "gave up" in [line.message for line in result.log]


def test_runtime_dying_between_invocations(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import os, threading
        def handler(event, context):
            if event.get("die"):
                threading.Timer(0.2, os._exit, (3,)).start()
            return json_ok
        json_ok = "ok"
    """})
    first = sandbox.invoke(spec, {"die": True})
    assert body(first) == "ok"
    sandbox.sleep(0.6)
    second = sandbox.invoke(spec)
    assert body(second) == "ok" and second.log_stream != first.log_stream


def test_payloads_at_the_limit_and_above(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        def handler(event, context):
            return "x" * event["size"]
    """})
    ok = sandbox.invoke(spec, {"size": 6291556 - 2})
    assert ok.error_type is None and len(ok.payload) == 6291556
    big = sandbox.invoke(spec, {"size": 6291556})
    assert big.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(big.payload)["errorType"] == "Function.ResponseSizeTooLarge"
    assert sandbox.invoke(spec, {"size": 1}).log_stream == big.log_stream  # no reset
