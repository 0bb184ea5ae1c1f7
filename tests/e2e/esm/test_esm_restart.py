"""Mappings, their states and their stream checkpoints survive a restart of lamina."""

from __future__ import annotations

import signal

import pytest
from conftest import esm_environment
from esm_helpers import deploy, logged_events, unique, wait_for, wait_for_events, wait_for_state

from helpers import LaminaServer


@pytest.fixture
def restartable(tmp_path, aws):
    servers: list[LaminaServer] = []

    def start() -> LaminaServer:
        server = LaminaServer(tmp_path / "data", env=esm_environment(aws)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process and server.process.poll() is None:
            server.stop()


def test_sqs_mappings_resume_with_their_state(restartable, aws):
    lam = restartable()
    client = lam.client()
    deploy(client, "resumes")
    sqs = aws.client("sqs")
    # A long poll of the killed lamina may still take a message: it comes back after 5 s.
    url = sqs.create_queue(QueueName=unique("resume"), Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _, idle_arn = aws.queue(unique("idle"))
    enabled = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="resumes")["UUID"]
    disabled = client.create_event_source_mapping(EventSourceArn=idle_arn, FunctionName="resumes",
                                                  Enabled=False, BatchSize=3)["UUID"]
    wait_for_state(client, enabled, "Enabled")
    wait_for_state(client, disabled, "Disabled")
    aws.client("sqs").send_message(QueueUrl=url, MessageBody="before")
    wait_for_events(lam, "resumes", 1)
    lam.stop(signal.SIGKILL)

    aws.client("sqs").send_message(QueueUrl=url, MessageBody="while down")
    lam = restartable()
    client = lam.client()
    assert client.get_event_source_mapping(UUID=enabled)["State"] == "Enabled"
    again = client.get_event_source_mapping(UUID=disabled)
    assert (again["State"], again["BatchSize"]) == ("Disabled", 3)
    events = wait_for_events(lam, "resumes", 2)
    assert [r["body"] for e in events for r in e["Records"]] == ["before", "while down"]
    wait_for(lambda: aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
        == "0", what="queue drained")
    assert len(logged_events(lam, "resumes")) == 2


def test_stream_checkpoints_neither_skip_nor_replay(restartable, aws):
    import base64
    import json

    lam = restartable()
    client = lam.client()
    deploy(client, "checkpointed")
    stream = unique("restart")
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]

    def put(numbers: range) -> None:
        for n in numbers:
            kinesis.put_record(StreamName=stream, Data=json.dumps({"n": n}).encode(), PartitionKey="k")

    def delivered(server: LaminaServer) -> list[int]:
        return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                for e in logged_events(server, "checkpointed") for r in e["Records"]]

    put(range(5))
    uuid = client.create_event_source_mapping(EventSourceArn=arn, FunctionName="checkpointed",
                                              StartingPosition="LATEST", BatchSize=2)["UUID"]
    wait_for_state(client, uuid, "Enabled")
    # LATEST: what was there before the mapping is not read.
    put(range(5, 10))
    wait_for(lambda: delivered(lam) == list(range(5, 10)), what="records 5-9")
    lam.stop()

    put(range(10, 15))
    lam = restartable()
    wait_for(lambda: len(delivered(lam)) >= 10, what="records written while lamina was down")
    assert delivered(lam) == list(range(5, 15))
    put(range(15, 17))
    wait_for(lambda: len(delivered(lam)) >= 12, what="records after the restart")
    assert delivered(lam) == list(range(5, 17))
