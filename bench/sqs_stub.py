"""A minimal in-memory SQS endpoint (JSON protocol) for the benchmark: just the calls an SQS
mapping makes, fast enough that the figure measures lamina rather than the endpoint
(moto's SQS drains a few dozen messages per second on this machine).

    python bench/sqs_stub.py PORT

Standard queues only: visibility timeouts, long polling, receive counts. Not a test
double for correctness: the tests use moto.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT = "000000000000"


class Queue:
    def __init__(self, name: str) -> None:
        self.name = name
        self.visible: deque[dict[str, Any]] = deque()
        self.in_flight: dict[str, tuple[float, dict[str, Any]]] = {}  # receipt -> (visible again at, message)
        self.visibility_timeout = 30
        self.changed = threading.Condition()

    def send(self, body: str) -> str:
        message = {"MessageId": str(uuid.uuid4()), "Body": body, "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                   "sent": int(time.time() * 1000), "receives": 0}
        with self.changed:
            self.visible.append(message)
            self.changed.notify()
        return message["MessageId"]

    def _expire(self, now: float) -> None:
        for receipt, (until, message) in list(self.in_flight.items()):
            if until <= now:
                del self.in_flight[receipt]
                self.visible.append(message)

    def receive(self, count: int, wait: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + wait
        with self.changed:
            while True:
                self._expire(time.time())
                if self.visible or time.monotonic() >= deadline:
                    break
                self.changed.wait(min(0.5, deadline - time.monotonic()))
            taken = []
            while self.visible and len(taken) < count:
                message = self.visible.popleft()
                message["receives"] += 1
                receipt = str(uuid.uuid4())
                self.in_flight[receipt] = (time.time() + self.visibility_timeout, message)
                taken.append({"MessageId": message["MessageId"], "ReceiptHandle": receipt, "Body": message["Body"],
                              "MD5OfBody": message["MD5OfBody"],
                              "Attributes": {"ApproximateReceiveCount": str(message["receives"]),
                                             "SentTimestamp": str(message["sent"]), "SenderId": ACCOUNT,
                                             "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))}})
            return taken

    def delete(self, receipt: str) -> None:
        with self.changed:
            self.in_flight.pop(receipt, None)

    def change_visibility(self, receipt: str, seconds: int) -> None:
        with self.changed:
            entry = self.in_flight.get(receipt)
            if entry is not None:
                self.in_flight[receipt] = (time.time() + seconds, entry[1])
                self.changed.notify()

    def counts(self) -> tuple[int, int]:
        with self.changed:
            self._expire(time.time())
            return len(self.visible), len(self.in_flight)


QUEUES: dict[str, Queue] = {}


def _queue(params: dict[str, Any]) -> Queue:
    return QUEUES[params["QueueUrl"].rsplit("/", 1)[1]]


def handle(operation: str, params: dict[str, Any], host: str) -> dict[str, Any]:
    if operation == "CreateQueue":
        queue = QUEUES.setdefault(params["QueueName"], Queue(params["QueueName"]))
        queue.visibility_timeout = int((params.get("Attributes") or {}).get("VisibilityTimeout", 30))
        return {"QueueUrl": f"http://{host}/{ACCOUNT}/{queue.name}"}
    if operation == "GetQueueUrl":
        return {"QueueUrl": f"http://{host}/{ACCOUNT}/{params['QueueName']}"}
    if operation == "GetQueueAttributes":
        queue = _queue(params)
        visible, in_flight = queue.counts()
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{queue.name}",
                               "VisibilityTimeout": str(queue.visibility_timeout),
                               "ApproximateNumberOfMessages": str(visible),
                               "ApproximateNumberOfMessagesNotVisible": str(in_flight)}}
    if operation == "SendMessageBatch":
        queue = _queue(params)
        return {"Successful": [{"Id": e["Id"], "MessageId": queue.send(e["MessageBody"]), "MD5OfMessageBody": ""}
                               for e in params["Entries"]], "Failed": []}
    if operation == "ReceiveMessage":
        messages = _queue(params).receive(int(params.get("MaxNumberOfMessages", 1)),
                                          float(params.get("WaitTimeSeconds", 0)))
        return {"Messages": messages} if messages else {}
    if operation == "DeleteMessageBatch":
        queue = _queue(params)
        for entry in params["Entries"]:
            queue.delete(entry["ReceiptHandle"])
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}
    if operation == "ChangeMessageVisibilityBatch":
        queue = _queue(params)
        for entry in params["Entries"]:
            queue.change_visibility(entry["ReceiptHandle"], int(entry["VisibilityTimeout"]))
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}
    raise KeyError(operation)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (the http.server interface)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        try:
            status, result = 200, handle(operation, json.loads(body or b"{}"), self.headers.get("Host", ""))
        except KeyError as e:
            status, result = 400, {"__type": "com.amazonaws.sqs#InvalidAction", "message": f"unsupported: {e}"}
        payload = json.dumps(result).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
