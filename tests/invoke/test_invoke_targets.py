"""Invoke remembers how it read a FunctionName and Qualifier, never what they named: a
function's updates, deletion, re-creation and alias moves show in the very next invoke."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip


def code(version: str) -> bytes:
    return make_zip({"app.py": f"def handler(event, context):\n    return {{'v': '{version}'}}\n"})


def ran(client, **args) -> tuple[str, str]:
    response = client.invoke(**args)
    return json.loads(response["Payload"].read())["v"], response["ExecutedVersion"]


def test_changes_show_in_the_next_invoke(client):
    create_python_function(client, "moving", zip_bytes=code("one"))
    client.publish_version(FunctionName="moving")
    client.update_function_code(FunctionName="moving", ZipFile=code("two"))
    client.get_waiter("function_updated_v2").wait(FunctionName="moving", WaiterConfig={"Delay": 0.05})
    client.publish_version(FunctionName="moving")
    client.create_alias(FunctionName="moving", Name="live", FunctionVersion="1")
    arn = client.get_function(FunctionName="moving")["Configuration"]["FunctionArn"]

    assert ran(client, FunctionName="moving", Qualifier="live") == ("one", "1")
    assert ran(client, FunctionName=f"{arn}:live") == ("one", "1")
    client.update_alias(FunctionName="moving", Name="live", FunctionVersion="2")
    assert ran(client, FunctionName="moving", Qualifier="live") == ("two", "2")
    assert ran(client, FunctionName=f"{arn}:live") == ("two", "2")

    client.update_function_code(FunctionName="moving", ZipFile=code("three"))
    client.get_waiter("function_updated_v2").wait(FunctionName="moving", WaiterConfig={"Delay": 0.05})
    assert ran(client, FunctionName="moving") == ("three", "$LATEST")

    client.delete_alias(FunctionName="moving", Name="live")
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="moving", Qualifier="live")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"

    client.delete_function(FunctionName="moving")
    with pytest.raises(ClientError) as excinfo:
        client.invoke(FunctionName="moving")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    create_python_function(client, "moving", zip_bytes=code("again"))
    assert ran(client, FunctionName="moving") == ("again", "$LATEST")
