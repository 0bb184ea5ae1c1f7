"""DynamoDB Streams mappings end to end against a real DynamoDB Streams API (moto's
server): change records in Lambda's shape, in order, filtered on `dynamodb`."""

from __future__ import annotations

import json

from esm_helpers import deploy, unique, wait_for_events


def make_table(aws) -> tuple[str, str]:
    name = unique("table")
    dynamodb = aws.client("dynamodb")
    table = dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return name, table["TableDescription"]["LatestStreamArn"]


def test_changes_arrive_in_order_in_lambda_shape(client, lam, aws):
    name = "ddb-ok"
    deploy(client, name)
    table, stream_arn = make_table(aws)
    dynamodb = aws.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "2"}})
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    client.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name, StartingPosition="TRIM_HORIZON")
    events = wait_for_events(lam, name, 3)
    records = [r for e in events for r in e["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventSourceARN"] == stream_arn
    assert first["awsRegion"] == "us-east-1" and first["eventVersion"] and first["eventID"]
    change = first["dynamodb"]
    assert change["Keys"] == {"id": {"S": "a"}}
    assert change["NewImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(change["ApproximateCreationDateTime"], int | float)
    assert {"SequenceNumber", "SizeBytes"} <= set(change)
    assert records[1]["dynamodb"]["OldImage"] == {"id": {"S": "a"}, "n": {"N": "1"}}
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence_numbers == sorted(sequence_numbers)


def test_filter_on_new_image(client, lam, aws):
    name = "ddb-filter"
    deploy(client, name)
    table, stream_arn = make_table(aws)
    dynamodb = aws.client("dynamodb")
    for n, status in enumerate(["new", "done", "new", "done"]):
        dynamodb.put_item(TableName=table, Item={"id": {"S": str(n)}, "status": {"S": status}})
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["done"]}}}}
    client.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
                                       FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    events = wait_for_events(lam, name, 2)
    dynamodb.put_item(TableName=table, Item={"id": {"S": "9"}, "status": {"S": "done"}})
    events = wait_for_events(lam, name, 3)
    assert [r["dynamodb"]["Keys"]["id"]["S"] for e in events for r in e["Records"]] == ["1", "3", "9"]
