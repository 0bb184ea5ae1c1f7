"""`lamina logs` prints a function's log group through the Logs API."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from helpers import create_python_function


def lamina_logs(lam, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="000000000000", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run([sys.executable, "-m", "lamina", "logs", *args, "--endpoint-url", lam.endpoint],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_lamina_logs_prints_the_function_group(lam):
    client = lam.client()
    create_python_function(client)
    logs = lam.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/hello")
    logs.create_log_stream(logGroupName="/aws/lambda/hello", logStreamName="s")
    logs.put_log_events(logGroupName="/aws/lambda/hello", logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "START RequestId: r1\n"}])
    result = lamina_logs(lam, "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "START RequestId: r1\n"


def test_lamina_logs_of_a_missing_function(lam):
    result = lamina_logs(lam, "ghost")
    assert result.returncode != 0
    assert "Function not found" in result.stderr


def test_lamina_logs_follow_prints_new_events(lam):
    client = lam.client()
    create_python_function(client)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="000000000000", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    follower = subprocess.Popen([sys.executable, "-m", "lamina", "logs", "hello", "--follow", "--endpoint-url",
                                 lam.endpoint], env=env, stdout=subprocess.PIPE, text=True)
    try:
        logs = lam.client("logs")
        logs.create_log_group(logGroupName="/aws/lambda/hello")
        logs.create_log_stream(logGroupName="/aws/lambda/hello", logStreamName="s")
        for i in range(3):
            logs.put_log_events(logGroupName="/aws/lambda/hello", logStreamName="s",
                                logEvents=[{"timestamp": int(time.time() * 1000), "message": f"line {i}"}])
            assert follower.stdout.readline() == f"line {i}\n"
    finally:
        follower.kill()
        follower.wait()
