"""Step Functions resources through boto3: state machines, activities, tags, validation, and
the errors the model declares for them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from sfn_helpers import ROLE, create_machine, run

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v1", "End": True}}}
PASS_V2 = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v2", "End": True}}}
CALLBACK = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                             "Parameters": {"FunctionName": "f", "Payload": {"t.$": "$$.Task.Token"}},
                                             "End": True}}}


@pytest.fixture
def sfn(lam):
    return lam.client("stepfunctions")


def code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_create_describe_update_list_delete(sfn):
    created = sfn.create_state_machine(name="orders", definition=json.dumps(PASS), roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == "arn:aws:states:us-east-1:000000000000:stateMachine:orders"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == "orders"
    assert described["status"] == "ACTIVE"
    assert described["type"] == "STANDARD"
    assert json.loads(described["definition"]) == PASS
    assert described["roleArn"] == ROLE
    assert described["creationDate"] == created["creationDate"]
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": False}

    role2 = "arn:aws:iam::000000000000:role/other"
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS_V2), roleArn=role2)
    assert updated["revisionId"] != described["revisionId"]
    again = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(again["definition"]) == PASS_V2
    assert again["roleArn"] == role2
    assert again["revisionId"] == updated["revisionId"]
    assert run(sfn, arn)["output"] == '"v2"'

    listed = sfn.list_state_machines()["stateMachines"]
    assert [(m["name"], m["type"], m["stateMachineArn"]) for m in listed] == [("orders", "STANDARD", arn)]

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert code(e.value) == "StateMachineDoesNotExist"
    assert sfn.list_state_machines()["stateMachines"] == []
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting what is gone succeeds, as on AWS


def test_create_is_idempotent_for_the_same_configuration(sfn):
    first = sfn.create_state_machine(name="same", definition=json.dumps(PASS), roleArn=ROLE)
    # A different role (or tags) does not make it a different request.
    again = sfn.create_state_machine(name="same", definition=json.dumps(PASS),
                                     roleArn="arn:aws:iam::000000000000:role/x")
    assert (again["stateMachineArn"], again["creationDate"]) == (first["stateMachineArn"], first["creationDate"])
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="same", definition=json.dumps(PASS_V2), roleArn=ROLE)
    assert code(e.value) == "StateMachineAlreadyExists"


def test_update_needs_something_to_change(sfn):
    arn = create_machine(sfn, "noop", PASS)
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine(stateMachineArn=arn)
    assert code(e.value) == "MissingRequiredParameter"
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine(stateMachineArn=arn.replace("noop", "ghost"), definition=json.dumps(PASS))
    assert code(e.value) == "StateMachineDoesNotExist"


def test_invalid_definition_names_the_problem_and_where(sfn):
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    with pytest.raises(ClientError) as e:
        create_machine(sfn, "broken", broken)
    assert code(e.value) == "InvalidDefinition"
    message = e.value.response["Error"]["Message"]
    assert message.startswith("Invalid State Machine Definition: ")
    assert "MISSING_TRANSITION_TARGET" in message and "/States/A/Next" in message
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="notjson", definition="{not json", roleArn=ROLE)
    assert code(e.value) == "InvalidDefinition"
    arn = create_machine(sfn, "ok", PASS)
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(broken))
    assert code(e.value) == "InvalidDefinition"


def test_express_machines_cannot_wait_for_callbacks(sfn):
    with pytest.raises(ClientError) as e:
        create_machine(sfn, "express-callback", CALLBACK, type="EXPRESS")
    assert code(e.value) == "InvalidDefinition"
    assert "waitForTaskToken" in e.value.response["Error"]["Message"]
    assert create_machine(sfn, "standard-callback", CALLBACK)  # fine for STANDARD


def test_names_arns_and_roles_are_checked(sfn, raw_client, lam):
    for bad in ("has space", "a/b", "semi;colon", "brace{"):
        with pytest.raises(ClientError) as e:
            create_machine(sfn, bad, PASS)
        assert code(e.value) == "InvalidName", bad
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    assert code(e.value) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.describe_state_machine(stateMachineArn="arn:aws:states:us-east-1:000000000000:activity:a")
    assert code(e.value) == "InvalidArn"
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="role", definition=json.dumps(PASS), roleArn="arn:aws:iam::000000000000:user/u")
    assert code(e.value) == "InvalidArn"
    unchecked = lam.client("stepfunctions", validate=False)
    with pytest.raises(ClientError) as e:
        unchecked.create_state_machine(name="x" * 81, definition=json.dumps(PASS), roleArn=ROLE)
    assert code(e.value) == "ValidationException"
    assert "Member must have length less than or equal to 80" in e.value.response["Error"]["Message"]


def test_logging_and_tracing_configuration_are_kept(sfn):
    group = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/states/flows:*"
    logging = {"level": "ALL", "includeExecutionData": True,
               "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]}
    arn = create_machine(sfn, "logged", PASS, type="EXPRESS", loggingConfiguration=logging,
                         tracingConfiguration={"enabled": True})
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["type"] == "EXPRESS"
    assert described["loggingConfiguration"] == logging
    assert described["tracingConfiguration"] == {"enabled": True}
    sfn.update_state_machine(stateMachineArn=arn, loggingConfiguration={"level": "OFF"})
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == {
        "level": "OFF", "includeExecutionData": False}
    with pytest.raises(ClientError) as e:
        create_machine(sfn, "nowhere-to-log", PASS, loggingConfiguration={"level": "ERROR"})
    assert code(e.value) == "InvalidLoggingConfiguration"


def test_list_state_machines_pages(sfn):
    names = [f"m{i}" for i in range(5)]
    for name in reversed(names):
        create_machine(sfn, name, PASS)
    first = sfn.list_state_machines(maxResults=2)
    assert [m["name"] for m in first["stateMachines"]] == ["m0", "m1"]
    assert "nextToken" in first
    pages = sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2})
    assert [m["name"] for page in pages for m in page["stateMachines"]] == names
    with pytest.raises(ClientError) as e:
        sfn.list_state_machines(nextToken="garbage!")
    assert code(e.value) == "InvalidToken"


def test_validate_state_machine_definition(sfn):
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    broken = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "C": {"Type": "Succeed"}}}
    failed = sfn.validate_state_machine_definition(definition=json.dumps(broken))
    assert failed["result"] == "FAIL"
    assert {(d["severity"], d["code"], d.get("location")) for d in failed["diagnostics"]} >= {
        ("ERROR", "MISSING_TRANSITION_TARGET", "/States/A/Next")}
    limited = sfn.validate_state_machine_definition(definition=json.dumps(broken), maxResults=1)
    assert len(limited["diagnostics"]) == 1 and limited["truncated"] is True
    express = sfn.validate_state_machine_definition(definition=json.dumps(CALLBACK), type="EXPRESS")
    assert express["result"] == "FAIL"
    assert express["diagnostics"][0]["location"] == "/States/T/Resource"


def test_tags(sfn, lam):
    arn = create_machine(sfn, "tagged", PASS, tags=[{"key": "team", "value": "a"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "dev"}, {"key": "team", "value": "b"}])
    assert sorted((t["key"], t["value"]) for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == [
        ("env", "dev"), ("team", "b")]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "dev"}]
    activity = sfn.create_activity(name="tagged-activity", tags=[{"key": "k", "value": "v"}])["activityArn"]
    assert sfn.list_tags_for_resource(resourceArn=activity)["tags"] == [{"key": "k", "value": "v"}]
    with pytest.raises(ClientError) as e:
        sfn.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": ""} for i in range(50)])
    assert code(e.value) == "TooManyTags"
    with pytest.raises(ClientError) as e:
        sfn.list_tags_for_resource(resourceArn=arn.replace("tagged", "ghost"))
    assert code(e.value) == "ResourceNotFound"
    other = lam.client("stepfunctions", account="111111111111")
    with pytest.raises(ClientError) as e:
        other.list_tags_for_resource(resourceArn=arn)
    assert code(e.value) == "ResourceNotFound"


def test_accounts_do_not_see_each_other(sfn, lam):
    arn = create_machine(sfn, "mine", PASS)
    other = lam.client("stepfunctions", account="111111111111")
    assert other.list_state_machines()["stateMachines"] == []
    with pytest.raises(ClientError) as e:
        other.start_execution(stateMachineArn=arn)
    assert code(e.value) == "StateMachineDoesNotExist"
    theirs = create_machine(other, "mine", PASS)
    assert theirs == "arn:aws:states:us-east-1:111111111111:stateMachine:mine"
    assert lam.client("stepfunctions", region="eu-west-1").list_state_machines()["stateMachines"] == []


def test_activities(sfn):
    created = sfn.create_activity(name="resize")
    arn = created["activityArn"]
    assert arn == "arn:aws:states:us-east-1:000000000000:activity:resize"
    assert sfn.create_activity(name="resize")["creationDate"] == created["creationDate"]  # idempotent
    described = sfn.describe_activity(activityArn=arn)
    assert (described["name"], described["creationDate"]) == ("resize", created["creationDate"])
    sfn.create_activity(name="archive")
    assert [a["name"] for a in sfn.list_activities()["activities"]] == ["archive", "resize"]
    pages = sfn.get_paginator("list_activities").paginate(PaginationConfig={"PageSize": 1})
    assert [a["name"] for page in pages for a in page["activities"]] == ["archive", "resize"]
    sfn.delete_activity(activityArn=arn)
    with pytest.raises(ClientError) as e:
        sfn.describe_activity(activityArn=arn)
    assert code(e.value) == "ActivityDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.get_activity_task(activityArn=arn)
    assert code(e.value) == "ActivityDoesNotExist"
    with pytest.raises(ClientError) as e:
        sfn.create_activity(name="bad name")
    assert code(e.value) == "InvalidName"


def test_operations_lamina_does_not_offer_say_so(sfn):
    arn = create_machine(sfn, "versions", PASS)
    with pytest.raises(ClientError) as e:
        sfn.publish_state_machine_version(stateMachineArn=arn)
    assert code(e.value) == "UnsupportedOperationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError) as e:
        create_machine(sfn, "published", PASS, publish=True)
    assert code(e.value) == "ValidationException"
