"""Synchronous Invoke through boto3: payloads, results, errors, headers and logs."""

from __future__ import annotations

import base64
import json
import time

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip


def deploy(client, name: str, source: str, **extra) -> None:
    create_python_function(client, name, zip_bytes=make_zip({"app.py": source}), **extra)


def invoke(client, name: str, payload: object = None, **extra) -> tuple[dict, object]:
    args = {"FunctionName": name, **extra}
    if payload is not None:
        args["Payload"] = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    response = client.invoke(**args)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


CONTEXT_SOURCE = """
import os, json
def handler(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "LAMBDA_", "_HANDLER", "TZ", "MY_"))},
    }
"""


def test_invoke_returns_the_handler_result_and_context(client):
    deploy(client, "ctx", CONTEXT_SOURCE, MemorySize=256, Timeout=7, Environment={"Variables": {"MY_SETTING": "on"}})
    response, body = invoke(client, "ctx", {"x": 1})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert body["event"] == {"x": 1}
    assert body["function_name"] == "ctx"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert body["log_group_name"] == "/aws/lambda/ctx"
    assert body["log_stream_name"].startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()))
    assert 0 < body["remaining"] <= 7000
    assert body["cwd"] == "/var/task"
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ctx"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["MY_SETTING"] == "on"
    assert env["AWS_LAMBDA_RUNTIME_API"]
    assert env["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")


def test_invoked_arn_keeps_the_qualifier(client):
    deploy(client, "ctx", CONTEXT_SOURCE)
    _, body = invoke(client, "ctx", {}, Qualifier="$LATEST")
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:ctx:$LATEST"


def test_empty_payload_is_an_empty_object(client):
    deploy(client, "echo", "def handler(event, context):\n    return event\n")
    assert invoke(client, "echo")[1] == {}


def test_none_result_is_null(client):
    deploy(client, "nothing", "def handler(event, context):\n    pass\n")
    response, _ = invoke(client, "nothing")
    assert response["Payload"] is not None
    assert client.invoke(FunctionName="nothing")["Payload"].read() == b"null"


def test_non_json_payload_is_refused(client):
    deploy(client, "echo", "def handler(event, context):\n    return event\n")
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="echo", Payload=b"not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_request_payload_limit(client):
    deploy(client, "echo", "def handler(event, context):\n    return len(event)\n")
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="echo", Payload=json.dumps("x" * 6_291_456))
    # As AWS answers it (the front door refuses it from the request head).
    assert excinfo.value.response["Error"] == {
        "Code": "RequestEntityTooLargeException",
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert invoke(client, "echo", json.dumps("x" * 6_000_000))[1] == 6_000_000


def test_response_size_limit(client):
    deploy(client, "big", "def handler(event, context):\n    return 'x' * 7_000_000\n", MemorySize=512)
    response, body = invoke(client, "big")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_dry_run(client):
    deploy(client, "echo", "def handler(event, context):\n    raise SystemExit(3)\n")
    response = client.invoke(FunctionName="echo", InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_invoking_a_missing_function(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="ghost")


def test_invoking_a_pending_function_conflicts(client):
    create_python_function(client, "slow", wait=False)
    try:
        client.invoke(FunctionName="slow")
    except ClientError as e:  # only while still Pending
        assert e.response["Error"]["Code"] == "ResourceConflictException"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert "Pending" in e.response["Error"]["Message"]


def test_handler_exception_is_a_function_error(client):
    deploy(client, "boom", "def handler(event, context):\n    raise ValueError('bad input')\n")
    response, body = invoke(client, "boom")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input"
    assert any("raise ValueError" in line for line in body["stackTrace"])


@pytest.mark.parametrize("files, handler, error_type, fragment", [
    ({"app.py": "x = 1\n"}, "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing'"),
    ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
    ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app'"),
])
def test_init_errors(client, files, handler, error_type, fragment):
    create_python_function(client, "broken", zip_bytes=make_zip(files), Handler=handler)
    response, body = invoke(client, "broken")
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert fragment in body["errorMessage"]


def test_tail_log_has_platform_lines_and_output(client):
    deploy(client, "chatty", "def handler(event, context):\n    print('hello from the handler')\n    return 1\n")
    response = client.invoke(FunctionName="chatty", LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: $LATEST" in tail
    assert "hello from the handler" in tail
    assert f"END RequestId: {request_id}" in tail
    report = next(line for line in tail.splitlines() if line.startswith("REPORT"))
    assert f"REPORT RequestId: {request_id}\tDuration: " in report
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\tMax Memory Used: " in report
    assert "\tInit Duration: " in report  # the first invocation is a cold start
    warm = base64.b64decode(client.invoke(FunctionName="chatty", LogType="Tail")["LogResult"]).decode()
    assert "Init Duration" not in warm


def test_tail_is_at_most_4_kb(client):
    deploy(client, "loud", "def handler(event, context):\n    print('y' * 10000)\n")
    tail = base64.b64decode(client.invoke(FunctionName="loud", LogType="Tail")["LogResult"])
    assert len(tail) == 4096
    assert tail.decode().rstrip().splitlines()[-1].startswith("REPORT RequestId:")


def test_logs_are_stored_in_the_function_log_group(client, lam):
    deploy(client, "logged", "def handler(event, context):\n    print('stored line')\n")
    request_id = client.invoke(FunctionName="logged")["ResponseMetadata"]["RequestId"]
    logs = lam.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
    assert len(streams) == 1
    stream = streams[0]["logStreamName"]
    assert stream.startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()))
    assert len(stream.split("]")[1]) == 32
    messages = [e["message"] for e in logs.get_log_events(logGroupName="/aws/lambda/logged", logStreamName=stream,
                                                          startFromHead=True)["events"]]
    assert f"START RequestId: {request_id} Version: $LATEST\n" in messages
    assert "stored line\n" in messages
    assert any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages)
    assert messages.index("stored line\n") < messages.index(f"END RequestId: {request_id}\n")


def test_boto3_inside_a_function_reaches_lamina(client):
    source = ("import boto3\n"
              "def handler(event, context):\n"
              "    lam = boto3.client('lambda')\n"
              "    return sorted(f['FunctionName'] for f in lam.list_functions()['Functions'])\n")
    deploy(client, "introspect", source, Timeout=30)
    create_python_function(client, "neighbour")
    response, body = invoke(client, "introspect")
    assert "FunctionError" not in response, body
    assert body == ["introspect", "neighbour"]
