"""Asynchronous invocation through boto3: acceptance, retries, destinations, dead-letter
queues, expiry, throttles and crash recovery, against real SQS/SNS/EventBridge/S3 APIs
(moto's server)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from aws_endpoint import LocalAws
from helpers import LaminaServer, create_python_function, make_zip

RETRY_BASE = 0.5
OK = "def handler(event, context):\n    return {'echo': event}\n"
FAILS = "def handler(event, context):\n    raise ValueError('always fails: ' + str(event.get('n')))\n"


@pytest.fixture(scope="module")
def aws():
    endpoint = LocalAws().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def async_server(tmp_path_factory, aws):
    server = LaminaServer(tmp_path_factory.mktemp("async") / "data",
                          env={**aws.environment, "LAMINA_ASYNC_RETRY_BASE_SECONDS": str(RETRY_BASE)}).start()
    yield server
    server.stop()


@pytest.fixture
def lam(async_server):
    async_server.reset()
    return async_server


@pytest.fixture
def client(lam):
    return lam.client()


def deploy(client, name: str, source: str, **extra) -> str:
    return create_python_function(client, name, zip_bytes=make_zip({"app.py": source}), **extra)["FunctionArn"]


def fire(client, name: str, event: dict, **extra) -> str:
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event), **extra)
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    return response["ResponseMetadata"]["RequestId"]


def starts(lam, name: str, request_id: str | None = None) -> list[str]:
    logs = lam.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="START")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"] for e in events
            if e["message"].startswith("START ") and (request_id is None or request_id in e["message"])]


def test_event_is_accepted_then_run(client, lam, aws):
    url, queue_arn = aws.queue("success-records")
    arn = deploy(client, "ok", OK)
    client.put_function_event_invoke_config(FunctionName="ok", DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    request_id = fire(client, "ok", {"n": 1})
    [record] = aws.receive_json(url, 1)
    assert record["version"] == "1.0"
    assert record["requestContext"] == {"requestId": request_id, "functionArn": f"{arn}:$LATEST",
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1}}
    assert record["timestamp"].endswith("Z")
    assert len(starts(lam, "ok", request_id)) == 1


def test_function_errors_are_retried_with_lambda_spacing(client, lam, aws):
    url, queue_arn = aws.queue("failure-records")
    deploy(client, "fails", FAILS)
    client.put_function_event_invoke_config(FunctionName="fails",
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    sent = time.time()
    request_id = fire(client, "fails", {"n": 7})
    [record] = aws.receive_json(url, 1)
    elapsed = time.time() - sent
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "always fails: 7"
    assert len(starts(lam, "fails", request_id)) == 3
    # 1 x base before the first retry and 2 x base before the second.
    assert elapsed >= 3 * RETRY_BASE


def test_maximum_retry_attempts_zero(client, lam, aws):
    url, queue_arn = aws.queue("no-retries")
    deploy(client, "once", FAILS)
    client.put_function_event_invoke_config(FunctionName="once", MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    request_id = fire(client, "once", {"n": 1})
    [record] = aws.receive_json(url, 1)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(starts(lam, "once", request_id)) == 1


def test_dead_letter_queue_gets_the_original_event(client, aws):
    url, queue_arn = aws.queue("dead-letters")
    deploy(client, "dlq", FAILS, DeadLetterConfig={"TargetArn": queue_arn})
    client.put_function_event_invoke_config(FunctionName="dlq", MaximumRetryAttempts=1)
    request_id = fire(client, "dlq", {"n": 42})
    [message] = aws.receive(url, 1)
    assert json.loads(message["Body"]) == {"n": 42}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == request_id
    assert attributes["ErrorCode"]["DataType"] == "Number"
    assert "always fails: 42" in attributes["ErrorMessage"]["StringValue"]


def test_sns_destination(client, aws):
    url, queue_arn = aws.queue("sns-subscriber")
    sns = aws.client("sns")
    topic = sns.create_topic(Name="results")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    deploy(client, "to-sns", OK)
    client.put_function_event_invoke_config(FunctionName="to-sns", DestinationConfig={"OnSuccess": {"Destination": topic}})
    request_id = fire(client, "to-sns", {"n": 2})
    [record] = aws.receive_json(url, 1)
    assert record["requestContext"]["requestId"] == request_id


def test_eventbridge_destination(client, aws):
    url, queue_arn = aws.queue("bus-subscriber")
    events = aws.client("events")
    bus = events.create_event_bus(Name="results")["EventBusArn"]
    events.put_rule(Name="all", EventBusName="results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="all", EventBusName="results", Targets=[{"Id": "q", "Arn": queue_arn}])
    arn = deploy(client, "to-bus", FAILS)
    client.put_function_event_invoke_config(FunctionName="to-bus", MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": bus}})
    request_id = fire(client, "to-bus", {"n": 3})
    [envelope] = aws.receive_json(url, 1)
    assert envelope["source"] == "lambda"
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert f"{arn}:$LATEST" in envelope["resources"][0] or arn in envelope["resources"][0]
    assert envelope["detail"]["requestContext"]["requestId"] == request_id


def test_lambda_destination(client, lam):
    deploy(client, "recorder", "def handler(event, context):\n    print('RECORD ' + event['requestContext']['condition'])\n")
    deploy(client, "source", OK)
    target = "arn:aws:lambda:us-east-1:000000000000:function:recorder"
    client.put_function_event_invoke_config(FunctionName="source", DestinationConfig={"OnSuccess": {"Destination": target}})
    fire(client, "source", {"n": 4})
    logs = lam.client("logs")
    deadline = time.time() + 30
    found = []
    while time.time() < deadline and not found:
        try:
            found = logs.filter_log_events(logGroupName="/aws/lambda/recorder", filterPattern="RECORD")["events"]
        except logs.exceptions.ResourceNotFoundException:
            pass
        time.sleep(0.2)
    assert [e["message"].strip() for e in found] == ["RECORD Success"]


def test_s3_on_failure_destination(client, aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="failures")
    deploy(client, "to-s3", FAILS)
    client.put_function_event_invoke_config(FunctionName="to-s3", MaximumRetryAttempts=0,
                                            DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failures"}})
    request_id = fire(client, "to-s3", {"n": 5})
    deadline = time.time() + 30
    objects = []
    while time.time() < deadline and not objects:
        objects = s3.list_objects_v2(Bucket="failures").get("Contents", [])
        time.sleep(0.2)
    record = json.loads(s3.get_object(Bucket="failures", Key=objects[0]["Key"])["Body"].read())
    assert record["requestContext"]["requestId"] == request_id


def test_zero_reserved_concurrency_goes_straight_to_the_dead_letter_queue(client, lam, aws):
    url, queue_arn = aws.queue("throttled-dlq")
    deploy(client, "off", OK, DeadLetterConfig={"TargetArn": queue_arn})
    client.put_function_concurrency(FunctionName="off", ReservedConcurrentExecutions=0)
    fire(client, "off", {"n": 6})
    [message] = aws.receive(url, 1)
    assert json.loads(message["Body"]) == {"n": 6}
    assert starts(lam, "off") == []


def test_destination_delivery_failures_are_retried_and_counted(client, lam, aws):
    deploy(client, "lost", OK)
    missing_queue = "arn:aws:sqs:us-east-1:123456789012:does-not-exist-yet"
    client.put_function_event_invoke_config(FunctionName="lost",
                                            DestinationConfig={"OnSuccess": {"Destination": missing_queue}})
    fire(client, "lost", {"n": 8})
    deadline = time.time() + 30
    status = {}
    while time.time() < deadline:
        status = lamina_async(lam, "--function", "lost")["functions"].get("lost", {})
        if status.get("metrics", {}).get("DestinationDeliveryFailures", {}).get("sum", 0) >= 1:
            break
        time.sleep(0.5)
    assert status["deliveries_pending"] == 1
    # Once the queue exists the retried delivery goes through.
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="does-not-exist-yet")["QueueUrl"]
    sqs.get_queue_attributes(QueueUrl=url)
    records = aws.receive_json(url, 1, timeout=90)
    assert records and records[0]["responsePayload"] == {"echo": {"n": 8}}


def test_payload_limit_and_json(client):
    deploy(client, "ok", OK)
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="ok", InvocationType="Event", Payload=json.dumps("x" * 1_048_577))
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="ok", InvocationType="Event", Payload=b"not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="ghost", InvocationType="Event", Payload=b"{}")


def test_deprecated_invoke_async(client, lam):
    deploy(client, "old", OK)
    response = client.invoke_async(FunctionName="old", InvokeArgs=json.dumps({"n": 9}))
    assert response["Status"] == 202
    deadline = time.time() + 30
    while time.time() < deadline and not starts(lam, "old"):
        time.sleep(0.2)
    assert len(starts(lam, "old")) == 1


def test_event_invoke_config_api(client):
    arn = deploy(client, "cfg", OK)
    put = client.put_function_event_invoke_config(FunctionName="cfg", MaximumRetryAttempts=1,
                                                  MaximumEventAgeInSeconds=300)
    assert put["FunctionArn"] == f"{arn}:$LATEST"
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 300)
    updated = client.update_function_event_invoke_config(
        FunctionName="cfg", DestinationConfig={"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q"}})
    assert updated["MaximumRetryAttempts"] == 1
    assert updated["DestinationConfig"]["OnFailure"]["Destination"].endswith(":q")
    replaced = client.put_function_event_invoke_config(FunctionName="cfg", MaximumEventAgeInSeconds=120)
    assert "MaximumRetryAttempts" not in replaced
    listed = client.list_function_event_invoke_configs(FunctionName="cfg")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{arn}:$LATEST"]
    client.delete_function_event_invoke_config(FunctionName="cfg")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_event_invoke_config(FunctionName="cfg")


def test_event_invoke_config_validation(lam, client):
    deploy(client, "cfg", OK)
    raw = lam.client(validate=False)
    with pytest.raises(ClientError) as excinfo:
        raw.put_function_event_invoke_config(FunctionName="cfg", MaximumRetryAttempts=3)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        raw.put_function_event_invoke_config(FunctionName="cfg", MaximumEventAgeInSeconds=30)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(
            FunctionName="cfg", DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as excinfo:
        client.put_function_event_invoke_config(
            FunctionName="cfg", DestinationConfig={"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:q.fifo"}})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def lamina_async(lam, *args: str) -> dict:
    env = {"AWS_ACCESS_KEY_ID": "000000000000", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "lamina", "async", "--json", "--endpoint-url", lam.endpoint, *args],
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_lamina_async_shows_queued_retrying_and_failed(client, lam):
    deploy(client, "slowfail", "import time\ndef handler(event, context):\n    time.sleep(1)\n    raise ValueError('x')\n",
           Timeout=10)
    client.put_function_event_invoke_config(FunctionName="slowfail", MaximumRetryAttempts=1)
    for n in range(3):
        fire(client, "slowfail", {"n": n})
    status = lamina_async(lam, "--function", "slowfail")
    row = status["functions"]["slowfail"]
    # Each event is still owed (queued, running, waiting to retry) or, on a slow machine where
    # the CLI took seconds to start, already failed for good.
    assert row["queued"] + row["in_flight"] + row["retrying"] + len(status["recent_failures"]) == 3
    assert row["metrics"]["AsyncEventsReceived"]["sum"] == 3
    deadline = time.time() + 60
    while time.time() < deadline and len(status["recent_failures"]) < 3:
        time.sleep(0.5)
        status = lamina_async(lam, "--function", "slowfail")
    assert sorted(f["condition"] for f in status["recent_failures"]) == ["RetriesExhausted"] * 3
    assert status["functions"]["slowfail"]["metrics"]["AsyncEventsDropped"]["sum"] == 3
    text = subprocess.run([sys.executable, "-m", "lamina", "async", "--endpoint-url", lam.endpoint],
                          env={"AWS_ACCESS_KEY_ID": "000000000000", "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert "slowfail" in text and "RECENT FAILURES" in text


def test_maximum_event_age(client, aws):
    """An event older than MaximumEventAgeInSeconds is not run: it goes to the on-failure
    destination with EventAgeExceeded. Here it is throttled (reserved concurrency 1, held by a
    long invocation) until it is too old; this waits past the 60 s minimum age."""
    url, queue_arn = aws.queue("too-old")
    holder = "import time\ndef handler(event, context):\n    if event.get('hold'):\n        time.sleep(75)\n"
    deploy(client, "aging", holder, Timeout=90)
    client.put_function_concurrency(FunctionName="aging", ReservedConcurrentExecutions=1)
    client.put_function_event_invoke_config(FunctionName="aging", MaximumEventAgeInSeconds=60,
                                            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    fire(client, "aging", {"hold": True})
    time.sleep(1)
    waiting = fire(client, "aging", {"n": 1})
    [record] = aws.receive_json(url, 1, timeout=120)
    assert record["requestContext"]["requestId"] == waiting
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responseContext" not in record


def test_accepted_events_survive_a_crash(tmp_path, aws):
    url, queue_arn = aws.queue("crash-records")
    data_dir = tmp_path / "data"
    env = {**aws.environment, "LAMINA_ASYNC_RETRY_BASE_SECONDS": str(RETRY_BASE)}
    first = LaminaServer(data_dir, env=env).start()
    client = first.client()
    deploy(client, "durable", "import time\ndef handler(event, context):\n    time.sleep(0.3)\n    return event\n")
    client.put_function_event_invoke_config(FunctionName="durable",
                                            DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
    client.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=3)
    sent = {fire(client, "durable", {"n": n}) for n in range(20)}
    time.sleep(0.5)  # some are in flight, most still queued
    first.stop(signal.SIGKILL)
    second = LaminaServer(data_dir, env=env, port=first.port).start()
    try:
        delivered = {r["requestContext"]["requestId"] for r in aws.receive_json(url, 20, timeout=120)}
        deadline = time.time() + 60
        while delivered < sent and time.time() < deadline:
            delivered |= {r["requestContext"]["requestId"] for r in aws.receive_json(url, 1, timeout=5)}
        assert delivered >= sent
    finally:
        second.stop()


def test_events_received_counts_every_accepted_event_across_kill9(tmp_path):
    """AsyncEventsReceived is counted with the event itself: a kill -9 right after the 202s
    loses none of the count."""
    data_dir = tmp_path / "data"
    first = LaminaServer(data_dir).start()
    client = first.client()
    deploy(client, "counted", OK)
    accepted = sum(1 for n in range(200) if fire(client, "counted", {"n": n}))
    first.stop(signal.SIGKILL)  # well within the metrics' periodic flush
    second = LaminaServer(data_dir, port=first.port).start()
    try:
        row = lamina_async(second, "--function", "counted")["functions"]["counted"]
        assert row["metrics"]["AsyncEventsReceived"]["sum"] == accepted
    finally:
        second.stop()
