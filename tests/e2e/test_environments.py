"""Execution environments: reuse, concurrency, and never outliving a change."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from helpers import create_python_function, make_zip

STATEFUL = """
import os, time
INIT_PID = os.getpid()
calls = 0
def handler(event, context):
    global calls
    calls += 1
    marker = '/tmp/marker'
    existed = os.path.exists(marker)
    open(marker, 'a').write('x')
    time.sleep(event.get('sleep', 0))
    return {'calls': calls, 'pid': INIT_PID, 'tmp_existed': existed, 'stream': context.log_stream_name}
"""


def call(client, name: str, event: dict | None = None) -> dict:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_warm_environment_keeps_globals_and_tmp(client):
    create_python_function(client, "state", zip_bytes=make_zip({"app.py": STATEFUL}))
    first, second, third = (call(client, "state") for _ in range(3))
    assert [first["calls"], second["calls"], third["calls"]] == [1, 2, 3]
    assert first["pid"] == second["pid"] == third["pid"]
    assert (first["tmp_existed"], second["tmp_existed"]) == (False, True)
    assert first["stream"] == third["stream"]


def test_concurrent_invocations_get_separate_environments(client, lam):
    create_python_function(client, "state", zip_bytes=make_zip({"app.py": STATEFUL}), Timeout=30)
    clients = [lam.client() for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: call(c, "state", {"sleep": 1.5}), clients))
    assert len({r["stream"] for r in results}) == 4
    assert all(r["calls"] == 1 for r in results)


def test_configuration_change_gets_a_fresh_environment(client):
    create_python_function(client, "state", zip_bytes=make_zip({"app.py": STATEFUL}))
    before = call(client, "state")
    client.update_function_configuration(FunctionName="state", Environment={"Variables": {"NEW": "value"}})
    client.get_waiter("function_updated_v2").wait(FunctionName="state", WaiterConfig={"Delay": 0.1})
    after = call(client, "state")
    assert after["calls"] == 1
    assert after["stream"] != before["stream"]


def test_code_change_gets_a_fresh_environment(client):
    create_python_function(client, "versioned", zip_bytes=make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    assert call(client, "versioned") == 1
    client.update_function_code(FunctionName="versioned", ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 2\n"}))
    client.get_waiter("function_updated_v2").wait(FunctionName="versioned", WaiterConfig={"Delay": 0.1})
    assert call(client, "versioned") == 2
