"""The Runtime API over HTTP, exactly (spec §2): driven by a bootstrap that plays the
runtime with http.client (one keep-alive connection, like awslambdaric) and reports what
the agent answered in its next response."""

from __future__ import annotations

import re
import time

import pytest

from lamina.sandbox.agent import wire
from lamina.sandbox.environment import Environment

from .conftest import Harness, body

PROBE = """
    #!/usr/bin/python3
    import http.client, json, os

    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    observed = []

    def call(method, path, body=None, headers=None, chunked=False):
        conn.request(method, "/2018-06-01/" + path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def note(what, status, data):
        observed.append([what, status, data.decode(errors="replace")])

    previous = None
    while True:
        status, headers, event = call("GET", "runtime/invocation/next")
        request_id = headers["lambda-runtime-aws-request-id"]
        case = json.loads(event).get("case") if headers.get("content-type") == "application/json" else "raw"
        base = "runtime/invocation/" + request_id
        port_now = conn.sock.getsockname()[1]
        if case == "headers":
            report = {"status": status, "headers": headers, "event": json.loads(event), "port": port_now}
            call("POST", base + "/response", json.dumps(report), {"Content-Type": "application/json"})
        elif case == "raw":
            call("POST", base + "/response", json.dumps({"content_type": headers.get("content-type"),
                                                          "event": event.decode()}))
        elif case == "double":
            note("first", *call("POST", base + "/response", b'"first"')[::2])
            note("again", *call("POST", base + "/response", b'"again"')[::2])
            note("error after response", *call("POST", base + "/error", b"{}")[::2])
        elif case == "stale":
            note("stale response", *call("POST", "runtime/invocation/" + previous + "/response", b"{}")[::2])
            note("wrong id", *call("POST", "runtime/invocation/nope/response", b"{}")[::2])
            call("POST", base + "/response", json.dumps({"observed": observed, "port": port_now}))
            observed = []
        elif case == "second next":
            again_status, again_headers, again_event = call("GET", "runtime/invocation/next")
            call("POST", base + "/response", json.dumps({
                "same_id": again_headers["lambda-runtime-aws-request-id"] == request_id,
                "same_event": again_event == event, "status": again_status}))
        elif case == "late init error":
            note("init error", *call("POST", "runtime/init/error", b"{}", {"Lambda-Runtime-Function-Error-Type": "Runtime.X"})[::2])
            call("POST", base + "/response", json.dumps({"observed": observed}))
            observed = []
        elif case == "routes":
            note("unknown", *call("GET", "runtime/nothing")[::2])
            note("method", *call("GET", base + "/response")[::2])
            note("ping", *call("GET", "ping")[::2])
            call("POST", base + "/response", json.dumps({"observed": observed}))
            observed = []
        elif case == "error":
            call("POST", base + "/error", b"plain text, not JSON", {"Content-Type": "text/plain",
                                                                   "Lambda-Runtime-Function-Error-Type": "Function.Mine"})
        elif case == "cause":
            cause = {"errorMessage": "m", "errorType": "T", "stackTrace": ["s"], "errorCause": {"paths": []}}
            call("POST", base + "/error", json.dumps(cause),
                 {"Content-Type": "application/vnd.aws.lambda.error.cause+json"})
        elif case == "bad cause":
            call("POST", base + "/error", b"{nope", {"Content-Type": "application/vnd.aws.lambda.error.cause+json"})
        elif case == "too large":
            note("too large", *call("POST", base + "/response", b"x" * 6291557)[::2])
        elif case == "largest":
            call("POST", base + "/response", b'"' + b"y" * 6291554 + b'"')
        elif case == "chunked":
            call("POST", base + "/response", iter([b'{"chunked"', b": true}"]), chunked=True)
        elif case == "report":
            call("POST", base + "/response", json.dumps({"observed": observed}))
            observed = []
        previous = request_id
"""


@pytest.fixture(scope="module")
def probe(sandbox: Harness) -> object:
    return sandbox.function({"bootstrap": PROBE}, runtime="provided.al2023", timeout_s=9)


def test_next_headers(sandbox: Harness, probe: object) -> None:
    before_ms = int(time.time() * 1000)
    result = sandbox.invoke(probe, {"case": "headers"}, trace_id="Root=1-abc;Parent=def;Sampled=1",
                            client_context='{"custom":{"a":"ü"}}', cognito_identity='{"cognitoIdentityId":"i"}',
                            tenant_id="tenant-7")
    after_ms = int(time.time() * 1000)
    out = body(result)
    headers = out["headers"]
    assert out["status"] == 200 and out["event"] == {"case": "headers"}
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["lambda-runtime-aws-request-id"])
    assert headers["lambda-runtime-invoked-function-arn"].endswith(f":function:{probe.function_name}")
    assert headers["lambda-runtime-trace-id"] == "Root=1-abc;Parent=def;Sampled=1"
    assert headers["lambda-runtime-client-context"].encode("latin-1").decode() == '{"custom":{"a":"ü"}}'
    assert headers["lambda-runtime-cognito-identity"] == '{"cognitoIdentityId":"i"}'
    assert headers["lambda-runtime-aws-tenant-id"] == "tenant-7"
    assert headers["content-type"] == "application/json"
    assert before_ms + 9000 <= int(headers["lambda-runtime-deadline-ms"]) <= after_ms + 9000  # dispatch + timeout
    # Headers that have no value are left out.
    plain = body(sandbox.invoke(probe, {"case": "headers"}))["headers"]
    assert not {"lambda-runtime-trace-id", "lambda-runtime-client-context", "lambda-runtime-cognito-identity",
                "lambda-runtime-aws-tenant-id"} & set(plain)


def test_event_content_type_is_passed_on(sandbox: Harness, probe: object) -> None:
    out = body(sandbox.invoke(probe, payload=b"<xml/>", content_type="application/xml"))
    assert out == {"content_type": "application/xml", "event": "<xml/>"}


def test_double_response_is_403_until_next_then_400(sandbox: Harness, probe: object) -> None:
    first = sandbox.invoke(probe, {"case": "double"})
    assert first.payload == b'"first"' and first.error_type is None
    stale = body(sandbox.invoke(probe, {"case": "stale"}))
    report = body(sandbox.invoke(probe, {"case": "report"}))  # nothing left over
    assert report == {"observed": []}
    forbidden = ("{\"errorMessage\":\"State transition from RuntimeResponseSentState to %s failed for runtime. "
                 "Error: State transition is not allowed\",\"errorType\":\"InvalidStateTransition\"}\n")
    invalid_id = '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
    assert stale["observed"] == [
        ["first", 202, '{"status":"OK"}\n'],
        ["again", 403, forbidden % "InvocationResponse"],
        ["error after response", 403, forbidden % "InvocationErrorResponse"],
        ["stale response", 400, invalid_id],
        ["wrong id", 400, invalid_id],
    ]


def test_connection_is_kept_alive(sandbox: Harness, probe: object) -> None:
    ports = {body(sandbox.invoke(probe, {"case": "headers"}))["port"] for _ in range(3)}
    assert len(ports) == 1


def test_second_next_while_running_gets_the_same_event(sandbox: Harness, probe: object) -> None:
    assert body(sandbox.invoke(probe, {"case": "second next"})) == {"same_id": True, "same_event": True, "status": 200}


def test_init_error_after_first_next_is_forbidden(sandbox: Harness, probe: object) -> None:
    out = body(sandbox.invoke(probe, {"case": "late init error"}))
    assert out["observed"] == [["init error", 403, '{"errorMessage":"State transition from Running to InitError '
                                "failed for runtime. Error: State transition is not allowed\","
                                '"errorType":"InvalidStateTransition"}\n']]


def test_unknown_routes_and_methods(sandbox: Harness, probe: object) -> None:
    out = body(sandbox.invoke(probe, {"case": "routes"}))
    assert out["observed"] == [["unknown", 404, "404 page not found\n"], ["method", 405, ""], ["ping", 200, "pong"]]


def test_error_bodies_pass_through(sandbox: Harness, probe: object) -> None:
    plain = sandbox.invoke(probe, {"case": "error"})
    assert plain.payload == b"plain text, not JSON" and plain.content_type == "text/plain"
    assert plain.error_type == "Function.Mine" and plain.status == "error"
    cause = sandbox.invoke(probe, {"case": "cause"})
    assert body(cause) == {"errorMessage": "m", "errorType": "T", "stackTrace": ["s"]}
    assert cause.content_type == "application/json" and cause.error_type == "T"
    assert sandbox.invoke(probe, {"case": "bad cause"}).payload == b'"Invalid error body"'


def test_response_size_limit(sandbox: Harness, probe: object) -> None:
    too_large = sandbox.invoke(probe, {"case": "too large"})
    assert too_large.error_type == "Function.ResponseSizeTooLarge"
    assert body(too_large) == {"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                               "(6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"}
    report = body(sandbox.invoke(probe, {"case": "report"}))  # no reset: the same runtime goes on
    assert report["observed"] == [["too large", 413, '{"errorMessage":"Exceeded maximum allowed payload size '
                                                      '(6291556 bytes).","errorType":"RequestEntityTooLarge"}\n']]
    largest = sandbox.invoke(probe, {"case": "largest"})
    assert largest.error_type is None and len(largest.payload) == 6291556


def test_chunked_response_body(sandbox: Harness, probe: object) -> None:
    assert body(sandbox.invoke(probe, {"case": "chunked"})) == {"chunked": True}


INIT_ERROR_BOOTSTRAP = """
    #!/bin/sh
    echo "init failing"
    curl -sS -X POST "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error" \\
         -H "Lambda-Runtime-Function-Error-Type: Runtime.NoConfig" \\
         -d '{"errorMessage":"config missing","errorType":"Runtime.NoConfig","stackTrace":[]}' >/dev/null
    exit 1
"""


def test_init_error_is_stored_and_returned(sandbox: Harness) -> None:
    spec = sandbox.function({"bootstrap": INIT_ERROR_BOOTSTRAP}, runtime="provided.al2023")
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.NoConfig"
    assert result.payload == b'{"errorMessage":"config missing","errorType":"Runtime.NoConfig","stackTrace":[]}'
    reports = [line.message for line in result.init_log if line.message.startswith("INIT_REPORT")]
    assert [r.split("\t", 1)[1] for r in reports] == [
        "Phase: init\tStatus: error\tError Type: Runtime.NoConfig",
        "Phase: invoke\tStatus: error\tError Type: Runtime.NoConfig"]
    assert [line.message for line in result.init_log].count("init failing") == 2


def test_an_init_error_read_together_with_the_runtimes_exit_is_still_the_error(
        sandbox: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy server reads the init error and the exit that follows it at once; the reset
    and the suppressed init still run, and the error is what the caller gets."""
    send_control = Environment._send_control

    async def slow_after_assign(self: Environment, kind: int, *fields: bytes, fds: list[int] | None = None) -> None:
        await send_control(self, kind, *fields, fds=fds)
        if kind == wire.ASSIGN:
            time.sleep(1.5)  # the loop is blocked: the agent's next frames pile up in the socket

    monkeypatch.setattr(Environment, "_send_control", slow_after_assign)
    spec = sandbox.function({"bootstrap": INIT_ERROR_BOOTSTRAP}, runtime="provided.al2023")
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.NoConfig", result.payload
    reports = [line.message for line in result.init_log if line.message.startswith("INIT_REPORT")]
    assert [r.split("\t", 1)[1] for r in reports] == [
        "Phase: init\tStatus: error\tError Type: Runtime.NoConfig",
        "Phase: invoke\tStatus: error\tError Type: Runtime.NoConfig"]
