"""Slow, greedy and oversized clients do not hold the front door (issue 10, items 6 and 7):
request heads and bodies that stall are timed out, a client address holds a bounded number
of connections, an oversized body is refused from its head, and pipelined requests are read
one at a time."""

from __future__ import annotations

import json
import socket
import time

import pytest
from botocore.exceptions import ClientError

from helpers import LaminaServer, create_python_function, make_zip

TIMEOUT_S = 1.0
INVOKE = "/2015-03-31/functions/{name}/invocations"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory) -> LaminaServer:
    server = LaminaServer(tmp_path_factory.mktemp("slow-clients") / "data", env={
        "LAMINA_HTTP_HEADER_TIMEOUT_SECONDS": str(TIMEOUT_S), "LAMINA_HTTP_BODY_TIMEOUT_SECONDS": str(TIMEOUT_S),
        "LAMINA_HTTP_MAX_CONNECTIONS_PER_CLIENT": "400"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory) -> LaminaServer:
    server = LaminaServer(tmp_path_factory.mktemp("capped") / "data", env={
        "LAMINA_HTTP_MAX_CONNECTIONS_PER_CLIENT": "20"}).start()
    yield server
    server.stop()


def connect(server: LaminaServer, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body[:int(headers.get("content-length", len(body)))]


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """`count` responses in the order they arrive."""
    buffer, responses = b"", []
    while len(responses) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(responses)} responses"
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status, headers, _ = parse_response(head + b"\r\n\r\n")
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a response body"
            rest += chunk
        responses.append((status, headers, rest[:length]))
        buffer = rest[length:]
    return responses


def test_stalled_heads_and_bodies_are_closed_while_others_are_served(impatient):
    client = impatient.client()
    half_heads = [connect(impatient) for _ in range(100)]
    for sock in half_heads:
        sock.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-")
    half_bodies = [connect(impatient) for _ in range(100)]
    for sock in half_bodies:
        sock.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"Fun")
    started = time.monotonic()

    answered = 0
    while time.monotonic() - started < TIMEOUT_S * 2:  # the server keeps answering meanwhile
        assert client.list_functions()["Functions"] == []
        answered += 1
    assert answered > 10

    for sock in half_heads + half_bodies:
        status, headers, body = parse_response(read_until_closed(sock))  # the server closes it
        assert status == 408 and headers["connection"] == "close"
        sock.close()
    # Closed in about the timeout (a generous bound: the machine is shared).
    assert time.monotonic() - started < TIMEOUT_S + 10


def test_a_body_that_keeps_coming_is_not_timed_out(impatient):
    sock = connect(impatient)
    body = json.dumps({"FunctionName": "slow"}).encode()
    sock.sendall(b"GET /2015-03-31/functions/slow HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    for byte in body:  # each piece well within the body timeout, the whole much longer
        sock.sendall(bytes([byte]))
        time.sleep(TIMEOUT_S * 1.5 / len(body))
    [(status, headers, payload)] = read_responses(sock, 1)
    assert status == 404 and headers["x-amzn-errortype"] == "ResourceNotFoundException"
    sock.close()


def test_an_idle_new_connection_is_closed_after_the_header_timeout(impatient):
    sock = connect(impatient)
    started = time.monotonic()
    status, _, _ = parse_response(read_until_closed(sock))
    assert status == 408
    assert TIMEOUT_S * 0.9 < time.monotonic() - started < TIMEOUT_S + 10
    sock.close()


def test_connections_over_the_per_client_cap_are_refused(capped):
    held = [connect(capped) for _ in range(20)]
    try:
        extra = connect(capped)
        status, headers, body = parse_response(read_until_closed(extra))
        extra.close()
        assert status == 429
        assert headers["x-amzn-errortype"] == "TooManyRequestsException"
        assert headers["retry-after"] == "1"
        assert json.loads(body)["message"] == "Too many connections from 127.0.0.1: at most 20 at a time."

        # What an SDK sees: a throttle it can retry.
        with pytest.raises(ClientError) as excinfo:
            capped.client().list_functions()
        assert excinfo.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # the server sees the closes a moment later
        try:
            assert capped.client().list_functions()["Functions"] == []
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


@pytest.mark.parametrize("headers, code, message", [
    ({"Content-Length": "7000000"}, "RequestEntityTooLargeException",
     "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    ({"Content-Length": "6291456", "X-Amz-Invocation-Type": "DryRun"}, "RequestEntityTooLargeException",
     "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    ({"Content-Length": "2000000", "X-Amz-Invocation-Type": "Event"}, "RequestEntityTooLargeException",
     "2000000 byte payload is too large for the Event invocation type (limit 1048576 bytes)"),
])
def test_an_oversized_invoke_is_refused_from_its_head(impatient, headers, code, message):
    sock = connect(impatient)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    # No body is sent: the answer comes from the head alone.
    sock.sendall(f"POST {INVOKE.format(name='big')} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
    status, response_headers, body = parse_response(read_until_closed(sock))
    sock.close()
    assert status == 413
    assert response_headers["x-amzn-errortype"] == code
    assert response_headers["connection"] == "close"
    assert json.loads(body) == {"Type": "User", "message": message}


def test_step_functions_requests_are_limited_to_1_mb(impatient):
    sock = connect(impatient)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\n"
                 b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 2000000\r\n\r\n")
    status, headers, body = parse_response(read_until_closed(sock))
    sock.close()
    assert status == 413
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    assert json.loads(body)["message"] == "Request must be smaller than 1048576 bytes for the StartExecution operation"


def test_an_endless_request_head_is_refused(impatient):
    sock = connect(impatient)
    sock.sendall(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n")
    try:
        for i in range(2000):  # 2 MB of headers offered
            sock.sendall(b"X-Filler-%d: %s\r\n" % (i, b"z" * 1000))
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, _, _ = parse_response(read_until_closed(sock))
    sock.close()
    assert status == 431


def test_a_chunked_body_is_refused_once_it_passes_the_limit(impatient):
    sock = connect(impatient)
    sock.sendall(f"POST {INVOKE.format(name='big')} HTTP/1.1\r\nHost: x\r\n"
                 "X-Amz-Invocation-Type: Event\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"%x\r\n%s\r\n" % (256 * 1024, b"x" * 256 * 1024)
    sent = 0
    try:
        for _ in range(8):  # 2 MB offered; the limit is 1 MB
            sock.sendall(chunk)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, headers, body = parse_response(read_until_closed(sock))
    sock.close()
    assert status == 413
    assert json.loads(body)["message"].endswith("byte payload is too large for the Event invocation type "
                                                "(limit 1048576 bytes)")


def test_an_sdk_sending_an_oversized_payload_reads_the_error(impatient):
    with pytest.raises(ClientError) as excinfo:
        impatient.client().invoke(FunctionName="big", Payload=b'"' + b"x" * 7_000_000 + b'"')
    error = excinfo.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")


SLEEPER = make_zip({"app.py": "import time\ndef handler(event, context):\n    time.sleep(2)\n    return 'slept'\n"})


def test_pipelined_requests_are_answered_in_order_and_read_one_at_a_time(impatient):
    client = impatient.client()
    create_python_function(client, "sleeper", zip_bytes=SLEEPER, Timeout=30)
    client.invoke(FunctionName="sleeper")  # warm: the next call takes its 2 s only

    body = b'"' + b"y" * (5 << 20) + b'"'  # 5 MB: the server buffering ten of these would show
    follow_ups = 12
    stream = f"POST {INVOKE.format(name='sleeper')} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
    for i in range(follow_ups):
        stream += (f"POST {INVOKE.format(name=f'absent-{i}')} HTTP/1.1\r\nHost: x\r\n"
                   f"X-Amz-Invocation-Type: DryRun\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    sock = connect(impatient)
    sock.setblocking(False)
    accepted = 0
    deadline = time.monotonic() + 1.0  # the first request takes 2 s: measure what is read meanwhile
    while time.monotonic() < deadline and accepted < len(stream):
        try:
            accepted += sock.send(stream[accepted:accepted + (1 << 20)])
        except BlockingIOError:
            time.sleep(0.01)
    # Past the kernel's socket buffers, only the request in progress and one read are taken.
    assert accepted < 6 * len(body), f"{accepted} bytes read ahead while the first request ran"

    sock.setblocking(True)
    sock.settimeout(60)
    sock.sendall(stream[accepted:])
    responses = read_responses(sock, 1 + follow_ups)
    sock.close()
    assert responses[0][0] == 200 and responses[0][2] == b'"slept"'
    for i, (status, headers, payload) in enumerate(responses[1:]):
        assert (status, headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException"), payload
        assert f"absent-{i}" in json.loads(payload)["Message"]
