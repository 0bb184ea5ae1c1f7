"""The AWS CLI's `aws stepfunctions` commands against lamina, unchanged."""

from __future__ import annotations

import json
import time

from sfn_helpers import ROLE

DEFINITION = {"StartAt": "Greet", "States": {"Greet": {
    "Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "End": True}}}


def cli_json(lam, *args: str) -> dict:
    return json.loads(lam.cli("stepfunctions", *args).stdout or "{}")


def test_aws_cli_smoke(lam, monkeypatch):
    created = cli_json(lam, "create-state-machine", "--name", "greeter", "--definition", json.dumps(DEFINITION),
                       "--role-arn", ROLE)
    arn = created["stateMachineArn"]
    assert arn.endswith(":stateMachine:greeter")
    assert [m["name"] for m in cli_json(lam, "list-state-machines")["stateMachines"]] == ["greeter"]

    execution = cli_json(lam, "start-execution", "--state-machine-arn", arn, "--name", "cli",
                         "--input", '{"who": "cli"}')["executionArn"]
    deadline = time.monotonic() + 60
    while (described := cli_json(lam, "describe-execution", "--execution-arn", execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert json.loads(described["output"]) == {"greeting": "hello cli"}
    events = cli_json(lam, "get-execution-history", "--execution-arn", execution)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "ExecutionSucceeded"]

    failed = lam.cli("stepfunctions", "describe-execution", "--execution-arn", execution + "x", check=False)
    assert failed.returncode != 0 and "ExecutionDoesNotExist" in failed.stderr

    express = cli_json(lam, "create-state-machine", "--name", "greeter-express", "--type", "EXPRESS",
                       "--definition", json.dumps(DEFINITION), "--role-arn", ROLE)["stateMachineArn"]
    # The CLI, like every botocore client, needs host prefix injection off for StartSyncExecution.
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    answered = cli_json(lam, "start-sync-execution", "--state-machine-arn", express, "--input", '{"who": "sync"}')
    assert answered["status"] == "SUCCEEDED"
    assert json.loads(answered["output"]) == {"greeting": "hello sync"}

    cli_json(lam, "delete-state-machine", "--state-machine-arn", arn)
    assert [m["name"] for m in cli_json(lam, "list-state-machines")["stateMachines"]] == ["greeter-express"]
