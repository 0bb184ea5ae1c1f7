"""Deployment packages and layers fetched from S3 (S3Bucket/S3Key) through the S3 API."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from aws_endpoint import LocalAws
from helpers import ROLE, LaminaServer, make_zip


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    aws = LocalAws().start()
    server = LaminaServer(tmp_path_factory.mktemp("s3code") / "data", env=aws.environment).start()
    yield server, aws
    server.stop()
    aws.stop()


def test_function_and_layer_code_from_s3(s3_server):
    server, aws = s3_server
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="fn.zip",
                  Body=make_zip({"app.py": "import shared\ndef handler(e, c):\n    return shared.VALUE\n"}))
    s3.put_object(Bucket="artifacts", Key="layer.zip", Body=make_zip({"python/shared.py": "VALUE = 'from s3'\n"}))
    client = server.client()
    layer = client.publish_layer_version(LayerName="s3layer", Content={"S3Bucket": "artifacts", "S3Key": "layer.zip"})
    client.create_function(FunctionName="from-s3", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                           Code={"S3Bucket": "artifacts", "S3Key": "fn.zip"}, Layers=[layer["LayerVersionArn"]])
    client.get_waiter("function_active_v2").wait(FunctionName="from-s3", WaiterConfig={"Delay": 0.1})
    assert json.loads(client.invoke(FunctionName="from-s3")["Payload"].read()) == "from s3"


def test_missing_s3_object_is_reported_like_aws(s3_server):
    server, aws = s3_server
    aws.client("s3").create_bucket(Bucket="empty")
    with pytest.raises(ClientError) as excinfo:
        server.client().create_function(FunctionName="nothing", Runtime="python3.11", Role=ROLE, Handler="a.b",
                                         Code={"S3Bucket": "empty", "S3Key": "missing.zip"})
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "Error occurred while GetObject. S3 Error Code: NoSuchKey" in error["Message"]


def test_oversized_s3_object_is_refused_by_its_length(s3_server):
    server, aws = s3_server
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="huge")
    s3.put_object(Bucket="huge", Key="big.zip", Body=b"\0" * (52_428_800 + 1))
    with pytest.raises(ClientError) as excinfo:
        server.client().create_function(FunctionName="too-big", Runtime="python3.11", Role=ROLE, Handler="a.b",
                                         Code={"S3Bucket": "huge", "S3Key": "big.zip"})
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "Zipped size must be smaller than 52428800 bytes"


def test_debug_log_level_does_not_log_sdk_signatures(tmp_path, s3_server):
    _, aws = s3_server
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="debugged")
    s3.put_object(Bucket="debugged", Key="fn.zip", Body=make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    server = LaminaServer(tmp_path / "data", env={**aws.environment, "LAMINA_LOG_LEVEL": "debug"}).start()
    try:
        server.client().create_function(FunctionName="dbg", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                        Code={"S3Bucket": "debugged", "S3Key": "fn.zip"})
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert " DEBUG lamina" in log  # the level took effect for lamina itself
    assert "CanonicalRequest" not in log and "Canonical Request" not in log
    assert "Signature" not in log and "StringToSign" not in log
