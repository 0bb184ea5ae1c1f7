"""The pieces that need no sandbox: frames, log capture, the Runtime API's HTTP parser."""

from __future__ import annotations

import os
import socket

import pytest

from lamina.sandbox.agent import wire
from lamina.sandbox.agent.http import HttpConnection, Request
from lamina.sandbox.agent.runtime_api import error_type_of, normalise_error_body
from lamina.sandbox.logcapture import MAX_KEPT, MAX_LINE, LogCapture


def test_frames_round_trip_in_any_chunking() -> None:
    frames = [wire.encode(wire.INVOKE, b"id", b"", b"x" * 70000), wire.encode(wire.R_NEXT),
              wire.encode(wire.RESULT, b"a", b"b", b"c", b"d", b"")]
    stream = b"".join(frames)
    for size in (1, 7, 4096, len(stream)):
        reader = wire.FrameReader()
        got = []
        for start in range(0, len(stream), size):
            got += reader.feed(stream[start:start + size])
        assert got == [(wire.INVOKE, [b"id", b"", b"x" * 70000]), (wire.R_NEXT, []),
                       (wire.RESULT, [b"a", b"b", b"c", b"d", b""])]


def test_oversized_frame_is_refused() -> None:
    header = wire.HEADER.pack(wire.MAX_FRAME + 1, wire.RESULT, 0)
    with pytest.raises(ValueError):
        wire.FrameReader().feed(header)


def test_error_types_as_the_caller_sees_them() -> None:
    assert error_type_of(None, b'{"errorType": "ValueError"}') == "ValueError"
    assert error_type_of("Function.Custom", b"not json") == "Function.Custom"
    assert error_type_of("x Runtime.Abc y", b"") == "x Runtime.Abc y"
    assert error_type_of("Function.lower", b"") == "Function.Unknown"
    assert error_type_of("bogus", b"") == "Runtime.Unknown"
    assert error_type_of(None, b"[]") == "Runtime.Unknown"
    cause = "application/vnd.aws.lambda.error.cause+json"
    assert normalise_error_body(b'{"errorMessage":"m","errorCause":{}}', cause) == (
        b'{"errorMessage": "m"}', "application/json")
    assert normalise_error_body(b"text", "text/plain") == (b"text", "text/plain")


def _capture() -> tuple[LogCapture, int]:
    read_end, write_end = os.pipe()
    return LogCapture(read_end), write_end


def test_log_lines_partial_and_long() -> None:
    capture, writer = _capture()
    os.write(writer, b"one\ntwo\r\nthr")
    capture.drain()
    os.write(writer, b"ee\n" + b"L" * (MAX_LINE + 10) + b"\nunterminated")
    lines = [line.message for line in capture.take()]
    assert lines == ["one", "two\r", "three", "L" * MAX_LINE, "L" * 10, "unterminated"]
    assert capture.take() == []
    os.close(writer)
    capture.close()


def test_log_is_capped_per_phase() -> None:
    capture, writer = _capture()
    line = b"y" * 1023 + b"\n"
    for _ in range(2):  # 2 x 512 KiB: at the cap, then beyond it
        os.write(writer, line * 512)
        capture.drain()
    os.write(writer, line * 8)
    lines = capture.take()
    assert sum(len(entry.message) + 1 for entry in lines[:-1]) <= MAX_KEPT
    assert lines[-1].message == f"[lamina] {8 * 1024} bytes of log output dropped: at most {MAX_KEPT} bytes are kept per invocation"
    os.write(writer, b"next phase\n")
    assert [entry.message for entry in capture.take()] == ["next phase"]
    os.close(writer)
    capture.close()


class _Server:
    """An HttpConnection on one end of a socketpair, the test's client on the other."""

    def __init__(self, body_limit: int = 1000) -> None:
        self.client, server = socket.socketpair()
        self.requests: list[Request] = []
        self.connection = HttpConnection(server, self._on_request, lambda c: None, body_limit)

    def _on_request(self, connection: HttpConnection, request: Request) -> None:
        self.requests.append(request)
        if request.path != "/hold":
            connection.respond(202, [("Content-Type", "text/plain")], request.body[:10])

    def send(self, data: bytes) -> bytes:
        self.client.sendall(data)
        self.connection.on_readable()
        self.client.settimeout(0.5)
        chunks = []
        try:
            while True:
                chunks.append(self.client.recv(65536))
                if not chunks[-1]:
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_http_chunked_body_with_trailers_and_100_continue() -> None:
    server = _Server()
    reply = server.send(b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nLambda-Runtime-Function-Error-Type: X.Y\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n")
    request = server.requests[0]
    assert request.body == b"hello world" and request.trailers == {"lambda-runtime-function-error-type": "X.Y"}


def test_http_pipelined_requests_wait_for_a_pending_one() -> None:
    server = _Server()
    reply = server.send(b"GET /hold HTTP/1.1\r\n\r\nPOST /r HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    assert reply == b"" and len(server.requests) == 1
    server.connection.respond(200, [], b"held")
    server.client.settimeout(0.5)
    both = server.client.recv(65536)
    assert both.count(b"HTTP/1.1") == 2 and both.endswith(b"abc")
    assert [r.path for r in server.requests] == ["/hold", "/r"]


def test_http_body_over_the_limit_is_counted_not_kept() -> None:
    server = _Server(body_limit=10)
    reply = server.send(b"POST /r HTTP/1.1\r\nContent-Length: 50\r\n\r\n" + b"z" * 50)
    assert reply.startswith(b"HTTP/1.1 202")
    request = server.requests[0]
    assert request.too_large and request.size == 50 and request.body == b""


def test_http_malformed_request_is_400_and_closes() -> None:
    server = _Server()
    reply = server.send(b"NONSENSE\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 Bad Request") and b"Connection: close" in reply
    assert server.connection.closed


def test_a_read_holding_exactly_one_frame_decodes_it() -> None:
    frame = wire.encode(wire.R_RESPONSE, b"id", b"application/json", b"{}", b"30000")
    reader = wire.FrameReader()
    assert reader.feed(memoryview(frame)) == [(wire.R_RESPONSE, [b"id", b"application/json", b"{}", b"30000"])]
    assert reader.feed(frame[:5]) == [] and reader.feed(frame[5:]) == [(wire.R_RESPONSE, [b"id", b"application/json",
                                                                                          b"{}", b"30000"])]


def test_a_frame_too_short_for_its_field_lengths_is_refused() -> None:
    """Malformed frames are a ValueError (a protocol violation), whatever is wrong with them."""
    for count in (3, 40):
        with pytest.raises(ValueError):
            wire.FrameReader().feed(wire.HEADER.pack(4, wire.R_RESPONSE, count) + b"\0" * 4)


def test_log_capture_reads_only_what_the_pipe_holds(monkeypatch) -> None:
    """Most invocations print nothing: taking their (empty) log reads nothing, so no read of
    an empty pipe fails on every invoke; a pipe with output is read with no failing read after it."""
    import lamina.sandbox.logcapture as logcapture

    reads: list[int] = []
    real_read = os.read

    def counted_read(fd: int, size: int) -> bytes:
        reads.append(size)
        return real_read(fd, size)

    capture, writer = _capture()
    monkeypatch.setattr(logcapture.os, "read", counted_read)
    assert capture.take() == []
    assert reads == []
    os.write(writer, b"printed\n")
    assert [line.message for line in capture.take()] == ["printed"]
    assert reads == [len(b"printed\n")]
    os.close(writer)
    capture.close()
