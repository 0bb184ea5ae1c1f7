"""The event source mapping API through boto3 and the AWS CLI: defaults per source,
validation, states and transitions, conflicts, listing."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from esm_helpers import deploy, unique, wait_for, wait_for_state

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def kinesis_stream(aws, name: str) -> str:
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def test_sqs_mapping_lifecycle_and_defaults(client, aws):
    function_arn = deploy(client, "api-sqs")
    _, queue_arn = aws.queue(unique("api"))
    created = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="api-sqs")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    assert created["FunctionArn"] == function_arn
    assert created["EventSourceArn"] == queue_arn
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["EventSourceMappingArn"] == (
        f"arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{created['UUID']}")
    assert isinstance(created["LastModified"], datetime)
    for stream_only in ("StartingPosition", "ParallelizationFactor", "MaximumRetryAttempts", "DestinationConfig"):
        assert stream_only not in created

    uuid = created["UUID"]
    enabled = wait_for_state(client, uuid, "Enabled")
    assert enabled["UUID"] == uuid

    # Disable: Disabling, then Disabled; update while transitioning is refused.
    disabling = client.update_event_source_mapping(UUID=uuid, Enabled=False, BatchSize=5)
    assert disabling["State"] == "Disabling"
    assert disabling["BatchSize"] == 5
    with pytest.raises(ClientError) as excinfo:
        client.update_event_source_mapping(UUID=uuid, BatchSize=6)
    assert error_code(excinfo) == "ResourceInUseException"
    wait_for_state(client, uuid, "Disabled")

    updating = client.update_event_source_mapping(UUID=uuid, BatchSize=7)
    assert updating["State"] == "Updating"
    assert wait_for_state(client, uuid, "Disabled")["BatchSize"] == 7

    assert client.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    wait_for_state(client, uuid, "Enabled")

    deleting = client.delete_event_source_mapping(UUID=uuid)
    assert deleting["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert deleting["State"] == "Deleting"

    def gone() -> bool:
        try:
            client.get_event_source_mapping(UUID=uuid)
        except client.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_for(gone, 30, what="mapping deleted")


def test_update_or_delete_while_creating_is_refused(client, aws):
    deploy(client, "busy")
    _, queue_arn = aws.queue(unique("busy"))
    uuid = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="busy")["UUID"]
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.delete_event_source_mapping(UUID=uuid)
    with pytest.raises(client.exceptions.ResourceInUseException):
        client.update_event_source_mapping(UUID=uuid, BatchSize=2)


def test_stream_mapping_echoes_stream_defaults(client, aws):
    deploy(client, "api-kinesis")
    stream_arn = kinesis_stream(aws, unique("api"))
    created = client.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="api-kinesis",
                                                 StartingPosition="LATEST", Enabled=False)
    assert created["State"] == "Creating"
    expected = {"BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
                "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": -1, "BisectBatchOnFunctionError": False,
                "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0, "FunctionResponseTypes": [],
                "DestinationConfig": {"OnFailure": {}}, "LastProcessingResult": "No records processed",
                "StateTransitionReason": "User action"}
    assert {k: created[k] for k in expected} == expected
    assert wait_for_state(client, created["UUID"], "Disabled")["State"] == "Disabled"


def test_qualified_function_arn_for_alias(client, aws):
    arn = deploy(client, "aliased", Publish=True).rsplit(":", 1)[0]
    client.create_alias(FunctionName="aliased", Name="live", FunctionVersion="1")
    _, queue_arn = aws.queue(unique("alias"))
    created = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="aliased:live")
    assert created["FunctionArn"] == f"{arn}:live"
    listed = client.list_event_source_mappings(FunctionName="aliased:live")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]


def test_same_source_and_function_twice_conflicts(client, aws):
    deploy(client, "twice")
    _, queue_arn = aws.queue(unique("twice"))
    first = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="twice")
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="twice")
    assert error_code(excinfo) == "ResourceConflictException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert first["UUID"] in excinfo.value.response["Error"]["Message"]


@pytest.mark.parametrize("source, extra, problem", [
    ("sqs", {"BatchSize": 11}, "Maximum batch window"),
    ("fifo", {"BatchSize": 11, "MaximumBatchingWindowInSeconds": 1}, "FIFO"),
    ("sqs", {"StartingPosition": "LATEST"}, "StartingPosition"),
    ("sqs", {"ParallelizationFactor": 2}, "ParallelizationFactor"),
    ("kinesis", {}, "StartingPosition"),
    ("kinesis", {"StartingPosition": "AT_TIMESTAMP"}, "StartingPositionTimestamp"),
    ("kinesis", {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30}, "MaximumRecordAgeInSeconds"),
    ("kinesis", {"StartingPosition": "LATEST", "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:000000000000:x"}}}, "OnSuccess"),
    ("sqs", {"FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}}, "Pattern"),
    ("sqs", {"FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"n": [i]}})} for i in range(6)]}},
     "limit"),
    ("sqs", {"ScalingConfig": {"MaximumConcurrency": 1}}, "aximumConcurrency"),
])
def test_invalid_parameters(lam, aws, source, extra, problem):
    client = lam.client(validate=False)  # lamina's own checks, not boto3's
    deploy(client, "invalid")
    if source == "kinesis":
        arn = kinesis_stream(aws, unique("invalid"))
    elif source == "fifo":
        arn = "arn:aws:sqs:us-east-1:000000000000:invalid.fifo"
    else:
        arn = "arn:aws:sqs:us-east-1:000000000000:invalid"
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(EventSourceArn=arn, FunctionName="invalid", **extra)
    assert error_code(excinfo) in ("InvalidParameterValueException", "ValidationException")
    assert problem in excinfo.value.response["Error"]["Message"]


def test_unknown_function_and_mapping(client):
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_event_source_mapping(EventSourceArn="arn:aws:sqs:us-east-1:000000000000:q", FunctionName="nope")
    for call in (client.get_event_source_mapping, client.delete_event_source_mapping):
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            call(UUID="00000000-0000-0000-0000-000000000000")


def test_list_filters_and_pages(client, aws):
    deploy(client, "lister-a")
    deploy(client, "lister-b")
    queues = [aws.queue(unique("list"))[1] for _ in range(3)]
    made = [client.create_event_source_mapping(EventSourceArn=q, FunctionName="lister-a")["UUID"] for q in queues]
    made.append(client.create_event_source_mapping(EventSourceArn=queues[0], FunctionName="lister-b")["UUID"])
    by_function = client.list_event_source_mappings(FunctionName="lister-a")["EventSourceMappings"]
    assert sorted(m["UUID"] for m in by_function) == sorted(made[:3])
    by_source = client.list_event_source_mappings(EventSourceArn=queues[0])["EventSourceMappings"]
    assert sorted(m["UUID"] for m in by_source) == sorted([made[0], made[3]])
    pages = client.get_paginator("list_event_source_mappings").paginate(PaginationConfig={"PageSize": 1})
    assert sorted(m["UUID"] for page in pages for m in page["EventSourceMappings"]) == sorted(made)


def test_filter_criteria_is_echoed_and_removed(client, aws):
    deploy(client, "filtered")
    _, queue_arn = aws.queue(unique("filter"))
    pattern = json.dumps({"body": {"kind": ["keep"]}})
    created = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="filtered",
                                                 FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert created["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    wait_for_state(client, created["UUID"], "Enabled")
    updated = client.update_event_source_mapping(UUID=created["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated


def test_cli_smoke(lam, aws):
    client = lam.client()
    deploy(client, "cli-esm")
    _, queue_arn = aws.queue(unique("cli"))
    created = json.loads(lam.cli("lambda", "create-event-source-mapping", "--function-name", "cli-esm",
                                 "--event-source-arn", queue_arn, "--batch-size", "5").stdout)
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    listed = json.loads(lam.cli("lambda", "list-event-source-mappings", "--function-name", "cli-esm").stdout)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]


def test_sqs_queue_is_checked_at_create(client, aws):
    deploy(client, "checked", Timeout=10)
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(EventSourceArn="arn:aws:sqs:us-east-1:123456789012:no-such-queue",
                                           FunctionName="checked")
    assert error_code(excinfo) == "InvalidParameterValueException"
    short = aws.client("sqs").create_queue(QueueName=unique("short"), Attributes={"VisibilityTimeout": "5"})
    arn = aws.client("sqs").get_queue_attributes(QueueUrl=short["QueueUrl"],
                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with pytest.raises(ClientError) as excinfo:
        client.create_event_source_mapping(EventSourceArn=arn, FunctionName="checked")
    assert excinfo.value.response["Error"]["Message"] == (
        "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds")


def test_tags_on_mappings(client, aws):
    deploy(client, "tagged")
    _, queue_arn = aws.queue(unique("tags"))
    created = client.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="tagged",
                                                 Tags={"team": "a"})
    arn = created["EventSourceMappingArn"]
    assert client.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    client.tag_resource(Resource=arn, Tags={"cost": "b"})
    client.untag_resource(Resource=arn, TagKeys=["team"])
    assert client.list_tags(Resource=arn)["Tags"] == {"cost": "b"}
    function_arn = client.get_function(FunctionName="tagged")["Configuration"]["FunctionArn"]
    assert client.list_tags(Resource=function_arn)["Tags"] == {}
