"""The CloudWatch Logs API over lamina's log store, through boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import json
import time

import pytest

from helpers import LaminaServer, create_python_function, make_zip


@pytest.fixture
def logs(lam):
    return lam.client("logs")


def test_groups_streams_and_events_round_trip(logs):
    logs.create_log_group(logGroupName="/app/one")
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/app/one")
    logs.create_log_stream(logGroupName="/app/one", logStreamName="s1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/one", logStreamName="s1",
                        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(5)])
    events = logs.get_log_events(logGroupName="/app/one", logStreamName="s1", startFromHead=True)
    assert [e["message"] for e in events["events"]] == [f"line {i}" for i in range(5)]
    groups = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/app/one"]
    streams = logs.describe_log_streams(logGroupName="/app/one")["logStreams"]
    assert streams[0]["logStreamName"] == "s1"
    assert streams[0]["firstEventTimestamp"] == now and streams[0]["lastEventTimestamp"] == now + 4


def test_get_log_events_tokens_page_forwards_and_backwards(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": now + i, "message": str(i)} for i in range(10)])
    newest = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3)
    assert [e["message"] for e in newest["events"]] == ["7", "8", "9"]
    older = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3, nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == ["4", "5", "6"]
    end = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=newest["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == newest["nextForwardToken"]
    # Reading forwards from the head until the token stops moving, as SDK tails do.
    everything, token = [], None
    while True:
        extra = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName="g", logStreamName="s", limit=4, **extra)
        everything += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert everything == [str(i) for i in range(10)]


def test_filter_log_events_patterns_and_pagination(logs):
    logs.create_log_group(logGroupName="g")
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="g", logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="g", logStreamName="a", logEvents=[
        {"timestamp": now, "message": "ERROR disk full"}, {"timestamp": now + 2, "message": "INFO ok"}])
    logs.put_log_events(logGroupName="g", logStreamName="b", logEvents=[
        {"timestamp": now + 1, "message": "WARN slow"}, {"timestamp": now + 3, "message": "ERROR timeout"}])

    def messages(**kw):
        return [e["message"] for e in logs.filter_log_events(logGroupName="g", **kw)["events"]]

    assert messages() == ["ERROR disk full", "WARN slow", "INFO ok", "ERROR timeout"]
    assert messages(filterPattern="ERROR") == ["ERROR disk full", "ERROR timeout"]
    assert messages(filterPattern="?WARN ?INFO") == ["WARN slow", "INFO ok"]
    assert messages(filterPattern="ERROR -disk") == ["ERROR timeout"]
    assert messages(filterPattern='"disk full"') == ["ERROR disk full"]
    assert messages(logStreamNames=["b"]) == ["WARN slow", "ERROR timeout"]
    assert messages(startTime=now + 2) == ["INFO ok", "ERROR timeout"]
    paged = [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName="g", PaginationConfig={"PageSize": 1}) for e in page["events"]]
    assert paged == ["ERROR disk full", "WARN slow", "INFO ok", "ERROR timeout"]


def test_missing_group_is_not_found(logs):
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName="nope", logStreamName="s")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="nope")


def test_cli_reads_logs(lam):
    client = lam.client("logs")
    client.create_log_group(logGroupName="cli")
    client.create_log_stream(logGroupName="cli", logStreamName="s")
    client.put_log_events(logGroupName="cli", logStreamName="s",
                          logEvents=[{"timestamp": int(time.time() * 1000), "message": "hello from cli"}])
    out = json.loads(lam.cli("logs", "filter-log-events", "--log-group-name", "cli").stdout)
    assert [e["message"] for e in out["events"]] == ["hello from cli"]


def test_function_logs_survive_a_restart(tmp_path):
    server = LaminaServer(tmp_path / "data").start()
    try:
        create_python_function(server.client(), "kept", zip_bytes=make_zip(
            {"app.py": "def handler(event, context):\n    print('kept line')\n"}))
        server.client().invoke(FunctionName="kept")
        logs = server.client("logs")
        before = logs.filter_log_events(logGroupName="/aws/lambda/kept")["events"]
        stream = before[0]["logStreamName"]
        head = logs.get_log_events(logGroupName="/aws/lambda/kept", logStreamName=stream, startFromHead=True)
    finally:
        server.stop()
    server.start()
    try:
        logs = server.client("logs")
        assert logs.filter_log_events(logGroupName="/aws/lambda/kept")["events"] == before
        assert "kept line\n" in [e["message"] for e in before]
        request_id = server.client().invoke(FunctionName="kept")["ResponseMetadata"]["RequestId"]
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/kept")["logStreams"]
        new_stream = next(s["logStreamName"] for s in streams if s["logStreamName"] != stream)
        # A token taken before the restart still reads on from where it was.
        again = logs.get_log_events(logGroupName="/aws/lambda/kept", logStreamName=stream,
                                    nextToken=head["nextForwardToken"])
        assert again["events"] == []
        after = logs.filter_log_events(logGroupName="/aws/lambda/kept")["events"]
        assert after[:len(before)] == before
        assert [e["logStreamName"] for e in after[len(before):]] == [new_stream] * (len(after) - len(before))
        assert any(e["message"].startswith(f"REPORT RequestId: {request_id}") for e in after[len(before):])
        assert len({e["eventId"] for e in after}) == len(after)
    finally:
        server.stop()


@pytest.mark.parametrize("token", ["f/99999999999999999999", "b/99999999999999999999", "f/²", "x/1"])
def test_get_log_events_refuses_tokens_it_never_gave(logs, token):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(logs.exceptions.InvalidParameterException) as excinfo:
        logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=token)
    assert excinfo.value.response["Error"]["Message"] == "The specified nextToken is invalid."


def test_filter_log_events_refuses_tokens_it_never_gave(logs):
    logs.create_log_group(logGroupName="g")
    huge = base64.urlsafe_b64encode(b"99999999999999999999").decode()
    for token in (f"{huge}.{huge}", "MQ==.", "not a token"):
        with pytest.raises(logs.exceptions.InvalidParameterException) as excinfo:
            logs.filter_log_events(logGroupName="g", nextToken=token)
        assert excinfo.value.response["Error"]["Message"] == "The specified nextToken is invalid."
