"""Many first invokes released at once, for the burst benchmarks (burst.py, cold_burst.py):
one client, one thread per invoke waiting at a gate, each invoke's outcome and when it came."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

T = TypeVar("T")


def burst_client(endpoint: str, count: int) -> Any:
    """A Lambda client that never retries and keeps `count` connections open."""
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="000000000000", aws_secret_access_key="x",
                        config=BotoConfig(retries={"total_max_attempts": 1}, read_timeout=300,
                                          max_pool_connections=count))


def invoke_once(client: Any, name: str, log_type: str | None = None) -> tuple[str, float, dict, dict | None]:
    """("ok" | "throttled" | "error", when it ended, details, the response when ok)."""
    extra = {"LogType": log_type} if log_type else {}
    try:
        response = client.invoke(FunctionName=name, Payload=b"{}", **extra)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        detail = {"code": code, "reason": error.response.get("Reason"),
                  "message": error.response["Error"].get("Message", "")[:200],
                  "retry_after": error.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after")}
        return ("throttled" if code == "TooManyRequestsException" else "error"), time.monotonic(), detail, None
    except Exception as error:  # noqa: BLE001 - every other outcome is counted as an error
        return "error", time.monotonic(), {"exception": repr(error)}, None
    body = response["Payload"].read()
    if response.get("FunctionError"):
        return "error", time.monotonic(), {"function_error": body.decode(errors="replace")[:300]}, None
    return "ok", time.monotonic(), {}, response


def released_together(count: int, one: Callable[[int], T]) -> tuple[float, list[T]]:
    """Run `one(0)` … `one(count - 1)` on their own threads, all let go at the same moment;
    returns that moment (time.monotonic) and their results in order."""
    gate = threading.Barrier(count + 1)

    def at_the_gate(index: int) -> T:
        gate.wait()
        return one(index)

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(at_the_gate, i) for i in range(count)]
        time.sleep(0.5)  # every thread is at the gate
        started = time.monotonic()
        gate.wait()
        return started, [future.result() for future in futures]
