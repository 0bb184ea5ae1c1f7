"""Helpers for event source mapping tests: functions that log the events they get, and
reading those events back through the CloudWatch Logs API, as a user would."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from helpers import create_python_function, make_zip

BROKER_ARN = "arn:aws:mq:us-east-1:000000000000:broker:lamina-test:b-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
MARKER = "EVENT "

# Logs every event it gets; `behaviour(event)` (source text) decides the result.
RECORDER = """import base64
import json
import time

def handler(event, context):
    print({marker!r} + json.dumps(event))
{body}
"""


def recorder(body: str = "    return {'ok': True}") -> bytes:
    return make_zip({"app.py": RECORDER.format(marker=MARKER, body=body)})


def deploy(client, name: str, body: str = "    return {'ok': True}", **extra) -> str:
    return create_python_function(client, name, zip_bytes=recorder(body), **extra)["FunctionArn"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def logged_events(lam, name: str) -> list[dict[str, Any]]:
    """Every event the function logged, oldest first."""
    logs = lam.client("logs")
    events: list[dict[str, Any]] = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{name}")
        for page in pages:
            for entry in page["events"]:
                message = entry["message"]
                if message.startswith(MARKER):
                    events.append((entry["timestamp"], json.loads(message[len(MARKER):])))
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event for _, event in sorted(events, key=lambda e: e[0])]


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_for_events(lam, name: str, count: int, timeout: float = 60,
                    records: Callable[[dict], list] = lambda e: e.get("Records", [])) -> list[dict[str, Any]]:
    """Wait until the function has logged at least `count` records; returns its events."""
    return wait_for(lambda: (lambda evs: evs if sum(len(records(e)) for e in evs) >= count else None)(
        logged_events(lam, name)), timeout, what=f"{count} records delivered to {name}")


def wait_for_state(client, uuid_: str, state: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: (lambda m: m if m["State"] == state else None)(
        client.get_event_source_mapping(UUID=uuid_)), timeout, what=f"mapping {uuid_} {state}")


def rabbitmq_url() -> str:
    return os.environ.get("LAMINA_TEST_RABBITMQ_URL", "amqp://127.0.0.1:5672")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
