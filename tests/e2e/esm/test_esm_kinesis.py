"""Kinesis mappings end to end against a real Kinesis API (moto's server): shapes, order,
retries, bisect, partial batch responses, on-failure records, filtering, parallelization
and tumbling windows."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict

from esm_helpers import deploy, logged_events, unique, wait_for, wait_for_events


def make_stream(aws, shards: int = 1) -> tuple[str, str]:
    name = unique("stream")
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return name, kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def put(aws, stream: str, items: list[dict], key: str | None = None) -> list[str]:
    kinesis = aws.client("kinesis")
    return [kinesis.put_record(StreamName=stream, Data=json.dumps(item).encode(),
                               PartitionKey=key or str(item.get("key", "k")))["SequenceNumber"] for item in items]


def payloads(events: list[dict]) -> list[dict]:
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for e in events for r in e.get("Records", [])]


def test_records_arrive_in_order_in_lambda_shape(client, lam, aws):
    name = "kin-ok"
    deploy(client, name)
    stream, arn = make_stream(aws)
    sequences = put(aws, stream, [{"n": n} for n in range(12)])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                       BatchSize=5)
    events = wait_for_events(lam, name, 12)
    assert [p["n"] for p in payloads(events)] == list(range(12))
    assert all(len(e["Records"]) <= 5 for e in events)
    record = events[0]["Records"][0]
    assert set(record) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn",
                           "awsRegion", "eventSourceARN"}
    assert record["eventSource"] == "aws:kinesis" and record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0" and record["eventSourceARN"] == arn
    assert record["invokeIdentityArn"] == "arn:aws:iam::000000000000:role/lambda-role"
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert record["kinesis"]["sequenceNumber"] == sequences[0]
    assert record["kinesis"]["partitionKey"] == "k"
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert record["eventID"] == f"shardId-000000000000:{sequences[0]}"


def test_bisect_isolates_the_bad_record_and_reports_it_on_failure(client, lam, aws):
    name = "kin-bisect"
    deploy(client, name, "    if any(json.loads(base64.b64decode(r['kinesis']['data'])).get('bad') for r in event['Records']):\n"
                         "        raise ValueError('bad record')\n    return {}")
    stream, arn = make_stream(aws)
    url, queue_arn = aws.queue(unique("onfailure"))
    sequences = put(aws, stream, [{"n": n, "bad": n == 5} for n in range(8)])
    client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=8,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [record] = aws.receive_json(url, 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["version"] == "1.0"
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1 and info["shardId"] == "shardId-000000000000"
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequences[5]
    assert info["streamArn"] == arn
    # The failing batch was halved until the bad record was alone; it alone was retried
    # (once) and discarded, and the shard went on in order.
    events = wait_for_events(lam, name, 8 + 4 + 4 + 2 + 1 + 1 + 1 + 2)
    assert [[p["n"] for p in payloads([e])] for e in events] == [
        list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [5], [6, 7]]


def test_retries_without_bisect_block_the_shard_then_discard(client, lam, aws):
    name = "kin-retries"
    deploy(client, name, "    if any(json.loads(base64.b64decode(r['kinesis']['data']))['n'] == 0 for r in event['Records']):\n"
                         "        raise ValueError('first batch fails')\n    return {}")
    stream, arn = make_stream(aws)
    url, queue_arn = aws.queue(unique("retries"))
    put(aws, stream, [{"n": n} for n in range(4)])
    client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=2,
        MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [record] = aws.receive_json(url, 1)
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["KinesisBatchInfo"]["batchSize"] == 2
    events = wait_for_events(lam, name, 8)
    # The first batch ran three times before the shard moved on to the second.
    assert [[p["n"] for p in payloads([e])] for e in events] == [[0, 1]] * 3 + [[2, 3]]


def test_report_batch_item_failures_resumes_at_lowest_failed_sequence(client, lam, aws):
    name = "kin-partial"
    deploy(client, name, "    seen = [json.loads(base64.b64decode(r['kinesis']['data'])) for r in event['Records']]\n"
                         "    if len(event['Records']) == 6:\n"
                         "        return {'batchItemFailures': [{'itemIdentifier': r['kinesis']['sequenceNumber']}\n"
                         "            for r, p in zip(event['Records'], seen) if p['n'] in (4, 2)]}\n"
                         "    return {'batchItemFailures': []}")
    stream, arn = make_stream(aws)
    put(aws, stream, [{"n": n} for n in range(6)])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                       BatchSize=6, FunctionResponseTypes=["ReportBatchItemFailures"])
    events = wait_for_events(lam, name, 10)
    assert [[p["n"] for p in payloads([e])] for e in events] == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5]]


def test_filtering_on_data_skips_records(client, lam, aws):
    name = "kin-filter"
    deploy(client, name)
    stream, arn = make_stream(aws)
    put(aws, stream, [{"n": n, "type": "keep" if n % 2 else "skip"} for n in range(6)])
    client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"type": ["keep"]}})}]})
    events = wait_for_events(lam, name, 3)
    put(aws, stream, [{"n": 99, "type": "keep"}])
    events = wait_for_events(lam, name, 4)
    assert [p["n"] for p in payloads(events)] == [1, 3, 5, 99]


def test_parallelization_factor_keeps_order_per_partition_key(client, lam, aws):
    name = "kin-parallel"
    deploy(client, name, "    time.sleep(0.3)\n    return {}")
    stream, arn = make_stream(aws)
    items = [{"key": f"key-{k}", "n": n} for n in range(5) for k in range(4)]
    put(aws, stream, items)
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                       BatchSize=2, ParallelizationFactor=4)
    events = wait_for_events(lam, name, 20)
    by_key = defaultdict(list)
    for event in events:
        keys = {r["kinesis"]["partitionKey"] for r in event["Records"]}
        for payload in payloads([event]):
            by_key[payload["key"]].append(payload["n"])
        assert len(keys) >= 1
    assert dict(by_key) == {f"key-{k}": list(range(5)) for k in range(4)}


def test_tumbling_window_carries_state_to_a_final_invoke(client, lam, aws):
    name = "kin-window"
    deploy(client, name, "    total = event['state'].get('total', 0) + sum(\n"
                         "        json.loads(base64.b64decode(r['kinesis']['data']))['n'] for r in event['Records'])\n"
                         "    return {'state': {'total': total}}")
    stream, arn = make_stream(aws)
    put(aws, stream, [{"n": n} for n in range(1, 5)])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                       BatchSize=2, TumblingWindowInSeconds=2)
    finals = wait_for(lambda: [e for e in logged_events(lam, name) if e.get("isFinalInvokeForWindow")], 60,
                      what="final invoke of the window")
    events = logged_events(lam, name)
    first = events[0]
    assert set(first) >= {"Records", "window", "state", "shardId", "eventSourceARN", "isFinalInvokeForWindow",
                          "isWindowTerminatedEarly"}
    assert first["state"] == {} and first["shardId"] == "shardId-000000000000" and first["eventSourceARN"] == arn
    assert first["window"]["start"] < first["window"]["end"]
    # State flows from one invocation to the next within the window; the final invoke sees the total.
    assert sum(f["state"].get("total", 0) for f in finals) == 10
    assert all(f["Records"] == [] for f in finals)


def test_at_timestamp_starts_at_the_timestamp(client, lam, aws):
    import time

    name = "kin-timestamp"
    deploy(client, name)
    stream, arn = make_stream(aws)
    put(aws, stream, [{"n": 0}])
    time.sleep(1.1)  # the SDK sends whole seconds: the next second starts after record 0
    start = time.time()
    put(aws, stream, [{"n": 1}, {"n": 2}])
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, StartingPosition="AT_TIMESTAMP",
                                       StartingPositionTimestamp=start)
    events = wait_for_events(lam, name, 2)
    assert [p["n"] for p in payloads(events)] == [1, 2]


def test_last_processing_result_reports_problems(client, lam, aws):
    name = "kin-status"
    deploy(client, name)
    stream, arn = make_stream(aws)
    uuid = client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              StartingPosition="TRIM_HORIZON")["UUID"]
    put(aws, stream, [{"n": 1}])
    wait_for_events(lam, name, 1)
    wait_for(lambda: client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK", what="OK")
    client.delete_function(FunctionName=name)
    put(aws, stream, [{"n": 2}])
    result = wait_for(lambda: (lambda r: r if r.startswith("PROBLEM") else None)(
        client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"]), what="a PROBLEM result")
    assert "Function not found" in result
    # The mapping outlives its function (as on AWS) and the record waits: a new function
    # of that name gets it (the log group keeps the first function's event too).
    deploy(client, name)
    events = wait_for_events(lam, name, 2)
    assert [p["n"] for p in payloads(events)] == [1, 2]


def test_missing_stream_is_reported_on_the_mapping_and_logged_once(client, lam, aws):
    name = "kin-missing"
    deploy(client, name)
    arn = f"arn:aws:kinesis:us-east-1:123456789012:stream/{unique('never-created')}"
    uuid = client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              StartingPosition="TRIM_HORIZON")["UUID"]
    result = wait_for(lambda: (lambda r: r if r.startswith("PROBLEM") else None)(
        client.get_event_source_mapping(UUID=uuid)["LastProcessingResult"]), what="a PROBLEM result")
    assert "Cannot access stream" in result
    time.sleep(7)  # without back-off, a retry every 2 s would log three more times
    assert lam.log_path.read_text().count(f"cannot list shards of {arn}") == 1
    client.delete_event_source_mapping(UUID=uuid)
