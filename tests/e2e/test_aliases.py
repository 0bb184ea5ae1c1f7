"""Aliases through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip


@pytest.fixture
def two_versions(client):
    create_python_function(client, "fn", zip_bytes=make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    client.publish_version(FunctionName="fn")
    client.update_function_code(FunctionName="fn", ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 2\n"}),
                                Publish=True)
    return client


def test_alias_lifecycle(two_versions):
    client = two_versions
    created = client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1", Description="prod")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    assert (created["FunctionVersion"], created["Description"]) == ("1", "prod")
    got = client.get_alias(FunctionName="fn", Name="live")
    assert got["RevisionId"] == created["RevisionId"]
    updated = client.update_alias(FunctionName="fn", Name="live", FunctionVersion="2",
                                  RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}})
    assert updated["FunctionVersion"] == "2"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert updated["RevisionId"] != created["RevisionId"]
    cleared = client.update_alias(FunctionName="fn", Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in cleared
    client.delete_alias(FunctionName="fn", Name="live")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_alias(FunctionName="fn", Name="live")


def test_alias_names_a_version_for_reads(two_versions):
    client = two_versions
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    configuration = client.get_function_configuration(FunctionName="fn", Qualifier="live")
    assert configuration["Version"] == "1"
    assert configuration["FunctionArn"].endswith(":fn:live")


def test_alias_errors(two_versions):
    client = two_versions
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_alias(FunctionName="fn", Name="bad", FunctionVersion="9")
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as excinfo:
        client.update_alias(FunctionName="fn", Name="live", RevisionId="stale")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName="fn", Name="w", FunctionVersion="$LATEST",
                            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as excinfo:
        client.create_alias(FunctionName="fn", Name="w", FunctionVersion="1",
                            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "1": 0.1}})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_alias_name_cannot_be_all_digits(lam, two_versions):
    with pytest.raises(ClientError) as excinfo:
        lam.client(validate=False).create_alias(FunctionName="fn", Name="123", FunctionVersion="1")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_list_aliases(two_versions):
    client = two_versions
    for name, version in (("a", "1"), ("b", "2"), ("c", "1")):
        client.create_alias(FunctionName="fn", Name=name, FunctionVersion=version)
    assert [a["Name"] for a in client.list_aliases(FunctionName="fn")["Aliases"]] == ["a", "b", "c"]
    assert [a["Name"] for a in client.list_aliases(FunctionName="fn", FunctionVersion="1")["Aliases"]] == ["a", "c"]
    paged = [a["Name"] for page in client.get_paginator("list_aliases").paginate(
        FunctionName="fn", PaginationConfig={"PageSize": 2}) for a in page["Aliases"]]
    assert paged == ["a", "b", "c"]
