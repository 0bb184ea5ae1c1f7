"""Layers through boto3: publishing, reading, listing, permissions, and use by functions."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip

LAYER = make_zip({"python/shared.py": "VALUE = 'from layer'\n"})


def publish(client, name="shared", content=LAYER, **extra):
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": content}, **extra)


def test_publish_and_get_layer_version(client):
    published = publish(client, CompatibleRuntimes=["python3.11"], Description="d", LicenseInfo="MIT")
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["LayerArn"] == "arn:aws:lambda:us-east-1:000000000000:layer:shared"
    assert published["LayerVersionArn"] == published["LayerArn"] + ":1"
    assert published["Version"] == 1
    assert published["Content"]["CodeSha256"] == base64.b64encode(hashlib.sha256(LAYER).digest()).decode()
    assert published["Content"]["CodeSize"] == len(LAYER)
    assert requests.get(published["Content"]["Location"], timeout=10).content == LAYER
    got = client.get_layer_version(LayerName="shared", VersionNumber=1)
    assert got["Description"] == "d" and got["LicenseInfo"] == "MIT"
    by_arn = client.get_layer_version_by_arn(Arn=published["LayerVersionArn"])
    assert by_arn["Version"] == 1
    assert publish(client)["Version"] == 2


def test_list_layers_and_versions(client):
    publish(client, "a", CompatibleRuntimes=["python3.11"])
    publish(client, "a", CompatibleRuntimes=["nodejs20.x"])
    publish(client, "b", CompatibleRuntimes=["python3.11"])
    layers = client.list_layers()["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [("a", 2), ("b", 1)]
    python = client.list_layers(CompatibleRuntime="python3.11")["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in python] == [("a", 1), ("b", 1)]
    assert [v["Version"] for v in client.list_layer_versions(LayerName="a")["LayerVersions"]] == [2, 1]


def test_delete_layer_version(client):
    publish(client)
    client.delete_layer_version(LayerName="shared", VersionNumber=1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_layer_version(LayerName="shared", VersionNumber=1)
    assert publish(client)["Version"] == 2


def test_layer_permissions(client):
    publish(client)
    added = client.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="all",
                                                Action="lambda:GetLayerVersion", Principal="*")
    assert json.loads(added["Statement"])["Principal"] == "*"
    policy = json.loads(client.get_layer_version_policy(LayerName="shared", VersionNumber=1)["Policy"])
    assert policy["Statement"][0]["Sid"] == "all"
    client.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="all")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_layer_version_policy(LayerName="shared", VersionNumber=1)


def test_other_accounts_need_permission(lam):
    owner, other = lam.client(account="111111111111"), lam.client(account="222222222222")
    arn = publish(owner)["LayerVersionArn"]
    with pytest.raises(other.exceptions.ResourceNotFoundException):
        other.get_layer_version_by_arn(Arn=arn)
    with pytest.raises(ClientError):
        create_python_function(other, "fn", wait=False, Layers=[arn])
    owner.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="share",
                                       Action="lambda:GetLayerVersion", Principal="222222222222")
    assert other.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    assert create_python_function(other, "fn", Layers=[arn])["Layers"][0]["Arn"] == arn


def test_function_layers_configuration(client):
    first = publish(client, "one")["LayerVersionArn"]
    second = publish(client, "two")["LayerVersionArn"]
    created = create_python_function(client, "fn", Layers=[first, second])
    assert [x["Arn"] for x in created["Layers"]] == [first, second]
    assert created["Layers"][0]["CodeSize"] == len(LAYER)
    updated = client.update_function_configuration(FunctionName="fn", Layers=[second])
    assert [x["Arn"] for x in updated["Layers"]] == [second]
    client.get_waiter("function_updated_v2").wait(FunctionName="fn", WaiterConfig={"Delay": 0.1})
    assert "Layers" not in client.update_function_configuration(FunctionName="fn", Layers=[])


def test_function_layer_errors(client):
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, "fn", wait=False,
                               Layers=["arn:aws:lambda:us-east-1:000000000000:layer:ghost:1"])
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
    one = publish(client, "one")
    two = publish(client, "one")
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, "fn", wait=False, Layers=[one["LayerVersionArn"], two["LayerVersionArn"]])
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_deleted_layer_version_keeps_serving_its_functions(client):
    arn = publish(client)["LayerVersionArn"]
    create_python_function(client, "fn", Layers=[arn])
    client.delete_layer_version(LayerName="shared", VersionNumber=1)
    assert client.get_function_configuration(FunctionName="fn")["Layers"][0]["Arn"] == arn
