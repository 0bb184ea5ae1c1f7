"""Server side of HTTP/1.1 for the Runtime API: keep-alive, Content-Length and chunked
request bodies (with trailers), `Expect: 100-continue`, non-blocking writes.

Requests on one connection are answered in order; while one is pending (a long-polling
`/next`), later pipelined requests wait in the buffer. Bodies beyond `body_limit` are read
and counted but not kept, so the connection stays usable and memory stays bounded.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no `typing` at run time: see agent.py
if TYPE_CHECKING:
    from socket import socket
    from typing import Callable

MAX_HEAD = 64 * 1024
_REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 413: "Request Entity Too Large",
            500: "Internal Server Error"}


class Request:
    __slots__ = ("method", "path", "headers", "body", "chunks", "size", "too_large", "trailers", "keep_alive")

    def __init__(self, method: str, path: str, headers: dict[str, str], keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.headers = headers  # lower-case names
        self.body = b""
        self.chunks: list[bytes] = []
        self.size = 0  # body bytes received, kept or not
        self.too_large = False
        self.trailers: dict[str, str] = {}
        self.keep_alive = keep_alive


class BadRequest(Exception):
    pass


def _parse_fields(lines: list[bytes]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header line")
        fields[name.decode("latin-1").lower()] = value.strip().decode("latin-1")
    return fields


class HttpConnection:
    """One accepted connection. `on_request(conn, request)` must eventually call
    `conn.respond(...)` exactly once per request."""

    def __init__(self, sock: socket, on_request: Callable[[HttpConnection, Request], None],
                 on_closed: Callable[[HttpConnection], None], body_limit: int) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        self._on_request = on_request
        self._on_closed = on_closed
        self._body_limit = body_limit
        self._in = bytearray()
        self._out = bytearray()
        self._request: Request | None = None  # being received
        self._stage = "head"  # head | length | chunk-size | chunk-data | chunk-end | trailers
        self._remaining = 0
        self.pending: Request | None = None  # received, not yet answered
        self.closed = False
        self.waiter: Callable[..., None] | None = None  # this connection's pending /next, if any
        self._close_after_write = False
        self.want_write: Callable[[bool], None] = lambda _on: None

    # -- reading ------------------------------------------------------------------------

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(256 * 1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self._in += data
        self._parse()

    def _parse(self) -> None:
        try:
            while not self.closed and self.pending is None and self._step():
                pass
        except BadRequest:
            self._request = None
            self._send(400, [("Content-Type", "text/plain")], b"Bad Request\n", close=True)

    def _step(self) -> bool:
        """Advance the parser; False when more input is needed."""
        stage = self._stage
        buf = self._in
        if stage == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise BadRequest("request head too large")
                return False
            lines = bytes(buf[:end]).split(b"\r\n")
            del buf[:end + 4]
            self._start_request(lines)
            return True
        if stage == "length":
            if not self._take_body(buf):
                return False
            self._finish_request()
            return True
        if stage == "chunk-size":
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 1024:
                    raise BadRequest("chunk size line too long")
                return False
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            del buf[:end + 2]
            try:
                self._remaining = int(size_text, 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            self._stage = "chunk-data" if self._remaining else "trailers"
            return True
        if stage == "chunk-data":
            if not self._take_body(buf):
                return False
            self._stage = "chunk-end"
            return True
        if stage == "chunk-end":
            if len(buf) < 2:
                return False
            if buf[:2] != b"\r\n":
                raise BadRequest("chunk not terminated")
            del buf[:2]
            self._stage = "chunk-size"
            return True
        # trailers: header lines up to an empty line
        end = buf.find(b"\r\n\r\n") if not buf.startswith(b"\r\n") else -2
        if end == -2:
            del buf[:2]
            self._finish_request()
            return True
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise BadRequest("trailers too large")
            return False
        trailers = _parse_fields(bytes(buf[:end]).split(b"\r\n"))
        del buf[:end + 4]
        assert self._request is not None
        self._request.trailers = trailers
        self._finish_request()
        return True

    def _start_request(self, lines: list[bytes]) -> None:
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise BadRequest("malformed request line")
        headers = _parse_fields(lines[1:])
        version = parts[2]
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == b"HTTP/1.1" else connection == "keep-alive"
        request = Request(parts[0].decode("latin-1"), parts[1].decode("latin-1"), headers, keep_alive)
        self._request = request
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._stage = "chunk-size"
        else:
            try:
                self._remaining = int(headers.get("content-length", "0"))
            except ValueError:
                raise BadRequest("bad content-length") from None
            if self._remaining < 0:
                raise BadRequest("bad content-length")
            if not self._remaining:
                self._finish_request()
                return
            self._stage = "length"
        if headers.get("expect", "").lower() == "100-continue":
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _take_body(self, buf: bytearray) -> bool:
        """Move up to `_remaining` body bytes out of `buf`; True once all have arrived."""
        take = min(self._remaining, len(buf))
        self._keep(buf[:take])
        del buf[:take]
        self._remaining -= take
        return not self._remaining

    def _keep(self, data: bytearray) -> None:
        request = self._request
        assert request is not None
        request.size += len(data)
        if request.too_large:
            return
        if request.size > self._body_limit:
            request.too_large = True
            request.chunks = []
            return
        request.chunks.append(bytes(data))

    def _finish_request(self) -> None:
        request = self._request
        assert request is not None
        self._request = None
        self._stage = "head"
        request.body = b"".join(request.chunks)
        request.chunks = []
        self.pending = request
        self._on_request(self, request)

    @property
    def receiving_body(self) -> Request | None:
        """The request whose body was cut off if the connection closed now."""
        return self._request if self._stage != "head" else None

    # -- writing ------------------------------------------------------------------------

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        request = self.pending
        self.pending = None
        close = request is None or not request.keep_alive
        self._send(status, headers, body, close)
        if not self.closed and not close and self._in:
            self._parse()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, close: bool) -> None:
        if self.closed:
            return
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        head += [f"{name}: {value}" for name, value in headers]
        head.append(f"Content-Length: {len(body)}")
        if close:
            head.append("Connection: close")
            self._close_after_write = True
        self._write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _write(self, data: bytes) -> None:
        if self._out:
            self._out += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):
            self._out += data[sent:]
            self.want_write(True)
        elif self._close_after_write:
            self.close()

    def on_writable(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        del self._out[:sent]
        if not self._out:
            self.want_write(False)
            if self._close_after_write:
                self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._on_closed(self)
        try:
            self.sock.close()
        except OSError:
            pass
