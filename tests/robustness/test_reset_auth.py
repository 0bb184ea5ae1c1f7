"""`POST /_lamina/reset` wipes every account: with access keys configured, only a request
signed by one of them may call it (issue 10, item 4)."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from helpers import LaminaServer, create_python_function, make_zip

KEY_ID, SECRET, ACCOUNT = "AKIDRESETTEST", "reset-s3cret", "123456789012"

# Returns the session credentials lamina gave the function.
CREDENTIALS = make_zip({"app.py": (
    "import os\n"
    "def handler(event, context):\n"
    "    return {k: os.environ[k] for k in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN')}\n")})


@pytest.fixture(scope="module")
def keyed(tmp_path_factory) -> LaminaServer:
    server = LaminaServer(tmp_path_factory.mktemp("reset-auth") / "data",
                          env={"LAMINA_ACCESS_KEYS": f"{KEY_ID}:{SECRET}:{ACCOUNT}"}).start()
    yield server
    server.stop()


def keyed_client(server: LaminaServer):
    return server.client(account=KEY_ID, secret=SECRET)


def function_names(server: LaminaServer) -> list[str]:
    return [f["FunctionName"] for f in keyed_client(server).list_functions()["Functions"]]


def test_reset_needs_a_signature_by_a_configured_key(keyed):
    client = keyed_client(keyed)
    create_python_function(client, "survivor", Role=f"arn:aws:iam::{ACCOUNT}:role/r")

    unsigned = requests.post(f"{keyed.endpoint}/_lamina/reset", timeout=30)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert unsigned.json()["message"] == "Missing Authentication Token"

    wrong = keyed.signed_post("/_lamina/reset", KEY_ID, "not-the-secret")
    assert wrong.status_code == 403
    assert wrong.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert wrong.json()["message"].startswith("The request signature we calculated does not match")

    unknown = keyed.signed_post("/_lamina/reset", "AKIDSOMEONEELSE", SECRET)
    assert unknown.status_code == 403
    assert unknown.headers["x-amzn-errortype"] == "UnrecognizedClientException"

    assert function_names(keyed) == ["survivor"]
    signed = keyed.signed_post("/_lamina/reset", KEY_ID, SECRET)
    assert signed.status_code == 200, signed.text
    assert function_names(keyed) == []


def test_a_functions_session_credentials_cannot_reset(keyed):
    client = keyed_client(keyed)
    create_python_function(client, "holder", zip_bytes=CREDENTIALS, Role=f"arn:aws:iam::{ACCOUNT}:role/r")
    credentials = json.loads(client.invoke(FunctionName="holder")["Payload"].read())

    # The function's credentials are good for the API (its own account) ...
    from_inside = boto3.client("lambda", endpoint_url=keyed.endpoint, region_name="us-east-1",
                               aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                               aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                               aws_session_token=credentials["AWS_SESSION_TOKEN"])
    assert "holder" in [f["FunctionName"] for f in from_inside.list_functions()["Functions"]]

    # ... but not for the reset.
    request = keyed.signed_post("/_lamina/reset", credentials["AWS_ACCESS_KEY_ID"],
                                credentials["AWS_SECRET_ACCESS_KEY"],
                                token=credentials["AWS_SESSION_TOKEN"])
    assert request.status_code == 403
    assert request.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    assert "holder" in function_names(keyed)


def test_the_helpers_reset_signs_with_the_servers_key(keyed):
    create_python_function(keyed_client(keyed), "again", Role=f"arn:aws:iam::{ACCOUNT}:role/r")
    keyed.reset()
    assert function_names(keyed) == []
