"""Issue 10, item 7: memory stays bounded while a destination is down. Deliveries owed to
it wait in the store (not in memory), are retried and counted, and all go through once the
destination is back. (The log buffer's bound under a failing store is unit-tested in
tests/observability/test_log_store.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from aws_endpoint import LocalAws
from helpers import LaminaServer, create_python_function, make_zip

EVENTS = 1_000
PAYLOAD_BYTES = 150_000  # each owed record carries it: 150 MB owed in all


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _status(server: LaminaServer, function: str) -> dict:
    env = {"AWS_ACCESS_KEY_ID": "000000000000", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "lamina", "async", "--json", "--endpoint-url", server.endpoint,
                          "--function", function], env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["functions"].get(function, {})


def _wait_for(server: LaminaServer, function: str, done, timeout: float) -> dict:
    deadline = time.time() + timeout
    row = _status(server, function)
    while not done(row) and time.time() < deadline:
        time.sleep(1)
        row = _status(server, function)
    return row


def test_outbox_stays_bounded_while_its_destination_refuses_connections(tmp_path):
    aws = LocalAws()  # its port is chosen, nothing listens on it yet: connections are refused
    # A fixed mmap threshold: glibc's moving one would keep freed 150 kB payloads in the heap,
    # so RSS would tell how many were in flight at the peak, not what the server still holds.
    server = LaminaServer(tmp_path / "data", env={**aws.environment, "MALLOC_MMAP_THRESHOLD_": "131072"}).start()
    try:
        client = server.client()
        create_python_function(client, "producer", zip_bytes=make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
        queue_arn = "arn:aws:sqs:us-east-1:000000000000:owed"
        client.put_function_event_invoke_config(FunctionName="producer",
                                                DestinationConfig={"OnSuccess": {"Destination": queue_arn}})
        client.invoke(FunctionName="producer", Payload=b"{}")
        baseline = _rss_mb(server.process.pid)
        payload = json.dumps({"pad": "x" * PAYLOAD_BYTES})

        def fire(_: int) -> int:
            return server.client().invoke(FunctionName="producer", InvocationType="Event",
                                          Payload=payload)["StatusCode"]

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(fire, range(EVENTS))) == {202}
        row = _wait_for(server, "producer", lambda r: r.get("deliveries_pending") == EVENTS and
                        r["metrics"].get("DestinationDeliveryFailures", {}).get("sum", 0) >= EVENTS, 120)
        grown = _rss_mb(server.process.pid) - baseline
        assert row["deliveries_pending"] == EVENTS
        assert row["metrics"]["AsyncEventsReceived"]["sum"] == EVENTS  # the synchronous warm-up is not an event
        assert row["metrics"]["DestinationDeliveryFailures"]["sum"] >= EVENTS
        # 150 MB is owed; the server holds a bounded working set of it.
        assert grown < 100, f"RSS grew by {grown:.0f} MB while {EVENTS * PAYLOAD_BYTES >> 20} MB was owed"

        aws.start()  # the destination comes back: every owed delivery goes through
        try:
            aws.client("sqs").create_queue(QueueName="owed")
            row = _wait_for(server, "producer", lambda r: r.get("deliveries_pending") == 0, 120)
            assert row["deliveries_pending"] == 0
        finally:
            aws.stop()
    finally:
        server.stop()
