"""`lamina logs <function> [--follow]`: a function's log events, read through lamina's own
CloudWatch Logs API like any other client would."""

from __future__ import annotations

import sys
import time

from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from lamina.cli_client import lamina_session

POLL_SECONDS = 1.0


def _clients(endpoint_url: str | None, region: str | None):
    session, endpoint_url = lamina_session(endpoint_url, region)
    options = BotoConfig(retries={"max_attempts": 2})
    return (session.client("lambda", endpoint_url=endpoint_url, config=options),
            session.client("logs", endpoint_url=endpoint_url, config=options))


def print_function_logs(function: str, *, endpoint_url: str | None = None, region: str | None = None,
                        follow: bool = False, since_seconds: float | None = None) -> None:
    lambda_client, logs = _clients(endpoint_url, region)
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function)
    except ClientError as e:
        sys.exit(f"lamina logs: {e.response['Error']['Message']}")
    group = (configuration.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{configuration['FunctionName']}"
    start = int((time.time() - since_seconds) * 1000) if since_seconds else 0
    seen: dict[str, int] = {}  # event id -> timestamp, of events at or after `start`
    while True:
        newest = start
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start):
                for event in page["events"]:
                    if event["eventId"] in seen:
                        continue
                    seen[event["eventId"]] = event["timestamp"]
                    newest = max(newest, event["timestamp"])
                    sys.stdout.write(event["message"] if event["message"].endswith("\n") else event["message"] + "\n")
            sys.stdout.flush()
        except logs.exceptions.ResourceNotFoundException:
            pass  # no invocation has logged anything yet
        if not follow:
            return
        # Events of the same millisecond may still arrive: re-read from `newest`, skipping seen ids.
        start = newest
        seen = {k: ts for k, ts in seen.items() if ts >= start}
        time.sleep(POLL_SECONDS)
