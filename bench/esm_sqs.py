"""Event source mapping benchmark: records per second through an SQS mapping to a trivial
function, against moto's SQS server on loopback. Prints one JSON document; asserts
nothing.

    .venv/bin/python bench/esm_sqs.py [--messages 1000] [--batch-sizes 10,100]

For scale, `sqs_floor` is the rate at which plain boto3 consumers (receive 10, delete 10,
as many threads as lamina starts pollers) drain the same endpoint: moto's SQS is the
ceiling here, not AWS's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from common import Lamina, free_port, wait_for_port

TRIVIAL = "def handler(event, context):\n    return {}\n"
POLLERS = 5  # lamina starts 5 pollers per SQS mapping, then scales up


class Moto:
    def __enter__(self) -> Moto:
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def fill(moto: Moto, name: str, count: int) -> tuple[str, str]:
    sqs = moto.sqs()
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def send(start: int) -> None:
        client = moto.sqs()
        for first in range(start, min(count, start + 1000), 10):
            client.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": json.dumps({"n": i})} for i in range(first, min(count, first + 10))])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(0, count, 1000)))
    return url, arn


def remaining(moto: Moto, url: str) -> int:
    values = moto.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(values["ApproximateNumberOfMessages"]) + int(values["ApproximateNumberOfMessagesNotVisible"])


def wait_drained(moto: Moto, url: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while remaining(moto, url):
        if time.monotonic() - started > timeout:
            raise RuntimeError("queue not drained in time")
        time.sleep(0.05)
    return time.monotonic() - started


def sqs_floor(moto: Moto, count: int) -> dict:
    url, _ = fill(moto, "floor", count)
    done = threading.Event()

    def consume() -> None:
        client = moto.sqs()
        while not done.is_set():
            messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages")
            if messages:
                client.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    threads = [threading.Thread(target=consume) for _ in range(POLLERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    wait_drained(moto, url)
    elapsed = time.monotonic() - started
    done.set()
    for thread in threads:
        thread.join()
    return {"records": count, "seconds": round(elapsed, 2), "records_per_second": round(count / elapsed, 1)}


def through_lamina(moto: Moto, lamina: Lamina, count: int, batch_size: int) -> dict:
    name = f"bench-{batch_size}"
    url, arn = fill(moto, name, count)
    client = lamina.client()
    lamina.create_python_function(name, TRIVIAL)
    window = {} if batch_size <= 10 else {"MaximumBatchingWindowInSeconds": 1}
    started = time.monotonic()
    client.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=batch_size, **window)
    wait_drained(moto, url)
    elapsed = time.monotonic() - started
    return {"records": count, "batch_size": batch_size, "seconds": round(elapsed, 2),
            "records_per_second": round(count / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--batch-sizes", default="10,100")
    args = parser.parse_args()
    results: dict = {}
    with Moto() as moto:
        results["sqs_floor"] = sqs_floor(moto, args.messages)
        environment = {"AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        with Lamina(environment) as lamina:
            results["through_mapping"] = [through_lamina(moto, lamina, args.messages, int(size))
                                          for size in args.batch_sizes.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
