"""Pins what users read back about invocations: the lines GetLogEvents, FilterLogEvents,
DescribeLogStreams and `lamina logs` return for a fixed set of invocations (cold and warm,
with and without output, a function error, a timeout), their order, timestamps, tokens and
the REPORT fields. Timings are not injectable, so exact text is checked against the values
each invocation's own Tail reports, and timestamps by their relationships."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import subprocess
import sys

import pytest

from helpers import create_python_function, make_zip

GROUP = "/aws/lambda/pinned"
SOURCE = """\
import json, time

def handler(event, context):
    if event.get("quiet"):
        return {"stream": context.log_stream_name}
    print("stream=" + context.log_stream_name)
    print("line one")
    print("line two")
    if event.get("fail"):
        raise ValueError("it failed")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"stream": context.log_stream_name}
"""
REPORT = re.compile(r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
                    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: 256 MB\tMax Memory Used: (?P<used>\d+) MB\t"
                    r"(?:Init Duration: (?P<init>\d+\.\d\d) ms\t)?(?P<status>Status: timeout\t)?\n")


class Invoked:
    def __init__(self, response: dict, body: dict | None) -> None:
        self.request_id = response["ResponseMetadata"]["RequestId"]
        self.error = response.get("FunctionError")
        self.tail = base64.b64decode(response["LogResult"]).decode()
        self.lines = re.findall(r"[^\n]*\n", self.tail)  # a message may hold \r
        streams = [line[len("stream="):-1] for line in self.lines if line.startswith("stream=")]
        self.stream = (body or {}).get("stream") or streams[0]


@pytest.fixture
def invoked(lam):
    client = lam.client()
    create_python_function(client, "pinned", zip_bytes=make_zip({"app.py": SOURCE}), MemorySize=256, Timeout=1)

    def call(event: dict) -> Invoked:
        response = client.invoke(FunctionName="pinned", LogType="Tail", Payload=json.dumps(event))
        body = json.loads(response["Payload"].read())
        return Invoked(response, body if isinstance(body, dict) and "stream" in body else None)

    return [call({}), call({"quiet": True}), call({"fail": True}), call({}), call({"sleep": 3}), call({})]


def all_events(logs, stream: str) -> list[dict]:
    return logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]


def test_each_invocation_reads_back_as_its_tail(lam, invoked):
    cold, quiet, failed, warm, timed_out, recold = invoked
    assert cold.stream == quiet.stream == failed.stream == warm.stream == timed_out.stream != recold.stream
    logs = lam.client("logs")
    for inv in invoked:
        rid = inv.request_id
        start = inv.lines.index(f"START RequestId: {rid} Version: $LATEST\n")
        assert inv.lines[-2] == f"END RequestId: {rid}\n"
        report = REPORT.fullmatch(inv.lines[-1])
        assert report and report["id"] == rid
        init = float(report["init"]) if report["init"] else 0.0
        assert int(report["billed"]) == math.ceil(float(report["duration"]) + init)
        assert (report["init"] is not None) == (inv in (cold, recold))
        assert (report["status"] is not None) == (inv is timed_out)
        output = inv.lines[start + 1:-2]
        if inv is quiet:
            assert output == []
        elif inv is failed:
            assert output[:3] == [f"stream={inv.stream}\n", "line one\n", "line two\n"]
            assert output[3].startswith("[ERROR] ValueError: it failed\rTraceback (most recent call last):\r")
            assert output[3].endswith('raise ValueError("it failed")\n') and len(output) == 4
        elif inv is timed_out:
            assert output[:3] == [f"stream={inv.stream}\n", "line one\n", "line two\n"]
            assert re.fullmatch(r"\S+ " + rid + r" Task timed out after 1\.00 seconds\n", output[3])
        else:
            assert output == [f"stream={inv.stream}\n", "line one\n", "line two\n"]
        if inv in (cold, recold):
            assert inv.lines[0].startswith("INIT_START Runtime Version: ")
        else:
            assert start == 0

    # The stream holds exactly the invocations' tails, in order.
    first, second = cold.stream, recold.stream
    events = all_events(logs, first)
    assert "".join(e["message"] for e in events) == "".join(inv.tail for inv in invoked[:5])
    events2 = all_events(logs, second)
    assert "".join(e["message"] for e in events2) == recold.tail
    assert [e["message"] for e in events] == [line for inv in invoked[:5] for line in inv.lines]

    # Timestamps: ordered; START at the first output line; END and REPORT at the end.
    for stream_events in (events, events2):
        stamps = [e["timestamp"] for e in stream_events]
        assert stamps == sorted(stamps)
        assert all(e["ingestionTime"] >= e["timestamp"] for e in stream_events)
        for i, e in enumerate(stream_events):
            if e["message"].startswith("END RequestId: "):
                assert stream_events[i + 1]["message"].startswith("REPORT RequestId: ")
                assert stream_events[i + 1]["timestamp"] == e["timestamp"]
            if e["message"].startswith("START RequestId: ") and stream_events[i + 1]["message"].startswith("stream="):
                assert stream_events[i + 1]["timestamp"] == e["timestamp"]


def test_get_log_events_pages_and_windows(lam, invoked):
    logs = lam.client("logs")
    stream = invoked[0].stream
    everything = all_events(logs, stream)
    assert everything == logs.get_log_events(logGroupName=GROUP, logStreamName=stream)["events"]  # newest, no limit
    messages = [e["message"] for e in everything]

    forward, token = [], None
    while True:
        extra = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=4, **extra)
        forward += page["events"]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert forward == everything

    newest = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=3)
    assert [e["message"] for e in newest["events"]] == messages[-3:]
    backward, page = list(newest["events"]), newest
    while True:
        older = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=3,
                                    nextToken=page["nextBackwardToken"])
        if not older["events"]:
            assert older["nextBackwardToken"] == page["nextBackwardToken"]
            break
        backward[:0] = older["events"]
        page = older
    assert backward == everything
    end = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=newest["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == newest["nextForwardToken"]

    stamps = sorted({e["timestamp"] for e in everything})
    low, high = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    window = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startTime=low, endTime=high,
                                 startFromHead=True)["events"]
    assert window == [e for e in everything if low <= e["timestamp"] <= high]


def test_filter_log_events_across_streams(lam, invoked):
    logs = lam.client("logs")
    by_stream = {inv.stream: all_events(logs, inv.stream) for inv in invoked}
    found = logs.filter_log_events(logGroupName=GROUP)
    assert "nextToken" not in found
    events = found["events"]
    assert [(e["timestamp"], int(e["eventId"])) for e in events] == sorted(
        (e["timestamp"], int(e["eventId"])) for e in events)
    assert len({e["eventId"] for e in events}) == len(events)
    assert sorted((e["logStreamName"], e["timestamp"], e["message"], e["ingestionTime"]) for e in events) == sorted(
        (s, e["timestamp"], e["message"], e["ingestionTime"]) for s, stream_events in by_stream.items()
        for e in stream_events)
    for stream, stream_events in by_stream.items():  # within a stream, in the stream's order
        assert [e["message"] for e in events if e["logStreamName"] == stream] == [e["message"] for e in stream_events]

    def messages(**kw) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=GROUP, **kw)["events"]]

    assert messages(filterPattern="REPORT") == [e["message"] for e in events if "REPORT" in e["message"]]
    assert len(messages(filterPattern="REPORT")) == len(invoked)
    assert messages(filterPattern="?START ?END") == [e["message"] for e in events
                                                     if "START" in e["message"] or "END" in e["message"]]
    assert messages(filterPattern='"line one"') == ["line one\n"] * 5
    assert messages(filterPattern="-RequestId") == [e["message"] for e in events if "RequestId" not in e["message"]]
    assert messages(filterPattern="Task timed out") == [e["message"] for e in events if "Task timed out" in e["message"]]
    stream = invoked[-1].stream
    assert messages(logStreamNames=[stream]) == [e["message"] for e in by_stream[stream]]
    assert messages(logStreamNamePrefix=stream[:-1]) == [e["message"] for e in events
                                                         if e["logStreamName"].startswith(stream[:-1])]
    stamps = sorted({e["timestamp"] for e in events})
    low, high = stamps[len(stamps) // 4], stamps[3 * len(stamps) // 4]
    assert messages(startTime=low, endTime=high) == [e["message"] for e in events if low <= e["timestamp"] <= high]
    paged = [e for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, PaginationConfig={"PageSize": 3}) for e in page["events"]]
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in events]
    paged = [e for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, filterPattern="line", PaginationConfig={"PageSize": 2}) for e in page["events"]]
    assert [e["message"] for e in paged] == [e["message"] for e in events if "line" in e["message"]]


def test_describe_log_streams_and_groups(lam, invoked):
    logs = lam.client("logs")
    by_stream = {inv.stream: all_events(logs, inv.stream) for inv in invoked}
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == sorted(by_stream)
    for s in streams:
        stream_events = by_stream[s["logStreamName"]]
        assert s["firstEventTimestamp"] == min(e["timestamp"] for e in stream_events)
        assert s["lastEventTimestamp"] == max(e["timestamp"] for e in stream_events)
        assert s["lastIngestionTime"] == max(e["ingestionTime"] for e in stream_events)
        assert s["storedBytes"] == sum(len(e["message"]) for e in stream_events)
        assert s["creationTime"] <= s["firstEventTimestamp"] + 1000
    by_time = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == [invoked[-1].stream, invoked[0].stream]
    group = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]
    assert [g["logGroupName"] for g in group] == [GROUP]
    assert group[0]["storedBytes"] == sum(s["storedBytes"] for s in streams)


def test_lamina_logs_prints_every_line(lam, invoked):
    logs = lam.client("logs")
    expected = "".join(e["message"] for e in logs.filter_log_events(logGroupName=GROUP)["events"])
    env = dict(os.environ, AWS_ACCESS_KEY_ID="000000000000", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    result = subprocess.run([sys.executable, "-m", "lamina", "logs", "pinned", "--endpoint-url", lam.endpoint],
                            env=env, capture_output=True, timeout=60)  # bytes: messages hold \r
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == expected
    assert result.stdout.decode().count("REPORT RequestId: ") == len(invoked)
