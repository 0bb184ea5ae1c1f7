"""Issue 10, item 3: a burst of first invocations is throttled, never failed.

A real `lamina serve` with `LAMINA_MAX_ENVIRONMENTS` set low, so that throttles certainly
come; boto3 as the client. Every invocation either succeeds or gets 429
TooManyRequestsException with a Reason of Lambda's and a Retry-After; and an SDK in its
standard retry mode gets through once an environment frees up.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from helpers import ROLE, LaminaServer, make_zip

SLEEPER = make_zip({"app.py": (
    "import time\n\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return {'ok': True}\n")})
BURST = 1000


def throttle_reasons() -> set[str]:
    shapes = Loader().load_service_model("lambda", "service-2")["shapes"]
    return set(shapes["ThrottleReason"]["enum"])


def server(tmp_path_factory: pytest.TempPathFactory, max_environments: int) -> LaminaServer:
    data = tmp_path_factory.mktemp(f"burst{max_environments}") / "data"
    return LaminaServer(data, env={"LAMINA_MAX_ENVIRONMENTS": str(max_environments)}).start()


def create(lam: LaminaServer, name: str) -> None:
    client = lam.client()
    client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler",
                           Code={"ZipFile": SLEEPER}, Timeout=30)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def classify(call) -> tuple[str, dict]:
    """("ok" | "throttled" | "other", details) of one invocation."""
    try:
        response = call()
    except ClientError as error:
        details = {"code": error.response["Error"]["Code"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
                   "reason": error.response.get("Reason"),
                   "retry_after": error.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after")}
        return ("throttled" if details["code"] == "TooManyRequestsException" else "other"), details
    except Exception as error:  # noqa: BLE001 - anything else is a failure the test reports
        return "other", {"exception": repr(error)}
    payload = response["Payload"].read()
    if response.get("FunctionError") or response["StatusCode"] != 200:
        return "other", {"function_error": response.get("FunctionError"), "payload": payload[:300]}
    return "ok", {}


def test_a_burst_of_first_invokes_only_succeeds_or_is_throttled(tmp_path_factory) -> None:
    lam = server(tmp_path_factory, max_environments=50)
    try:
        create(lam, "burst")
        client = boto3.client("lambda", endpoint_url=lam.endpoint, region_name="us-east-1",
                              aws_access_key_id="000000000000", aws_secret_access_key="secret",
                              config=BotoConfig(retries={"total_max_attempts": 1}, read_timeout=120,
                                                max_pool_connections=BURST))
        gate = threading.Barrier(BURST)

        def one(_: int) -> tuple[str, dict]:
            gate.wait()
            return classify(lambda: client.invoke(FunctionName="burst", Payload=b'{"sleep": 0.5}'))

        started = time.monotonic()
        with ThreadPoolExecutor(BURST) as pool:
            outcomes = list(pool.map(one, range(BURST)))
        elapsed = time.monotonic() - started

        kinds = Counter(kind for kind, _ in outcomes)
        others = [details for kind, details in outcomes if kind == "other"]
        assert not others, f"{len(others)} invocations neither succeeded nor were throttled: {others[:5]}"
        throttles = [details for kind, details in outcomes if kind == "throttled"]
        assert throttles, "more invocations than max_environments, yet none was throttled"
        assert kinds["ok"] >= 50, kinds
        reasons = throttle_reasons()
        for throttle in throttles:
            assert throttle["status"] == 429
            assert throttle["reason"] in reasons, throttle
            assert throttle["retry_after"] is not None and int(throttle["retry_after"]) >= 1, throttle
        assert elapsed < 60, f"the burst took {elapsed:.1f} s"
        assert requests.get(f"{lam.endpoint}/_lamina/health", timeout=5).status_code == 200
        log = lam.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "Sandbox.Failure" not in log
    finally:
        lam.stop()


def test_sdk_standard_retries_get_a_throttled_invoke_through(tmp_path_factory) -> None:
    lam = server(tmp_path_factory, max_environments=1)
    try:
        create(lam, "holder")
        create(lam, "waiter")
        once = lam.client()
        assert once.invoke(FunctionName="holder")["StatusCode"] == 200  # the one environment, now idle
        holding = ThreadPoolExecutor(1).submit(
            classify, lambda: once.invoke(FunctionName="holder", Payload=b'{"sleep": 4}'))
        time.sleep(0.5)  # the holder runs warm in the only environment there may be

        kind, details = classify(lambda: once.invoke(FunctionName="waiter"))
        assert kind == "throttled", details
        assert details["reason"] == "ConcurrentInvocationLimitExceeded" and details["retry_after"] == "1"

        retrying = boto3.client("lambda", endpoint_url=lam.endpoint, region_name="us-east-1",
                                aws_access_key_id="000000000000", aws_secret_access_key="secret",
                                config=BotoConfig(retries={"mode": "standard", "max_attempts": 10},
                                                  read_timeout=120))
        response = retrying.invoke(FunctionName="waiter")
        assert response["StatusCode"] == 200 and "FunctionError" not in response
        assert response["ResponseMetadata"]["RetryAttempts"] >= 1
        assert holding.result(timeout=60) == ("ok", {})
    finally:
        lam.stop()
