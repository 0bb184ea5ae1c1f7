"""`lamina metrics` shows the AWS/Lambda metrics counted for a function."""

from __future__ import annotations

import json
import subprocess
import sys

from botocore.exceptions import ClientError

from helpers import create_python_function, make_zip

FLAKY = "def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('no')\n    return 1\n"


def lamina_metrics(lam, *args: str) -> subprocess.CompletedProcess:
    env = {"AWS_ACCESS_KEY_ID": "000000000000", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "lamina", "metrics", "--endpoint-url", lam.endpoint, *args],
                          env=env, capture_output=True, text=True, timeout=60, check=True)


def test_invocations_errors_throttles_and_duration_are_counted(client, lam):
    create_python_function(client, "counted", zip_bytes=make_zip({"app.py": FLAKY}))
    client.invoke(FunctionName="counted", Payload=b"{}")
    client.invoke(FunctionName="counted", Payload=b'{"fail": true}')
    client.put_function_concurrency(FunctionName="counted", ReservedConcurrentExecutions=0)
    try:
        client.invoke(FunctionName="counted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "TooManyRequestsException"
    metrics = json.loads(lamina_metrics(lam, "--json", "--function", "counted").stdout)["counted"]
    assert metrics["Invocations"]["sum"] == 2
    assert metrics["Errors"]["sum"] == 1
    assert metrics["Throttles"]["sum"] == 1
    assert metrics["Duration"]["samples"] == 2 and metrics["Duration"]["max"] > 0
    table = lamina_metrics(lam).stdout
    assert "counted" in table and "Invocations" in table


def test_metrics_of_other_accounts_are_not_shown(client, lam):
    other = lam.client(account="999999999999")
    create_python_function(other, "elsewhere")
    other.invoke(FunctionName="elsewhere")
    assert json.loads(lamina_metrics(lam, "--json").stdout).get("elsewhere") is None
