"""`lamina async [--function NAME]`: what is queued, in flight, retrying and failed in
asynchronous invocation, per function, with the async metrics."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from urllib.parse import urlencode

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from lamina.logs_cli import lamina_session


def fetch_async_status(function: str | None, endpoint_url: str | None, region: str | None) -> dict:
    session, endpoint_url = lamina_session(endpoint_url, region)
    url = f"{endpoint_url}/_lamina/async" + (f"?{urlencode({'function': function})}" if function else "")
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(session.get_credentials(), "lambda", session.region_name).add_auth(request)
    response = requests.get(url, headers=dict(request.headers), timeout=30)
    if response.status_code != 200:
        sys.exit(f"lamina async: {response.status_code} {response.text}")
    return response.json()


def print_async_status(function: str | None, *, endpoint_url: str | None = None, region: str | None = None,
                       as_json: bool = False) -> None:
    status = fetch_async_status(function, endpoint_url, region)
    if as_json:
        print(json.dumps(status, indent=2))
        return
    print(f"{'FUNCTION':<40} {'QUEUED':>7} {'IN FLIGHT':>9} {'RETRYING':>8} {'DELIVERIES':>10} "
          f"{'RECEIVED':>8} {'DROPPED':>7} {'DLQ ERR':>7} {'DEST ERR':>8}")
    for name, row in status["functions"].items():
        sums = {m: int(v.get("sum", 0)) for m, v in row["metrics"].items()}
        print(f"{name:<40} {row['queued']:>7} {row['in_flight']:>9} {row['retrying']:>8} "
              f"{row['deliveries_pending']:>10} {sums.get('AsyncEventsReceived', 0):>8} "
              f"{sums.get('AsyncEventsDropped', 0):>7} {sums.get('DeadLetterErrors', 0):>7} "
              f"{sums.get('DestinationDeliveryFailures', 0):>8}")
    if status["recent_failures"]:
        print("\nRECENT FAILURES")
        for failure in status["recent_failures"]:
            when = datetime.fromtimestamp(failure["finished"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            print(f"{when} {failure['function']} {failure['request_id']} {failure['outcome']} "
                  f"{failure['condition'] or ''} attempts={failure['attempts']} {failure['detail'] or ''}")
