"""Accounts, regions and SigV4 signature checking."""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from helpers import LaminaServer, create_python_function


def test_twelve_digit_access_key_selects_the_account(lam):
    alice, bob = lam.client(account="111111111111"), lam.client(account="222222222222")
    created = create_python_function(alice, wait=False)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:111111111111:function:hello"
    assert bob.list_functions()["Functions"] == []
    with pytest.raises(bob.exceptions.ResourceNotFoundException):
        bob.get_function(FunctionName="hello")
    # An ARN of another account does not reach into it either.
    with pytest.raises(bob.exceptions.ResourceNotFoundException):
        bob.get_function(FunctionName=created["FunctionArn"])
    create_python_function(bob, wait=False)  # the same name is free in another account


def test_other_access_keys_use_the_default_account(lam):
    client = lam.client(account="AKIAEXAMPLE")
    assert create_python_function(client, wait=False)["FunctionArn"].split(":")[4] == "000000000000"


def test_regions_are_separate(lam):
    east, west = lam.client(region="us-east-1"), lam.client(region="eu-west-1")
    create_python_function(east, wait=False)
    assert west.list_functions()["Functions"] == []
    assert create_python_function(west, wait=False)["FunctionArn"].startswith("arn:aws:lambda:eu-west-1:")


def test_unsigned_requests_use_defaults(lam):
    response = requests.get(f"{lam.endpoint}/2015-03-31/functions", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"Functions": []}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    server = LaminaServer(tmp_path_factory.mktemp("keyed") / "data",
                          env={"LAMINA_ACCESS_KEYS": "AKIDALICE:alice-secret:123456789012,AKIDBOB:bob-secret:210987654321"})
    yield server.start()
    server.stop()


def keyed_client(server, key, secret, region="us-east-1"):
    return boto3.client("lambda", endpoint_url=server.endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=BotoConfig(retries={"max_attempts": 0}))


def test_valid_signature_maps_key_to_its_account(keyed):
    alice = keyed_client(keyed, "AKIDALICE", "alice-secret")
    created = create_python_function(alice, "signed", wait=False)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:signed"
    # The double-encoded path of a full ARN must verify too.
    assert alice.get_function_configuration(FunctionName=created["FunctionArn"])["FunctionName"] == "signed"
    bob = keyed_client(keyed, "AKIDBOB", "bob-secret")
    assert bob.list_functions()["Functions"] == []


def test_wrong_secret_is_an_invalid_signature(keyed):
    with pytest.raises(ClientError) as excinfo:
        keyed_client(keyed, "AKIDALICE", "wrong").list_functions()
    assert excinfo.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_unrecognized(keyed):
    with pytest.raises(ClientError) as excinfo:
        keyed_client(keyed, "AKIDMALLORY", "whatever").list_functions()
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_missing_authorization_is_refused(keyed):
    response = requests.get(f"{keyed.endpoint}/2015-03-31/functions", timeout=10)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_health_needs_no_signature(keyed):
    assert requests.get(f"{keyed.endpoint}/_lamina/health", timeout=10).status_code == 200
