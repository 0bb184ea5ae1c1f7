"""Reserved and provisioned concurrency settings through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function


def test_reserved_concurrency(client):
    create_python_function(client, "fn")
    assert client.get_function_concurrency(FunctionName="fn").get("ReservedConcurrentExecutions") is None
    assert client.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=50)[
        "ReservedConcurrentExecutions"] == 50
    assert client.get_function_concurrency(FunctionName="fn")["ReservedConcurrentExecutions"] == 50
    assert client.get_function(FunctionName="fn")["Concurrency"] == {"ReservedConcurrentExecutions": 50}
    settings = client.get_account_settings()["AccountLimit"]
    assert (settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]) == (1000, 950)
    client.delete_function_concurrency(FunctionName="fn")
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_unreserved_minimum_is_kept(client):
    create_python_function(client, "a")
    create_python_function(client, "b")
    client.put_function_concurrency(FunctionName="a", ReservedConcurrentExecutions=800)
    with pytest.raises(ClientError) as excinfo:
        client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=101)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "minimum value of [100]" in excinfo.value.response["Error"]["Message"]
    client.put_function_concurrency(FunctionName="b", ReservedConcurrentExecutions=100)


def test_provisioned_concurrency_configs(client):
    create_python_function(client, "fn")
    client.publish_version(FunctionName="fn")
    client.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
    put = client.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="live",
                                                    ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    got = client.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="live")
    assert got["RequestedProvisionedConcurrentExecutions"] == 2
    listed = client.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == ["arn:aws:lambda:us-east-1:000000000000:function:fn:live"]
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="1", ProvisionedConcurrentExecutions=1)
    assert excinfo.value.response["Error"]["Code"] == "ResourceConflictException"
    client.delete_provisioned_concurrency_config(FunctionName="fn", Qualifier="live")
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="live")


def test_provisioned_concurrency_needs_a_published_version(client):
    create_python_function(client, "fn")
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="$LATEST",
                                                  ProvisionedConcurrentExecutions=1)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_provisioned_concurrency_within_reserved(client):
    create_python_function(client, "fn")
    client.publish_version(FunctionName="fn")
    client.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=3)
    with pytest.raises(ClientError) as excinfo:
        client.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="1", ProvisionedConcurrentExecutions=4)
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
