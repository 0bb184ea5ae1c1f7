"""Published versions through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip


def code(n: int) -> bytes:
    return make_zip({"app.py": f"def handler(event, context):\n    return {n}\n"})


def wait_updated(client, name: str = "fn") -> None:
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def test_publish_snapshots_latest(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    v1 = client.publish_version(FunctionName="fn", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:1"
    assert v1["Description"] == "first"
    assert v1["State"] == "Active"
    client.update_function_configuration(FunctionName="fn", MemorySize=512)
    wait_updated(client)
    assert client.get_function_configuration(FunctionName="fn", Qualifier="1")["MemorySize"] == 128
    v2 = client.publish_version(FunctionName="fn")
    assert v2["Version"] == "2" and v2["MemorySize"] == 512


def test_publishing_without_changes_returns_the_last_version(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    first = client.publish_version(FunctionName="fn")
    again = client.publish_version(FunctionName="fn")
    assert again["Version"] == first["Version"] == "1"
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName="fn")["Versions"]] == ["$LATEST", "1"]


def test_version_numbers_are_never_reused(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    client.publish_version(FunctionName="fn")
    client.delete_function(FunctionName="fn", Qualifier="1")
    client.update_function_code(FunctionName="fn", ZipFile=code(2))
    wait_updated(client)
    assert client.publish_version(FunctionName="fn")["Version"] == "2"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="fn", Qualifier="1")


def test_publish_guards(client):
    created = create_python_function(client, "fn", zip_bytes=code(1))
    with pytest.raises(ClientError) as excinfo:
        client.publish_version(FunctionName="fn", CodeSha256="wrong")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as excinfo:
        client.publish_version(FunctionName="fn", RevisionId="wrong")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.publish_version(FunctionName="fn", CodeSha256=created["CodeSha256"])["Version"] == "1"


def test_update_function_code_with_publish(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    published = client.update_function_code(FunctionName="fn", ZipFile=code(2), Publish=True)
    assert published["Version"] == "1"
    assert client.get_function_configuration(FunctionName="fn:1")["CodeSha256"] == published["CodeSha256"]


def test_create_function_with_publish(client):
    created = client.create_function(FunctionName="fn", Runtime="python3.11", Handler="app.handler",
                                     Role="arn:aws:iam::000000000000:role/r", Code={"ZipFile": code(1)}, Publish=True)
    assert created["Version"] == "1"


def test_list_versions_paginates_and_qualifies_latest(client):
    create_python_function(client, "fn", zip_bytes=code(0))
    for n in range(1, 4):
        client.update_function_code(FunctionName="fn", ZipFile=code(n), Publish=True)
    versions = client.list_versions_by_function(FunctionName="fn")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2", "3"]
    assert versions[0]["FunctionArn"].endswith(":fn:$LATEST")
    paged = [v["Version"] for page in client.get_paginator("list_versions_by_function").paginate(
        FunctionName="fn", PaginationConfig={"PageSize": 3}) for v in page["Versions"]]
    assert paged == ["$LATEST", "1", "2", "3"]


def test_list_functions_all_versions(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    client.publish_version(FunctionName="fn")
    listed = client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [f["Version"] for f in listed] == ["$LATEST", "1"]


def test_delete_version_referenced_by_alias_is_refused(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    client.publish_version(FunctionName="fn")
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as excinfo:
        client.delete_function(FunctionName="fn", Qualifier="1")
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"
    assert "live" in excinfo.value.response["Error"]["Message"]


def test_delete_function_removes_versions_and_aliases(client):
    create_python_function(client, "fn", zip_bytes=code(1))
    client.publish_version(FunctionName="fn")
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    client.delete_function(FunctionName="fn")
    create_python_function(client, "fn", zip_bytes=code(1))
    assert client.list_aliases(FunctionName="fn")["Aliases"] == []
    assert [v["Version"] for v in client.list_versions_by_function(FunctionName="fn")["Versions"]] == ["$LATEST"]
