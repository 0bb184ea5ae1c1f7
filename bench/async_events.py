"""Asynchronous invocation benchmarks (issue 5): how many `InvocationType: Event` requests
lamina accepts per second (each durably committed before its 202), and how many events
per second it then dispatches end to end. Prints JSON; asserts nothing.

    .venv/bin/python bench/async_events.py [--clients 64] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import time

from common import Lamina, throughput

TRIVIAL = "def handler(event, context):\n    return None\n"


def status(lamina: Lamina) -> dict:
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{lamina.endpoint}/_lamina/async?function=sink"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("000000000000", "x"), "lambda", "us-east-1").add_auth(request)
    return requests.get(url, headers=dict(request.headers), timeout=30).json()["functions"].get("sink", {})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with Lamina() as lamina:
        lamina.create_python_function("sink", TRIVIAL)
        path = "/2015-03-31/functions/sink/invocations"
        # Warm environments first so that dispatch measures invocations, not cold starts.
        throughput(lamina.port, path, b"{}", args.clients, 3)
        accepted = throughput(lamina.port, path, b'{"n": 1}', args.clients, args.seconds,
                              headers={"X-Amz-Invocation-Type": "Event"})
        started = time.monotonic()
        while True:
            row = status(lamina)
            if not (row.get("queued") or row.get("in_flight") or row.get("retrying")):
                break
            time.sleep(0.2)
        drained = time.monotonic() - started
        total = accepted["requests"]
        print(json.dumps({
            "accept_while_dispatching": accepted,
            "dispatch": {"events": total, "seconds_to_drain_after_accepting": round(drained, 2),
                         "events_per_second": round(total / (accepted["seconds"] + drained), 1)},
        }, indent=2))

if __name__ == "__main__":
    main()
