"""`lamina async [--function NAME]`: what is queued, in flight, retrying and failed in
asynchronous invocation, per function, with the async metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lamina.cli_client import fetch_view


def print_async_status(function: str | None, *, endpoint_url: str | None = None, region: str | None = None,
                       as_json: bool = False) -> None:
    status = fetch_view("/_lamina/async", function, endpoint_url, region)
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
