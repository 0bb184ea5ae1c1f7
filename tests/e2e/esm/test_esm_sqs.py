"""SQS event source mappings end to end: a real SQS API (moto's server), lamina polling
it, and what the function and the queue show afterwards."""

from __future__ import annotations

import json
from collections import defaultdict

from esm_helpers import deploy, logged_events, unique, wait_for, wait_for_events


def queue_counts(aws, url: str) -> tuple[int, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    values = attributes["Attributes"]
    return int(values["ApproximateNumberOfMessages"]), int(values["ApproximateNumberOfMessagesNotVisible"])


def wait_until_empty(aws, url: str, timeout: float = 60) -> None:
    wait_for(lambda: queue_counts(aws, url) == (0, 0), timeout, what=f"{url} drained")


def bodies(events: list[dict]) -> list[str]:
    return [r["body"] for e in events for r in e["Records"]]


def test_messages_are_delivered_in_lambda_shape_and_deleted(client, lam, aws):
    name = "sqs-ok"
    deploy(client, name)
    url, arn = aws.queue(unique("ok"))
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "blue"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    for n in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)

    events = wait_for_events(lam, name, 5)
    wait_until_empty(aws, url)
    assert sorted(bodies(events)) == sorted(["first"] + [json.dumps({"n": n}) for n in range(4)])
    first = next(r for e in events for r in e["Records"] if r["body"] == "first")
    assert set(first) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                          "eventSource", "eventSourceARN", "awsRegion"}
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == "us-east-1"
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["attributes"]["SentTimestamp"].isdigit()
    assert {"SenderId", "ApproximateFirstReceiveTimestamp"} <= set(first["attributes"])
    assert first["messageAttributes"]["color"] == {"stringValue": "blue", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert first["messageAttributes"]["blob"] == {"binaryValue": "AAE=", "stringListValues": [],
                                                  "binaryListValues": [], "dataType": "Binary"}
    # Every message was delivered exactly once.
    assert len(bodies(events)) == 5


def test_failed_batch_comes_back_after_visibility_timeout_then_goes_to_dlq(client, lam, aws):
    name = "sqs-fails"
    deploy(client, name, "    if any(r['body'] == 'poison' for r in event['Records']):\n"
                         "        raise ValueError('poison')\n    return {}")
    sqs = aws.client("sqs")
    dlq_url, dlq_arn = aws.queue(unique("dlq"))
    url = sqs.create_queue(QueueName=unique("fails"), Attributes={
        "VisibilityTimeout": "5",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)

    events = wait_for_events(lam, name, 2, timeout=90)
    counts = [r["attributes"]["ApproximateReceiveCount"] for e in events for r in e["Records"]]
    assert counts[:2] == ["1", "2"]  # redelivered by SQS, not deleted by lamina
    [dead] = aws.receive(dlq_url, 1, timeout=90)
    assert dead["Body"] == "poison"


def test_partial_batch_response_keeps_only_reported_messages(client, lam, aws):
    name = "sqs-partial"
    deploy(client, name, "    return {'batchItemFailures': [{'itemIdentifier': r['messageId']}\n"
                         "        for r in event['Records'] if r['body'].startswith('bad')\n"
                         "        and r['attributes']['ApproximateReceiveCount'] == '1']}")
    sqs = aws.client("sqs")
    # The visibility timeout outlasts the function's timeout (3 s), so Lambda keeps it.
    url = sqs.create_queue(QueueName=unique("partial"), Attributes={"VisibilityTimeout": "4"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in
                                                  enumerate(["good-1", "bad-1", "good-2", "bad-2"])])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
                                       FunctionResponseTypes=["ReportBatchItemFailures"])
    events = wait_for_events(lam, name, 6, timeout=60)
    wait_until_empty(aws, url)
    seen = defaultdict(list)
    for event in events:
        for record in event["Records"]:
            seen[record["body"]].append(record["attributes"]["ApproximateReceiveCount"])
    assert seen["good-1"] == ["1"] and seen["good-2"] == ["1"]
    assert seen["bad-1"] == ["1", "2"] and seen["bad-2"] == ["1", "2"]


def test_invalid_partial_response_fails_the_whole_batch(client, lam, aws):
    name = "sqs-bad-report"
    deploy(client, name, "    if event['Records'][0]['attributes']['ApproximateReceiveCount'] == '1':\n"
                         "        return {'batchItemFailures': [{'itemIdentifier': 'no-such-message'}]}\n"
                         "    return {'batchItemFailures': []}")
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=unique("badreport"), Attributes={"VisibilityTimeout": "4"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                       FunctionResponseTypes=["ReportBatchItemFailures"])
    events = wait_for_events(lam, name, 2)
    wait_until_empty(aws, url)
    assert [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in events] == ["1", "2"]


def test_filtered_out_messages_are_deleted_and_never_delivered(client, lam, aws):
    name = "sqs-filter"
    deploy(client, name)
    url, arn = aws.queue(unique("filter"))
    sqs = aws.client("sqs")
    for body in [json.dumps({"kind": "keep", "n": 1}), json.dumps({"kind": "drop", "n": 2}), "plain text",
                 json.dumps({"kind": "keep", "n": 3})]:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    wait_until_empty(aws, url)
    events = wait_for_events(lam, name, 2)
    assert sorted(json.loads(b)["n"] for b in bodies(events)) == [1, 3]
    assert len(bodies(logged_events(lam, name))) == 2


def test_fifo_order_per_message_group(client, lam, aws):
    name = "sqs-fifo"
    deploy(client, name)
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=unique("order") + ".fifo",
                           Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for n in range(12):
        for group in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{n}", MessageGroupId=group,
                             MessageDeduplicationId=f"{group}-{n}")
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5)
    events = wait_for_events(lam, name, 36)
    by_group = defaultdict(list)
    for record in (r for e in events for r in e["Records"]):
        assert record["attributes"]["MessageGroupId"] == record["body"][0]
        assert "SequenceNumber" in record["attributes"] and "MessageDeduplicationId" in record["attributes"]
        by_group[record["attributes"]["MessageGroupId"]].append(int(record["body"].split("-")[1]))
    assert dict(by_group) == {g: list(range(12)) for g in "abc"}


def test_several_batches_in_flight_up_to_maximum_concurrency(client, lam, aws):
    name = "sqs-concurrent"
    deploy(client, name, "    time.sleep(1.5)\n    return {}", Timeout=10)
    url, arn = aws.queue(unique("wide"))
    aws.client("sqs").send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": str(i)} for i in range(8)])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1,
                                       ScalingConfig={"MaximumConcurrency": 3})
    wait_for_events(lam, name, 8)
    wait_until_empty(aws, url)
    # Overlap is read from the function's own START/END log lines: at most 3 run at once,
    # and more than one did.
    logs = lam.client("logs")
    lines = sorted((e["timestamp"], e["message"]) for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{name}") for e in page["events"])
    running = peak = 0
    for _, message in lines:
        if message.startswith("START "):
            running += 1
            peak = max(peak, running)
        elif message.startswith("END "):
            running -= 1
    assert 1 < peak <= 3


def test_throttled_function_is_retried_not_failed(client, lam, aws):
    name = "sqs-throttled"
    deploy(client, name)
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    url, arn = aws.queue(unique("throttle"))
    aws.client("sqs").send_message(QueueUrl=url, MessageBody="later")
    uuid = client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    wait_for(lambda: client.get_event_source_mapping(UUID=uuid)["State"] == "Enabled", 30)
    assert logged_events(lam, name) == []  # nothing ran while throttled
    client.delete_function_concurrency(FunctionName=name)
    events = wait_for_events(lam, name, 1, timeout=60)
    assert bodies(events) == ["later"]
    wait_until_empty(aws, url)
