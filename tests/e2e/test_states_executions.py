"""Step Functions executions through boto3 against real lamina functions: Lambda tasks and
their errors, callbacks by task token, Map and Parallel, Wait, child executions, Express
(StartSyncExecution), and the execution operations with their errors and pagination."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, EndpointConnectionError
from sfn_helpers import (
    assert_continuous,
    create_machine,
    deploy,
    executions_of,
    finished,
    function_arn,
    history,
    run,
    task_token_of,
    types,
    wait_for_event,
)

DOUBLE = "def handler(event, context):\n    return {'n': event['n'] * 2}\n"
FAILS = ("class OrderError(Exception):\n    pass\n\n"
         "def handler(event, context):\n    raise OrderError('bad order ' + str(event.get('id')))\n")
# Fails on a state's first attempt only: the attempt number comes in the event.
FLAKY = ("def handler(event, context):\n    if event['attempt'] == 0:\n"
         "        raise RuntimeError('first attempt fails')\n    return {'attempt': event['attempt']}\n")
ACCEPTS = "def handler(event, context):\n    return {'accepted': True}\n"

WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@pytest.fixture
def sfn(lam):
    return lam.client("stepfunctions")


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def lambda_task(function: str, **extra) -> dict:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload.$": "$"}, "OutputPath": "$.Payload", **extra}


def test_lambda_tasks_run_in_process_with_aws_history(sfn, client):
    deploy(client, "double", DOUBLE)
    definition = {"StartAt": "Seed", "States": {
        "Seed": {"Type": "Pass", "Result": {"n": 3}, "Next": "Optimized"},
        "Optimized": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "double", "Payload.$": "$"}, "ResultPath": "$.invoked",
                      "Next": "Unwrap"},
        "Unwrap": {"Type": "Pass", "InputPath": "$.invoked.Payload", "Next": "Bare"},
        "Bare": {"Type": "Task", "Resource": function_arn("double"), "End": True}}}
    arn = create_machine(sfn, "chain", definition)
    described = run(sfn, arn, {"ignored": True}, name="first")
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 12}
    assert described["executionArn"] == "arn:aws:states:us-east-1:000000000000:execution:chain:first"
    assert json.loads(described["input"]) == {"ignored": True}
    events = history(sfn, described["executionArn"])
    assert_continuous(events)
    assert types(events) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited",
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "PassStateEntered", "PassStateExited",
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
        "TaskStateExited", "ExecutionSucceeded"]
    scheduled = events[4]["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"], scheduled["region"]) == ("lambda", "invoke", "us-east-1")
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "double", "Payload": {"n": 3}}
    invoked = json.loads(events[6]["taskSucceededEventDetails"]["output"])
    assert invoked["StatusCode"] == 200 and invoked["ExecutedVersion"] == "$LATEST"
    assert invoked["Payload"] == {"n": 6}
    assert events[11]["lambdaFunctionScheduledEventDetails"]["resource"] == function_arn("double")
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == {"n": 12}


def test_function_errors_keep_their_type_for_retry_and_catch(sfn, client):
    deploy(client, "fails", FAILS)
    deploy(client, "flaky", FLAKY)
    definition = {"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "flaky", "Payload": {"attempt.$": "$$.State.RetryCount"}},
                  "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                  "ResultSelector": {"attempt.$": "$.Payload.attempt"}, "ResultPath": "$.flaky", "Next": "Order"},
        "Order": {"Type": "Task", "Resource": function_arn("fails"), "Parameters": {"id": 7},
                  "Catch": [{"ErrorEquals": ["OrderError"], "ResultPath": "$.caught", "Next": "Done"}],
                  "End": True},
        "Done": {"Type": "Succeed"}}}
    described = run(sfn, create_machine(sfn, "errors", definition))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["flaky"] == {"attempt": 1}
    assert output["caught"]["Error"] == "OrderError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "bad order 7"
    events = history(sfn, described["executionArn"])
    assert types(events).count("TaskScheduled") == 2  # the retry
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == ["RuntimeError"]

    uncaught = {"StartAt": "Order", "States": {"Order": {"Type": "Task", "Resource": function_arn("fails"),
                                                         "End": True}}}
    failed = run(sfn, create_machine(sfn, "uncaught", uncaught), {"id": 1})
    assert (failed["status"], failed["error"]) == ("FAILED", "OrderError")
    assert json.loads(failed["cause"])["errorType"] == "OrderError"


def test_a_task_timeout_does_not_wait_for_a_slow_function(sfn, client):
    deploy(client, "sleeps", "import time\ndef handler(event, context):\n    time.sleep(5)\n", Timeout=10)
    definition = {"StartAt": "T", "States": {"T": lambda_task("sleeps", TimeoutSeconds=1, End=True)}}
    execution = sfn.start_execution(stateMachineArn=create_machine(sfn, "impatient", definition))["executionArn"]
    described = finished(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    events = history(sfn, execution)
    # Had the execution waited for the function, the task would have succeeded (it returns null).
    assert "TaskTimedOut" in types(events) and "TaskSucceeded" not in types(events)


def test_a_missing_function_is_a_lambda_service_error(sfn):
    definition = {"StartAt": "T", "States": {"T": lambda_task("nobody", End=True)}}
    failed = run(sfn, create_machine(sfn, "missing", definition))
    assert (failed["status"], failed["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert "Service: AWSLambda; Status Code: 404" in failed["cause"]


def test_callback_with_task_token(sfn, client, raw_client, lam):
    deploy(client, "accepts", ACCEPTS)
    definition = {"StartAt": "Approve", "States": {"Approve": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "accepts", "Payload": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 600, "End": True}}}
    arn = create_machine(sfn, "approval", definition)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = task_token_of(sfn, execution)
    submitted = wait_for_event(sfn, execution, "TaskSubmitted")
    assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["Payload"] == {"accepted": True}
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=token, output="{not json")
    assert code(e.value) == "InvalidOutput"
    with pytest.raises(ClientError) as e:
        lam.client("stepfunctions", account="111111111111").send_task_success(taskToken=token, output="{}")
    assert code(e.value) == "TaskDoesNotExist"  # a token is only good in its own account
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": "yes"}))
    described = finished(sfn, execution)
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"approved": "yes"})
    assert types(history(sfn, execution))[-3:] == ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]

    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=token, output="{}")
    assert code(e.value) == "TaskDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.send_task_failure(taskToken="not-a-token")
    assert code(e.value) == "InvalidToken"


def test_a_function_answers_its_own_task_token(sfn, client):
    source = ("import boto3, json\n"
              "def handler(event, context):\n"
              "    sfn = boto3.client('stepfunctions')\n"
              "    sfn.send_task_success(taskToken=event['token'], output=json.dumps({'seen': event['n']}))\n"
              "    return 'answered'\n")
    deploy(client, "self-answering", source, Timeout=30)
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "self-answering", "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
        "End": True}}}
    described = run(sfn, create_machine(sfn, "self-answer", definition), {"n": 9})
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", {"seen": 9})


def test_callback_failure_and_heartbeat_timeout(sfn, client):
    deploy(client, "accepts", ACCEPTS)

    def machine(name: str, **extra) -> str:
        return create_machine(sfn, name, {"StartAt": "Wait", "States": {"Wait": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "accepts", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True, **extra}}})

    execution = sfn.start_execution(stateMachineArn=machine("refused"))["executionArn"]
    sfn.send_task_failure(taskToken=task_token_of(sfn, execution), error="Refused", cause="not today")
    described = finished(sfn, execution)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Refused", "not today")

    execution = sfn.start_execution(stateMachineArn=machine("silent", HeartbeatSeconds=1))["executionArn"]
    token = task_token_of(sfn, execution)
    described = finished(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.HeartbeatTimeout")
    timed_out = wait_for_event(sfn, execution, "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout"
    for send in (lambda: sfn.send_task_success(taskToken=token, output="{}"),
                 lambda: sfn.send_task_heartbeat(taskToken=token)):
        with pytest.raises(ClientError) as e:
            send()
        assert code(e.value) == "TaskTimedOut"


def test_map_and_parallel_over_lambda(sfn, client):
    deploy(client, "double", DOUBLE)
    definition = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Each", "States": {"Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ItemSelector": {"n.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "Double", "States": {"Double": lambda_task("double", End=True)}},
                "End": True}}},
            {"StartAt": "Count", "States": {"Count": {
                "Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($.items)"}, "End": True}}}]}}}
    described = run(sfn, create_machine(sfn, "fan", definition), {"items": [1, 2, 3, 4, 5]})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [[{"n": 2}, {"n": 4}, {"n": 6}, {"n": 8}, {"n": 10}], {"count": 5}]
    events = history(sfn, described["executionArn"])
    assert_continuous(events)
    assert types(events).count("MapIterationSucceeded") == 5
    assert types(events).count("TaskSucceeded") == 5
    assert "ParallelStateSucceeded" in types(events)


def test_wait_is_a_timer(sfn):
    definition = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Up"},
                                               "Up": {"Type": "Pass", "End": True}}}
    described = run(sfn, create_machine(sfn, "nap", definition), {"seconds": 1})
    assert described["status"] == "SUCCEEDED"
    events = {e["type"]: e for e in history(sfn, described["executionArn"])}
    slept = events["WaitStateExited"]["timestamp"] - events["WaitStateEntered"]["timestamp"]
    assert slept.total_seconds() >= 1


def test_start_is_idempotent_while_running(sfn):
    arn = create_machine(sfn, "waits", WAITING)
    first = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    assert (again["executionArn"], again["startDate"]) == (first["executionArn"], first["startDate"])
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 2}')
    assert code(e.value) == "ExecutionAlreadyExists"
    sfn.stop_execution(executionArn=first["executionArn"])
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    assert code(e.value) == "ExecutionAlreadyExists"  # closed: the name is taken


def test_start_checks_its_input(sfn):
    arn = create_machine(sfn, "inputs", WAITING)
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=arn, input="{oops")
    assert code(e.value) == "InvalidExecutionInput"
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=arn, name="white space")
    assert code(e.value) == "InvalidName"
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=arn.replace("inputs", "ghost"))
    assert code(e.value) == "StateMachineDoesNotExist"
    started = sfn.start_execution(stateMachineArn=arn)  # no name: a UUID; no input: {}
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert len(described["name"]) == 36 and described["input"] == "{}"


def test_stop_describe_and_list_executions(sfn):
    arn = create_machine(sfn, "many", WAITING)
    arns = [sfn.start_execution(stateMachineArn=arn, name=f"e{i}")["executionArn"] for i in range(4)]
    stopped = sfn.stop_execution(executionArn=arns[1], error="Operator", cause="no longer needed")
    described = sfn.describe_execution(executionArn=arns[1])
    assert (described["status"], described["stopDate"]) == ("ABORTED", stopped["stopDate"])
    assert (described["error"], described["cause"]) == ("Operator", "no longer needed")
    aborted = history(sfn, arns[1])[-1]
    assert aborted["type"] == "ExecutionAborted"
    assert aborted["executionAbortedEventDetails"] == {"error": "Operator", "cause": "no longer needed"}
    assert types(history(sfn, arns[1]))[-2] == "WaitStateAborted"

    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == ["e3", "e2", "e1", "e0"]  # most recent first
    assert {e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]} == {
        "e0", "e2", "e3"}
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="ABORTED")["executions"]] == [
        "e1"]
    page = sfn.list_executions(stateMachineArn=arn, maxResults=3)
    assert len(page["executions"]) == 3 and "nextToken" in page
    rest = sfn.list_executions(stateMachineArn=arn, maxResults=3, nextToken=page["nextToken"])
    assert [e["name"] for e in rest["executions"]] == ["e0"] and "nextToken" not in rest
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, PaginationConfig={"PageSize": 1})
    assert [e["name"] for p in pages for e in p["executions"]] == ["e3", "e2", "e1", "e0"]

    for execution in arns:
        sfn.stop_execution(executionArn=execution)
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []

    missing = arns[0].replace(":e0", ":nobody")
    for call in (lambda: sfn.describe_execution(executionArn=missing),
                 lambda: sfn.stop_execution(executionArn=missing),
                 lambda: sfn.get_execution_history(executionArn=missing),
                 lambda: sfn.describe_state_machine_for_execution(executionArn=missing)):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e.value) == "ExecutionDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.describe_execution(executionArn=arn)
    assert code(e.value) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.list_executions(stateMachineArn=arn.replace("many", "ghost"))
    assert code(e.value) == "StateMachineDoesNotExist"


def test_history_pages_reverses_and_leaves_out_data(sfn):
    chain = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(5)}}
    chain["States"]["S5"] = {"Type": "Pass", "End": True}
    described = run(sfn, create_machine(sfn, "long", chain), {"secret": 1})
    execution = described["executionArn"]
    everything = sfn.get_execution_history(executionArn=execution)["events"]
    assert len(everything) == 14
    assert_continuous(everything)
    paged = history(sfn, execution)
    assert paged == everything
    first = sfn.get_execution_history(executionArn=execution, maxResults=5)
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4, 5]
    backwards = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=5)
    assert [e["id"] for e in backwards["events"]] == [14, 13, 12, 11, 10]
    more = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=5,
                                     nextToken=backwards["nextToken"])
    assert [e["id"] for e in more["events"]] == [9, 8, 7, 6, 5]
    bare = sfn.get_execution_history(executionArn=execution, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert "input" in everything[0]["executionStartedEventDetails"]
    assert [e["type"] for e in bare] == [e["type"] for e in everything]


def test_running_executions_keep_their_revision(sfn):
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
                                             "P": {"Type": "Pass", "Result": "v1", "End": True}}}
    arn = create_machine(sfn, "revised", definition)
    old = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    definition["States"]["P"]["Result"] = "v2"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))
    new = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert finished(sfn, old)["output"] == '"v1"'
    assert finished(sfn, new)["output"] == '"v2"'
    assert '"v1"' in sfn.describe_state_machine_for_execution(executionArn=old)["definition"]
    for_new = sfn.describe_state_machine_for_execution(executionArn=new)
    assert '"v2"' in for_new["definition"]
    assert for_new["revisionId"] == sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]


def test_deleting_a_machine_stops_its_executions(sfn):
    arn = create_machine(sfn, "doomed", WAITING)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_child_executions(sfn, client):
    deploy(client, "double", DOUBLE)
    child = create_machine(sfn, "child", {"StartAt": "D", "States": {"D": lambda_task("double", End=True)}})
    failing = create_machine(sfn, "failing-child", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "ChildFailed", "Cause": "on purpose"}}})

    def parent(name: str, resource: str, machine: str) -> str:
        return create_machine(sfn, name, {"StartAt": "Start", "States": {"Start": {
            "Type": "Task", "Resource": resource, "End": True,
            "Parameters": {"StateMachineArn": machine, "Input": {"n.$": "$.n"}}}}})

    sync2 = run(sfn, parent("p-sync2", "arn:aws:states:::states:startExecution.sync:2", child), {"n": 4})
    assert sync2["status"] == "SUCCEEDED", sync2
    out = json.loads(sync2["output"])
    assert (out["Status"], out["Output"], out["Input"]) == ("SUCCEEDED", {"n": 8}, {"n": 4})
    assert out["ExecutionArn"].startswith("arn:aws:states:us-east-1:000000000000:execution:child:")
    assert finished(sfn, out["ExecutionArn"])["output"] == '{"n":8}'

    sync = json.loads(run(sfn, parent("p-sync", "arn:aws:states:::states:startExecution.sync", child),
                          {"n": 1})["output"])
    assert sync["Output"] == '{"n":2}'  # `.sync` gives the output as text

    started = json.loads(run(sfn, parent("p-start", "arn:aws:states:::states:startExecution", child),
                             {"n": 5})["output"])
    assert set(started) == {"ExecutionArn", "StartDate"}
    assert finished(sfn, started["ExecutionArn"])["output"] == '{"n":10}'

    failed = run(sfn, parent("p-fail", "arn:aws:states:::states:startExecution.sync:2", failing), {"n": 1})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.TaskFailed")
    assert json.loads(failed["cause"])["Error"] == "ChildFailed"


def test_stopping_a_parent_stops_the_child_it_waits_for(sfn):
    child = create_machine(sfn, "sleepy-child", WAITING)
    parent = create_machine(sfn, "waiting-parent", {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": child}}}})
    execution = sfn.start_execution(stateMachineArn=parent)["executionArn"]
    wait_for_event(sfn, execution, "TaskStarted")
    [running] = executions_of(sfn, child)
    sfn.stop_execution(executionArn=execution)
    assert finished(sfn, running["executionArn"])["status"] == "ABORTED"


def test_express_executions_and_start_sync_execution(sfn, client, lam):
    deploy(client, "double", DOUBLE)
    express = create_machine(sfn, "quick", {"StartAt": "D", "States": {"D": lambda_task("double", End=True)}},
                             type="EXPRESS")
    # botocore sends StartSyncExecution to the `sync-` host of the endpoint unless told not to.
    plain = lam.client("stepfunctions")
    with pytest.raises(EndpointConnectionError) as e:
        plain.start_sync_execution(stateMachineArn=express)
    assert "sync-127.0.0.1" in str(e.value)

    sync = boto3.client("stepfunctions", endpoint_url=lam.endpoint, region_name="us-east-1",
                        aws_access_key_id="000000000000", aws_secret_access_key="x",
                        config=BotoConfig(inject_host_prefix=False, retries={"max_attempts": 0}))
    answered = sync.start_sync_execution(stateMachineArn=express, name="s1", input='{"n": 21}')
    assert answered["status"] == "SUCCEEDED"
    assert json.loads(answered["output"]) == {"n": 42}
    assert answered["executionArn"].startswith("arn:aws:states:us-east-1:000000000000:express:quick:s1:")
    assert answered["stateMachineArn"] == express
    assert answered["stopDate"] >= answered["startDate"]
    assert answered["billingDetails"]["billedMemoryUsedInMB"] == 64
    assert answered["billingDetails"]["billedDurationInMilliseconds"] % 100 == 0
    assert json.loads(answered["input"]) == {"n": 21}

    failing = create_machine(sfn, "quick-fail", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "Nope", "Cause": "express failure"}}}, type="EXPRESS")
    failed = sync.start_sync_execution(stateMachineArn=failing)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Nope", "express failure")
    assert "output" not in failed

    standard = create_machine(sfn, "slow", WAITING)
    with pytest.raises(ClientError) as err:
        sync.start_sync_execution(stateMachineArn=standard)
    assert code(err.value) == "StateMachineTypeNotSupported"

    started = sfn.start_execution(stateMachineArn=express, input='{"n": 1}')
    assert ":express:quick:" in started["executionArn"]
    with pytest.raises(ClientError) as err:
        sfn.describe_execution(executionArn=started["executionArn"])
    assert code(err.value) == "InvalidArn"
    with pytest.raises(ClientError) as err:
        sfn.list_executions(stateMachineArn=express)
    assert code(err.value) == "StateMachineTypeNotSupported"
