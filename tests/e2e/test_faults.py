"""Faults are contained to their environment and reported as AWS reports them."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import create_python_function, make_zip


def deploy(client, name: str, source: str, **extra) -> None:
    create_python_function(client, name, zip_bytes=make_zip({"app.py": source}), **extra)


def invoke(client, name: str, event: dict | None = None) -> tuple[dict, dict]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    return response, json.loads(response["Payload"].read())


HEALTHY = "def handler(event, context):\n    return 'fine'\n"


def assert_still_serving(client) -> None:
    deploy(client, "bystander", HEALTHY)
    assert invoke(client, "bystander")[1] == "fine"


def test_timeout_is_reported_and_the_environment_discarded(client):
    source = "import time\ncount = 0\ndef handler(event, context):\n    global count\n    count += 1\n" \
             "    if event.get('hang'):\n        time.sleep(60)\n    return count\n"
    deploy(client, "sleepy", source, Timeout=1)
    assert invoke(client, "sleepy")[1] == 1
    response, body = invoke(client, "sleepy", {"hang": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert body["errorMessage"].startswith(f"RequestId: {response['ResponseMetadata']['RequestId']} Error:")
    assert invoke(client, "sleepy")[1] == 1, "a fresh environment runs init again"


def test_runtime_exit_mid_invoke(client):
    deploy(client, "quitter", "import os\ndef handler(event, context):\n    os._exit(3)\n")
    response, body = invoke(client, "quitter")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in body["errorMessage"]


def test_out_of_memory_is_killed_and_reported(client, lam):
    source = "def handler(event, context):\n    hog = bytearray(400 * 1024 * 1024)\n    return len(hog)\n"
    deploy(client, "hog", source, MemorySize=128, Timeout=30)
    response = client.invoke(FunctionName="hog", LogType="Tail")
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] in ("Runtime.OutOfMemory", "Runtime.ExitError")
    assert "signal: killed" in body["errorMessage"] or body["errorType"] == "Runtime.OutOfMemory"
    report = next(line for line in base64.b64decode(response["LogResult"]).decode().splitlines()
                  if line.startswith("REPORT"))
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 100 <= used <= 130
    assert_still_serving(client)


def test_failed_init_is_retried_inside_the_first_invoke(client):
    # /tmp survives the reset, so the second (suppressed) init succeeds within the same invoke.
    source = "import os\nif not os.path.exists('/tmp/second-try'):\n    open('/tmp/second-try', 'w').close()\n" \
             "    raise RuntimeError('first init fails')\ndef handler(event, context):\n    return 'recovered'\n"
    deploy(client, "flaky", source)
    response = client.invoke(FunctionName="flaky", LogType="Tail")
    assert json.loads(response["Payload"].read()) == "recovered"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "INIT_REPORT Init Duration:" in tail and "Phase: init\tStatus: error" in tail


def test_init_that_always_fails_returns_its_error(client):
    deploy(client, "doomed", "raise RuntimeError('never initialises')\ndef handler(event, context):\n    pass\n")
    for _ in range(2):
        response, body = invoke(client, "doomed")
        assert response["FunctionError"] == "Unhandled"
        assert body["errorType"] == "RuntimeError"
        assert body["errorMessage"] == "never initialises"


@pytest.mark.parametrize("name, source", [
    ("forkbomb", "import os\ndef handler(event, context):\n    while True:\n        try:\n            os.fork()\n"
                 "        except OSError:\n            pass\n"),
    ("flood", "import sys\ndef handler(event, context):\n    while True:\n        sys.stdout.write('z' * 65536 + '\\n')\n"),
    ("filltmp", "def handler(event, context):\n    f = open('/tmp/fill', 'wb')\n    try:\n        while True:\n"
                "            f.write(b'0' * (1 << 20))\n            f.flush()\n    except OSError as e:\n"
                "        return 'disk full: ' + str(e.errno)\n"),
    ("closer", "import os, socket\ndef handler(event, context):\n    for fd in range(3, 1024):\n        try:\n"
               "            os.close(fd)\n        except OSError:\n            pass\n    return 'closed'\n"),
])
def test_hostile_functions_affect_only_themselves(client, lam, name, source):
    # Filling a 512 MB /tmp takes seconds on a loaded machine; the others run until they time out.
    deploy(client, name, source, Timeout=30 if name == "filltmp" else 5, MemorySize=256)
    deploy(client, "bystander", HEALTHY)
    with ThreadPoolExecutor(2) as pool:
        hostile = pool.submit(invoke, lam.client(), name)
        for _ in range(5):
            assert invoke(client, "bystander")[1] == "fine"
        response, body = hostile.result(timeout=60)
    if name == "filltmp":
        assert body == "disk full: 28"
    else:
        assert response.get("FunctionError") == "Unhandled" or body == "closed"
    assert invoke(client, "bystander")[1] == "fine"


def test_tmp_holds_more_than_memory(client):
    """/tmp is disk-backed like Lambda's: a 128 MB function can keep 300 MB there."""
    source = ("import os\ndef handler(event, context):\n    with open('/tmp/big', 'wb') as f:\n"
              "        for _ in range(300):\n            f.write(b'x' * (1 << 20))\n"
              "    return os.path.getsize('/tmp/big') >> 20\n")
    deploy(client, "bigtmp", source, MemorySize=128, Timeout=60)
    response, body = invoke(client, "bigtmp")
    assert "FunctionError" not in response, body
    assert body == 300


def test_ephemeral_storage_size_is_the_limit(client):
    source = ("import shutil\ndef handler(event, context):\n    return shutil.disk_usage('/tmp').total >> 20\n")
    deploy(client, "sized", source, EphemeralStorage={"Size": 1024})
    total = invoke(client, "sized")[1]
    assert abs(total - 1024) <= 1024 * 0.05
