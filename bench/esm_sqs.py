"""Event source mapping benchmark: records per second through an SQS mapping to a trivial
function. Prints one JSON document; asserts nothing.

    .venv/bin/python bench/esm_sqs.py [--messages 20000] [--moto-messages 1000] [--batch-sizes 10,100]

Two SQS endpoints on loopback: `stub` (bench/sqs_stub.py, a minimal in-memory SQS, so the
figure is lamina's) and `moto` (moto's server, the endpoint the tests use, which is itself
the ceiling at a few dozen messages a second). For scale, each has `sqs_floor`: the rate at
which plain boto3 consumers (receive 10, delete 10, as many threads as lamina starts
pollers) drain the same endpoint with no function in between.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from common import Lamina, free_port, wait_for_port

TRIVIAL = "def handler(event, context):\n    return {}\n"
POLLERS = 5  # lamina starts 5 pollers per SQS mapping, then scales up


class Endpoint:
    """An SQS endpoint process: moto's server, or the stub beside this file."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> Endpoint:
        self.port = free_port()
        command = [sys.executable, "-m", "moto.server", "-p", str(self.port)] if self.kind == "moto" else \
            [sys.executable, str(Path(__file__).with_name("sqs_stub.py")), str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(10)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sqs(self):
        return boto3.client("sqs", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="bench",
                            aws_secret_access_key="bench")


def fill(endpoint: Endpoint, name: str, count: int) -> tuple[str, str]:
    sqs = endpoint.sqs()
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def send(start: int) -> None:
        client = endpoint.sqs()
        for first in range(start, min(count, start + 1000), 10):
            client.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"n": i})} for i in range(first, min(count, first + 10))])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, count, 1000)))
    return url, arn


def remaining(endpoint: Endpoint, url: str) -> int:
    values = endpoint.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(values["ApproximateNumberOfMessages"]) + int(values["ApproximateNumberOfMessagesNotVisible"])


def wait_drained(endpoint: Endpoint, url: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while remaining(endpoint, url):
        if time.monotonic() - started > timeout:
            raise RuntimeError("queue not drained in time")
        time.sleep(0.05)
    return time.monotonic() - started


def sqs_floor(endpoint: Endpoint, count: int) -> dict:
    url, _ = fill(endpoint, "floor", count)
    done = threading.Event()

    def consume() -> None:
        client = endpoint.sqs()
        while not done.is_set():
            messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages")
            if messages:
                client.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    threads = [threading.Thread(target=consume) for _ in range(POLLERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    wait_drained(endpoint, url)
    elapsed = time.monotonic() - started
    done.set()
    for thread in threads:
        thread.join()
    return {"records": count, "seconds": round(elapsed, 2), "records_per_second": round(count / elapsed, 1)}


def through_lamina(endpoint: Endpoint, lamina: Lamina, count: int, batch_size: int) -> dict:
    name = f"bench-{batch_size}"
    url, arn = fill(endpoint, name, count)
    client = lamina.client()
    lamina.create_python_function(name, TRIVIAL)
    window = {} if batch_size <= 10 else {"MaximumBatchingWindowInSeconds": 1}
    started = time.monotonic()
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=batch_size, **window)
    wait_drained(endpoint, url)
    elapsed = time.monotonic() - started
    return {"records": count, "batch_size": batch_size, "seconds": round(elapsed, 2),
            "records_per_second": round(count / elapsed, 1)}


def measure(kind: str, messages: int, batch_sizes: list[int]) -> dict:
    with Endpoint(kind) as endpoint:
        results: dict = {"sqs_floor": sqs_floor(endpoint, messages)}
        environment = {"AWS_ENDPOINT_URL": endpoint.endpoint, "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        with Lamina(environment) as lamina:
            results["through_mapping"] = [through_lamina(endpoint, lamina, messages, size) for size in batch_sizes]
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000, help="messages per run against the stub")
    parser.add_argument("--moto-messages", type=int, default=1000, help="messages per run against moto (0: skip)")
    parser.add_argument("--batch-sizes", default="10,100")
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    results = {"stub": measure("stub", args.messages, sizes)}
    if args.moto_messages:
        results["moto"] = measure("moto", args.moto_messages, sizes)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
