"""The AWS CLI, unchanged, against lamina."""

from __future__ import annotations

import json

from helpers import PYTHON_HELLO, ROLE, create_python_function


def test_cli_function_lifecycle(lam, tmp_path):
    package = tmp_path / "hello.zip"
    package.write_bytes(PYTHON_HELLO)
    created = json.loads(lam.cli("lambda", "create-function", "--function-name", "hello", "--runtime", "python3.11",
                                 "--handler", "app.handler", "--role", ROLE,
                                 "--zip-file", f"fileb://{package}").stdout)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    lam.cli("lambda", "wait", "function-active-v2", "--function-name", "hello")
    listed = json.loads(lam.cli("lambda", "list-functions").stdout)
    assert [f["FunctionName"] for f in listed["Functions"]] == ["hello"]
    got = json.loads(lam.cli("lambda", "get-function", "--function-name", "hello").stdout)
    assert got["Configuration"]["State"] == "Active"
    lam.cli("lambda", "update-function-configuration", "--function-name", "hello", "--memory-size", "256",
            "--environment", "Variables={STAGE=dev}")
    lam.cli("lambda", "wait", "function-updated-v2", "--function-name", "hello")
    configuration = json.loads(lam.cli("lambda", "get-function-configuration", "--function-name", "hello").stdout)
    assert configuration["MemorySize"] == 256
    assert configuration["Environment"]["Variables"] == {"STAGE": "dev"}
    lam.cli("lambda", "tag-resource", "--resource", created["FunctionArn"], "--tags", "team=core")
    tags = json.loads(lam.cli("lambda", "list-tags", "--resource", created["FunctionArn"]).stdout)
    assert tags["Tags"] == {"team": "core"}
    lam.cli("lambda", "delete-function", "--function-name", "hello")
    assert json.loads(lam.cli("lambda", "list-functions").stdout)["Functions"] == []


def test_cli_reports_aws_errors(lam):
    result = lam.cli("lambda", "get-function", "--function-name", "missing", check=False)
    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr
    assert "Function not found" in result.stderr


def test_cli_paginates_list_functions(lam):
    client = lam.client()
    for i in range(55):
        create_python_function(client, f"f{i:02d}", wait=False)
    listed = json.loads(lam.cli("lambda", "list-functions").stdout)
    assert len(listed["Functions"]) == 55
