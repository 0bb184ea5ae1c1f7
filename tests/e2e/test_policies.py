"""Resource-based policies through boto3: stored and returned exactly."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function


def test_add_get_remove_permission(client):
    create_python_function(client, "fn")
    added = client.add_permission(FunctionName="fn", StatementId="s3", Action="lambda:InvokeFunction",
                                  Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                                  SourceAccount="111122223333")
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "111122223333"},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    client.add_permission(FunctionName="fn", StatementId="acct", Action="lambda:GetFunction",
                          Principal="123456789012")
    policy = client.get_policy(FunctionName="fn")
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17" and document["Id"] == "default"
    assert [s["Sid"] for s in document["Statement"]] == ["s3", "acct"]
    assert document["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    client.remove_permission(FunctionName="fn", StatementId="s3")
    assert [s["Sid"] for s in json.loads(client.get_policy(FunctionName="fn")["Policy"])["Statement"]] == ["acct"]
    client.remove_permission(FunctionName="fn", StatementId="acct")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_policy(FunctionName="fn")


def test_policy_errors(client):
    create_python_function(client, "fn")
    client.add_permission(FunctionName="fn", StatementId="one", Action="lambda:InvokeFunction", Principal="*")
    with pytest.raises(ClientError) as excinfo:
        client.add_permission(FunctionName="fn", StatementId="one", Action="lambda:InvokeFunction", Principal="*")
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.remove_permission(FunctionName="fn", StatementId="missing")
    with pytest.raises(ClientError) as excinfo:
        client.add_permission(FunctionName="fn", StatementId="two", Action="lambda:InvokeFunction", Principal="*",
                              RevisionId="stale")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as excinfo:
        client.add_permission(FunctionName="fn", StatementId="latest", Action="lambda:InvokeFunction",
                              Principal="*", Qualifier="$LATEST")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_policies_are_per_qualifier(client):
    create_python_function(client, "fn")
    client.publish_version(FunctionName="fn")
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    added = json.loads(client.add_permission(FunctionName="fn", Qualifier="live", StatementId="a",
                                             Action="lambda:InvokeFunction", Principal="*")["Statement"])
    assert added["Resource"].endswith(":function:fn:live")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_policy(FunctionName="fn")
    assert json.loads(client.get_policy(FunctionName="fn", Qualifier="live")["Policy"])["Statement"][0]["Sid"] == "a"


def test_policy_size_limit(client):
    create_python_function(client, "fn")
    with pytest.raises(ClientError) as excinfo:
        for i in range(200):
            client.add_permission(FunctionName="fn", StatementId=f"statement-{i:03d}", Action="lambda:InvokeFunction",
                                  Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::bucket-with-a-long-name-{i}")
    assert excinfo.value.response["Error"]["Code"] == "PolicyLengthExceededException"
