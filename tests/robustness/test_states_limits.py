"""Issue 10, items 1, 2 and 5 (Step Functions): no execution takes the server down.

Through a real `lamina serve` and boto3: an endless loop ends FAILED at AWS's 25,000-event
history limit while another account keeps invoking a function and health keeps answering; a
100,000-item inline Map completes; a Standard execution under way survives kill -9; and the
inputs that used to be 500s (a lone surrogate, JSON nested 100,000 deep) get AWS's 400s.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from sfn_helpers import ROLE, create_machine, deploy, finished

from helpers import LaminaServer

OTHER_ACCOUNT = "111111111111"
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events (25000)."
# The loop: Pass -> Choice -> Pass ... with no way out.
ENDLESS = {"StartAt": "L", "States": {
    "L": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "D"}], "Default": "L"},
    "D": {"Type": "Succeed"}}}
# Loops `n` times, then succeeds: 4 events a round.
COUNTER = {"StartAt": "Add", "States": {
    "Add": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "to.$": "$.to"}, "Next": "Done?"},
    "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.to",
                                              "Next": "Done"}], "Default": "Add"},
    "Done": {"Type": "Succeed"}}}
ITEMS_100000 = json.dumps([0] * 100_000, separators=(",", ":"))  # 200,001 bytes: under the 256 KB limit
DEEP = "[" * 100_000 + "]" * 100_000
# "Did the server freeze?", not a timing claim: bench/states_limits.py measures latency.
FROZEN_SECONDS = 5


class Responsiveness:
    """Polls /_lamina/health (and, if given, invokes a function) from a thread until stopped."""

    def __init__(self, server: LaminaServer, invoke=None) -> None:
        self.server = server
        self.invoke = invoke
        self.health_latencies: list[float] = []
        self.invocations = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = requests.get(f"{self.server.endpoint}/_lamina/health", timeout=FROZEN_SECONDS)
                if answer.status_code != 200:
                    self.failures.append(f"health answered {answer.status_code}")
            except requests.RequestException as e:
                self.failures.append(f"health: {e}")
            self.health_latencies.append(time.monotonic() - started)
            if self.invoke is not None:
                try:
                    self.invoke()
                    self.invocations += 1
                except Exception as e:  # noqa: BLE001 - any failure is what this records
                    self.failures.append(f"invoke: {e}")
            time.sleep(0.05)

    @contextmanager
    def watching(self) -> Iterator[Responsiveness]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(FROZEN_SECONDS * 2)


def sync_client(server: LaminaServer):
    """StartSyncExecution's endpoint is `sync-<host>`; locally it is the same server."""
    return boto3.client("stepfunctions", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id="000000000000", aws_secret_access_key="secret",
                        config=BotoConfig(inject_host_prefix=False, retries={"max_attempts": 0},
                                          read_timeout=300, parameter_validation=False))


def last_events(sfn, execution_arn: str, count: int) -> list[dict[str, Any]]:
    return sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=count)["events"]


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


@pytest.fixture
def clean_log(lam: LaminaServer) -> Iterator[None]:
    """The server logs no traceback during the test."""
    start = lam.log_path.stat().st_size
    yield
    with open(lam.log_path, "rb") as log:
        log.seek(start)
        assert b"Traceback" not in log.read()


def test_an_endless_loop_fails_at_the_history_limit_while_another_account_invokes(lam, clean_log):
    functions = lam.client("lambda", account=OTHER_ACCOUNT)
    deploy(functions, "echo", "def handler(event, context):\n    return event\n")
    sfn = lam.client("stepfunctions")
    machine = create_machine(sfn, "endless", ENDLESS)

    watcher = Responsiveness(lam, lambda: functions.invoke(FunctionName="echo", Payload=b"{}"))
    with watcher.watching():
        started = time.monotonic()
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        assert time.monotonic() - started < FROZEN_SECONDS  # it runs in the background
        described = finished(sfn, execution, timeout=180)

    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED", "States.Runtime", HISTORY_LIMIT_CAUSE)
    final, before = last_events(sfn, execution, 2)
    assert (final["type"], final["id"], final["previousEventId"]) == ("ExecutionFailed", 25_000, 24_999)
    assert final["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": HISTORY_LIMIT_CAUSE}
    assert before["id"] == 24_999 and before["type"].startswith(("Pass", "Choice"))
    assert not watcher.failures, watcher.failures[:5]
    assert watcher.invocations > 0
    assert max(watcher.health_latencies) < FROZEN_SECONDS


def test_a_map_of_100000_items_completes_while_health_answers(lam, clean_log):
    sfn = sync_client(lam)
    machine = create_machine(sfn, "big-map", {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 0, "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}, type="EXPRESS")

    watcher = Responsiveness(lam)
    with watcher.watching():
        answer = sfn.start_sync_execution(stateMachineArn=machine, input=ITEMS_100000)

    assert answer["status"] == "SUCCEEDED", answer
    assert json.loads(answer["output"]) == [0] * 100_000
    assert not watcher.failures, watcher.failures[:5]
    assert max(watcher.health_latencies) < FROZEN_SECONDS


@pytest.fixture
def restartable(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    holder = {"server": server}
    yield holder
    holder["server"].stop()


def crash_and_restart(holder: dict[str, LaminaServer]) -> LaminaServer:
    old = holder["server"]
    old.stop(signal.SIGKILL)
    holder["server"] = LaminaServer(old.data_dir, port=old.port).start()
    return holder["server"]


def test_a_running_execution_survives_kill_9_and_finishes(restartable):
    sfn = restartable["server"].client("stepfunctions")
    machine = create_machine(sfn, "counter", COUNTER)
    execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 0, "to": 5000}')["executionArn"]
    deadline = time.monotonic() + 60
    while last_events(sfn, execution, 1)[0]["id"] < 2_000:  # well under way, far from the end
        assert time.monotonic() < deadline
        time.sleep(0.01)

    sfn = crash_and_restart(restartable).client("stepfunctions")
    described = finished(sfn, execution, timeout=120)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"n": 5000, "to": 5000})
    ids = [e["id"] for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
           for e in page["events"]]
    assert ids == list(range(1, 4 * 5000 + 4 + 1))  # every round once, nothing lost or repeated


def test_an_execution_exists_as_soon_as_start_execution_answers(restartable):
    sfn = restartable["server"].client("stepfunctions")
    machine = create_machine(sfn, "short-counter", COUNTER)
    execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 0, "to": 3000}')["executionArn"]

    sfn = crash_and_restart(restartable).client("stepfunctions")
    assert sfn.describe_execution(executionArn=execution)["status"] in ("RUNNING", "SUCCEEDED")
    described = finished(sfn, execution, timeout=120)
    assert (described["status"], json.loads(described["output"])["n"]) == ("SUCCEEDED", 3000)


def test_inputs_that_were_500s_get_aws_errors(lam, clean_log):
    sfn = lam.client("stepfunctions", validate=False)
    standard = create_machine(sfn, "plain", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    express = create_machine(sfn, "plain-express", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                             type="EXPRESS")

    status, code, message = error_of(lambda: sfn.start_execution(stateMachineArn=standard, input='"\\ud800"'))
    assert (status, code) == (400, "InvalidExecutionInput")
    assert message.startswith("Invalid State Machine Execution Input: ")
    for start in (lambda: sfn.start_execution(stateMachineArn=standard, input=DEEP),
                  lambda: sync_client(lam).start_sync_execution(stateMachineArn=express, input=DEEP)):
        status, code, message = error_of(start)
        assert (status, code) == (400, "InvalidExecutionInput")
        assert "nested deeper than" in message

    status, code, message = error_of(lambda: sfn.create_state_machine(name="deep", definition=DEEP, roleArn=ROLE))
    assert (status, code) == (400, "InvalidDefinition")
    assert "INVALID_JSON_DESCRIPTION" in message
    status, code, _ = error_of(lambda: sfn.update_state_machine(stateMachineArn=standard, definition=DEEP))
    assert (status, code) == (400, "InvalidDefinition")
    validated = sfn.validate_state_machine_definition(definition=DEEP)
    assert validated["result"] == "FAIL"
    assert [d["code"] for d in validated["diagnostics"]] == ["INVALID_JSON_DESCRIPTION"]

    status, code, _ = error_of(lambda: sfn.send_task_success(taskToken="t" * 40, output=DEEP))
    assert (status, code) == (400, "InvalidOutput")

    # Still serving.
    assert sfn.describe_state_machine(stateMachineArn=standard)["status"] == "ACTIVE"
