"""Invoking versions, aliases and layers, and concurrency limits, through boto3."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from helpers import LaminaServer, create_python_function, make_zip

VERSIONED = "import os\ndef handler(event, context):\n    return {'code': %d, 'memory': context.memory_limit_in_mb, " \
            "'version': context.function_version, 'arn': context.invoked_function_arn}\n"


def code(n: int) -> bytes:
    return make_zip({"app.py": VERSIONED % n})


def call(client, name: str, **extra) -> tuple[dict, dict]:
    response = client.invoke(FunctionName=name, **extra)
    return response, json.loads(response["Payload"].read())


@pytest.fixture
def three_versions(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    client.publish_version(FunctionName="fn")
    client.update_function_code(FunctionName="fn", ZipFile=code(2), Publish=True)
    client.update_function_configuration(FunctionName="fn", MemorySize=256)
    client.get_waiter("function_updated_v2").wait(FunctionName="fn", WaiterConfig={"Delay": 0.1})
    client.update_function_code(FunctionName="fn", ZipFile=code(3), Publish=True)
    return client


def test_invoking_a_version_runs_its_code_and_configuration(three_versions):
    client = three_versions
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn"
    for name, extra in (("fn:3", {}), (f"{arn}:3", {}), ("fn", {"Qualifier": "3"})):
        response, body = call(client, name, **extra)
        assert response["ExecutedVersion"] == "3"
        assert body == {"code": 3, "memory": "256", "version": "3", "arn": f"{arn}:3"}
    response, body = call(client, "fn:1")
    assert response["ExecutedVersion"] == "1" and body["code"] == 1 and body["memory"] == "128"
    response, body = call(client, "fn")
    assert response["ExecutedVersion"] == "$LATEST" and body["code"] == 3


def test_invoking_through_an_alias(three_versions):
    client = three_versions
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="2")
    response, body = call(client, "fn:live")
    assert response["ExecutedVersion"] == "2"
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"


def test_alias_weights_route_traffic_statistically(three_versions):
    client = three_versions
    client.create_alias(FunctionName="fn", Name="canary", FunctionVersion="1",
                        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    runs = 400
    executed = Counter(client.invoke(FunctionName="fn", Qualifier="canary")["ExecutedVersion"] for _ in range(runs))
    assert set(executed) == {"1", "2"}
    # Binomial(400, 0.3): mean 120, standard deviation 9.2; this window is more than 4 deviations wide.
    assert 80 <= executed["2"] <= 160, executed


def test_missing_version_is_not_found(three_versions):
    with pytest.raises(three_versions.exceptions.ResourceNotFoundException):
        three_versions.invoke(FunctionName="fn:9")


def test_layers_are_in_opt_in_order(client):
    first = client.publish_layer_version(LayerName="base", Content={"ZipFile": make_zip({
        "python/shared.py": "ORIGIN = 'base'\n", "python/only_base.py": "X = 1\n",
        "bin/greet": "#!/bin/sh\necho hello-from-layer\n"}, executable=("bin/greet",))})["LayerVersionArn"]
    second = client.publish_layer_version(LayerName="override", Content={"ZipFile": make_zip({
        "python/shared.py": "ORIGIN = 'override'\n"})})["LayerVersionArn"]
    source = ("import subprocess, shared, only_base\n"
              "def handler(event, context):\n"
              "    out = subprocess.run(['greet'], capture_output=True, text=True).stdout.strip()\n"
              "    return [shared.ORIGIN, only_base.X, out]\n")
    create_python_function(client, "layered", zip_bytes=make_zip({"app.py": source}), Layers=[first, second])
    assert call(client, "layered")[1] == ["override", 1, "hello-from-layer"]


def test_bootstrap_from_a_layer(client):
    bootstrap = ("#!/bin/sh\nwhile true; do\n"
                 "  h=$(mktemp); curl -sS -D $h http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next >/dev/null\n"
                 "  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' $h | tr -d '[:space:]' | cut -d: -f2)\n"
                 "  curl -sS -X POST http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$id/response "
                 "-d '\"from layer bootstrap\"' >/dev/null\ndone\n")
    layer = client.publish_layer_version(LayerName="runtime", Content={"ZipFile": make_zip(
        {"bootstrap": bootstrap}, executable=("bootstrap",))})["LayerVersionArn"]
    client.create_function(FunctionName="custom", Runtime="provided.al2023", Handler="x",
                           Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": make_zip({"README": "x"})},
                           Layers=[layer])
    client.get_waiter("function_active_v2").wait(FunctionName="custom", WaiterConfig={"Delay": 0.1})
    assert call(client, "custom")[1] == "from layer bootstrap"


def test_reserved_concurrency_zero_throttles_everything(client):
    create_python_function(client, "off", zip_bytes=code(1))
    client.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="off")
    error = excinfo.value.response
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["ResponseMetadata"]["HTTPHeaders"]["retry-after"]
    client.delete_function_concurrency(FunctionName="off")
    assert call(client, "off")[1]["code"] == 1


SLOW = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n"


def concurrent_outcomes(server: LaminaServer, name: str, count: int, sleep: float) -> Counter:
    barrier = threading.Barrier(count)

    def one(_: int) -> str:
        client = server.client()
        barrier.wait()
        try:
            client.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
            return "ok"
        except ClientError as e:
            return e.response.get("Reason", e.response["Error"]["Code"])

    with ThreadPoolExecutor(count) as pool:
        return Counter(pool.map(one, range(count)))


def test_reserved_concurrency_caps_concurrent_invocations(client, lam):
    create_python_function(client, "capped", zip_bytes=make_zip({"app.py": SLOW}), Timeout=30)
    client.put_function_concurrency(FunctionName="capped", ReservedConcurrentExecutions=2)
    outcomes = concurrent_outcomes(lam, "capped", 5, sleep=2)
    assert outcomes == Counter({"ok": 2, "ReservedFunctionConcurrentInvocationLimitExceeded": 3})


def test_account_limit_throttles_unreserved_functions(tmp_path):
    server = LaminaServer(tmp_path / "data", env={"LAMINA_CONCURRENCY_LIMIT": "3"}).start()
    try:
        client = server.client()
        create_python_function(client, "shared", zip_bytes=make_zip({"app.py": SLOW}), Timeout=30)
        settings = client.get_account_settings()["AccountLimit"]
        assert settings["ConcurrentExecutions"] == settings["UnreservedConcurrentExecutions"] == 3
        outcomes = concurrent_outcomes(server, "shared", 5, sleep=2)
        assert outcomes == Counter({"ok": 3, "ConcurrentInvocationLimitExceeded": 2})
        assert call(client, "shared")[1] == "done"
    finally:
        server.stop()
