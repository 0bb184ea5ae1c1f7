"""What the model fuzzer (test_fuzz_models.py) found, pinned as plain regressions: each of these
inputs once answered 500 with a traceback."""

from __future__ import annotations

import time

import pytest

from helpers import ROLE

PASS = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'


def test_java_unicode_classes_in_model_patterns_are_understood(raw_client, lam):
    """Logs tag keys (`[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+`) and Step Functions trace headers
    (`\\p{ASCII}*`) are validated, not a `re.error`."""
    logs = lam.client("logs", validate=False)
    logs.create_log_group(logGroupName="g", tags={"Team Ü 1": "ok"})
    with pytest.raises(logs.exceptions.ClientError) as excinfo:
        logs.create_log_group(logGroupName="h", tags={"bad!": "x"})
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "at 'tags.key' failed to satisfy constraint: Member must satisfy regular expression pattern" \
        in error["Message"]

    sfn = lam.client("stepfunctions", validate=False)
    machine = sfn.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, traceHeader="Root=1-abc")
    with pytest.raises(sfn.exceptions.ClientError) as excinfo:
        sfn.start_execution(stateMachineArn=machine, traceHeader="é")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_step_functions_tag_without_key_is_a_validation_error(lam):
    sfn = lam.client("stepfunctions", validate=False)
    machine = sfn.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.ClientError) as excinfo:
        sfn.tag_resource(resourceArn=machine, tags=[{"key": "a", "value": "b"}, {"value": "no key"}])
    assert excinfo.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value null at 'tags.2.member.key' failed to satisfy constraint: "
                   "Member must not be null"}
    with pytest.raises(sfn.exceptions.ClientError):
        sfn.create_activity(name="a", tags=[{}])
    assert sfn.list_tags_for_resource(resourceArn=machine)["tags"] == []


def test_put_log_events_rejects_events_outside_the_accepted_window(lam):
    """Events more than 2 hours ahead or 14 days back are reported in `rejectedLogEventsInfo`
    and not stored; a timestamp at the edge of a long once poisoned the log store."""
    logs = lam.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    answer = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": 2**63 - 1, "message": "far future"}, {"timestamp": now, "message": "now"},
        {"timestamp": 0, "message": "1970"}, {"timestamp": now + 3 * 3600 * 1000, "message": "in 3 hours"}])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now + 1, "message": "later"}])
    events = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["now", "later"]


def test_put_retention_policy_takes_only_the_periods_aws_offers(lam):
    logs = lam.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=3653)
    with pytest.raises(logs.exceptions.InvalidParameterException) as excinfo:
        logs.put_retention_policy(logGroupName="g", retentionInDays=2)
    assert excinfo.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must "
        "satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, "
        "2192, 2557, 2922, 3288, 3653]")
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 3653
