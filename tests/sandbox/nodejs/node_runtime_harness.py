"""Test harness for the managed Node.js runtime: a stand-in Runtime API and the runtime process.

`FakeRuntimeApi` serves the parts of the Runtime API (spec §2) the runtime uses and
records every request it receives; `RuntimeProcess` holds a running `node bootstrap.mjs`.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import lamina.sandbox.runtimes as runtimes

NODE = shutil.which("node")
BOOTSTRAP = Path(runtimes.__file__).parent / "nodejs" / "bootstrap.mjs"
PREFIX = "/2018-06-01/runtime"
WAIT_S = 30  # upper bound for anything to happen; a guard against hangs, not a measurement

# Runtimes before nodejs24.x accept callback-style handlers; tests of callbacks say which they emulate.
CALLBACK_RUNTIME = {"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x"}


class _QuietServer(ThreadingHTTPServer):
    """Runtimes that exit on purpose (the exit-code tests) drop their connection mid-request;
    that is expected here, not worth a traceback in the test output."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Request:
    """One request the runtime made."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    client_port: int
    trailers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Result:
    """What the runtime posted for one invocation."""

    kind: str  # "response" | "error"
    request: Request

    @property
    def body(self):
        return self.request.json


class FakeRuntimeApi:
    def __init__(self) -> None:
        self._events: queue.Queue[tuple[str, bytes, dict[str, str]]] = queue.Queue()
        self._cond = threading.Condition()
        self.requests: list[Request] = []
        self.response_status = 202  # what POST /response answers (413 to play "too large")
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API

            def log_message(self, *args) -> None:
                pass

            def _read_body(self) -> tuple[bytes, dict[str, str], bool]:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0)), {}, False
                body = bytearray()
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        break
                    body += self.rfile.read(size)
                    self.rfile.readline()  # CRLF after each chunk
                trailers = {}
                while (line := self.rfile.readline().strip()) != b"":
                    name, _, value = line.decode().partition(":")
                    trailers[name.strip().lower()] = value.strip()
                return bytes(body), trailers, True

            def _record(self) -> Request:
                body, trailers, chunked = self._read_body()
                req = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address[1],
                    trailers,
                    chunked,
                )
                with api._cond:
                    api.requests.append(req)
                    api._cond.notify_all()
                return req

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._record()
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}\n')
                request_id, body, headers = api._events.get()
                self._reply(200, body, {"Lambda-Runtime-Aws-Request-Id": request_id, **headers})

            def do_POST(self) -> None:
                req = self._record()
                status = api.response_status if req.path.endswith("/response") else 202
                self._reply(
                    status,
                    b'{"status":"OK"}\n' if status == 202 else b'{"errorType":"RequestEntityTooLarge"}\n',
                )

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(
        self,
        event=None,
        *,
        raw: bytes | None = None,
        request_id: str | None = None,
        deadline_ms: int | None = None,
        arn: str = "arn:aws:lambda:us-east-1:000000000000:function:fn",
        trace_id: str | None = None,
        client_context: str | None = None,
        identity: str | None = None,
        tenant_id: str | None = None,
    ) -> str:
        """Queues one event for the runtime's next `GET /next`; returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms or int(time.time() * 1000) + 300_000),
            "Lambda-Runtime-Invoked-Function-Arn": arn,
        }
        optional = {
            "Lambda-Runtime-Trace-Id": trace_id,
            "Lambda-Runtime-Client-Context": client_context,
            "Lambda-Runtime-Cognito-Identity": identity,
            "Lambda-Runtime-Aws-Tenant-Id": tenant_id,
        }
        headers.update({k: v for k, v in optional.items() if v is not None})
        body = raw if raw is not None else json.dumps({} if event is None else event).encode()
        self._events.put((request_id, body, headers))
        return request_id

    def wait_for(self, predicate: Callable[[Request], bool]) -> Request:
        with self._cond:
            for _ in self._wait_rounds():
                found = next((r for r in self.requests if predicate(r)), None)
                if found:
                    return found
        raise AssertionError(f"the runtime never sent the expected request; it sent {self.describe()}")

    def _wait_rounds(self) -> Iterator[None]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            yield
            self._cond.wait(timeout=0.5)
        yield

    def result(self, request_id: str) -> Result:
        req = self.wait_for(
            lambda r: r.method == "POST" and r.path.startswith(f"{PREFIX}/invocation/{request_id}/")
        )
        return Result(req.path.rsplit("/", 1)[1], req)

    def invoke(self, event=None, **kwargs) -> Result:
        return self.result(self.push(event, **kwargs))

    def init_error(self) -> Request:
        return self.wait_for(lambda r: r.path == f"{PREFIX}/init/error")

    def describe(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


class RuntimeProcess:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self._out = bytearray()
        self._err = bytearray()
        self._readers = [
            threading.Thread(target=self._drain, args=(proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._drain, args=(proc.stderr, self._err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _drain(stream, sink: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink.extend(chunk)

    def wait_exit(self) -> int:
        """The exit status of a runtime expected to exit on its own."""
        code = self.proc.wait(timeout=WAIT_S)
        self._join()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)
        self._join()

    def _join(self) -> None:
        for t in self._readers:
            t.join(timeout=WAIT_S)

    def log_lines(self) -> list[str]:
        """Stops the runtime, then returns its stdout as records: split on `\\n` only, so a
        `\\r` inside a record stays visible."""
        self.stop()
        return self._out.decode().split("\n")[:-1]

    @property
    def stderr(self) -> str:
        return self._err.decode()


def base_env(api: FakeRuntimeApi, task: Path, handler: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": handler,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
        "AWS_LAMBDA_FUNCTION_NAME": "my-function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/my-function",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "Text",
        "AWS_REGION": "us-east-1",
        "NODE_PATH": str(task),
    }
