"""The Invoke fast path answers exactly as the generic model-driven path does.

One lamina listens twice over the same services (`dual_front_door.py`): with the fast path,
and with the generic path only. Each test sends the same bytes to both and compares what a
client sees: status, headers and body (request ids and durations aside, which differ by
nature). One lamina has no access keys (any caller is accepted), the other checks SigV4.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from helpers import create_python_function, free_port, make_zip

HOST = "lamina.test"  # the Host header both ports get: it is signed, and URLs are built on it
ECHO = "def handler(event, context):\n    return event\n"
FAIL = "def handler(event, context):\n    raise ValueError('boom')\n"
KEY_ID, SECRET, KEYED_ACCOUNT = "AKIDFASTPATH", "s3cret", "123456789012"
OPEN_ACCOUNT = "000000000000"


class DualLamina:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.fast_port, self.generic_port = free_port(), free_port()
        self.env = env

    def start(self) -> DualLamina:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        env.update(self.env)
        script = Path(__file__).with_name("dual_front_door.py")
        self.log = open(self.data_dir.parent / f"dual-{self.fast_port}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.data_dir), str(self.fast_port), str(self.generic_port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent)
        deadline = time.monotonic() + 60
        for port in (self.fast_port, self.generic_port):
            while True:
                assert self.process.poll() is None, "the dual lamina exited"
                try:
                    if requests.get(f"http://127.0.0.1:{port}/_lamina/health", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "the dual lamina did not become healthy"
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()

    def client(self, key_id: str, secret: str):
        return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{self.fast_port}", region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret,
                            config=BotoConfig(retries={"max_attempts": 0}, read_timeout=120))

    def deploy(self, client) -> None:
        create_python_function(client, "echo", zip_bytes=make_zip({"app.py": ECHO}))
        create_python_function(client, "fail", zip_bytes=make_zip({"app.py": FAIL}))
        client.publish_version(FunctionName="echo")
        client.create_alias(FunctionName="echo", Name="live", FunctionVersion="1")


@pytest.fixture(scope="module")
def open_lamina(tmp_path_factory) -> DualLamina:
    lamina = DualLamina(tmp_path_factory.mktemp("dual-open") / "data", {}).start()
    try:
        lamina.deploy(lamina.client(OPEN_ACCOUNT, "secret"))
        yield lamina
    finally:
        lamina.stop()


@pytest.fixture(scope="module")
def keyed_lamina(tmp_path_factory) -> DualLamina:
    lamina = DualLamina(tmp_path_factory.mktemp("dual-keyed") / "data",
                        {"LAMINA_ACCESS_KEYS": f"{KEY_ID}:{SECRET}:{KEYED_ACCOUNT}"}).start()
    try:
        lamina.deploy(lamina.client(KEY_ID, SECRET))
        yield lamina
    finally:
        lamina.stop()


# ------------------------------------------------------------------------- sending


def invocation_path(name: str, query: str = "") -> str:
    return f"/2015-03-31/functions/{name}/invocations" + (f"?{query}" if query else "")


def send(port: int, method: str, target: str, headers: dict[str, str], body: bytes | list[bytes]
         ) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", HOST)
        for name, value in headers.items():
            connection.putheader(name, value)
        if isinstance(body, list):  # chunked
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for chunk in body:
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
        else:
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NUMBER = re.compile(rb"\d+(?:\.\d+)?")


def seen(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], bytes]:
    """What a client sees, but for what differs between any two calls: request ids and durations."""
    status, headers, body = answer
    headers = dict(headers)
    request_id = headers.pop("x-amzn-requestid")
    assert _UUID.fullmatch(request_id.encode())
    if "x-amz-log-result" in headers:
        tail = base64.b64decode(headers["x-amz-log-result"])
        headers["x-amz-log-result"] = _NUMBER.sub(b"N", _UUID.sub(b"ID", tail)).decode()
    headers.pop("content-length", None)  # none on a 204
    return status, headers, _UUID.sub(b"ID", body)


def both(lamina: DualLamina, target: str, headers: dict[str, str] | None = None, body: bytes | list[bytes] = b"",
         method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    """The answer, asserted the same from both paths."""
    fast = seen(send(lamina.fast_port, method, target, headers or {}, body))
    generic = seen(send(lamina.generic_port, method, target, headers or {}, body))
    assert fast == generic
    return fast


def signed_headers(target: str, body: bytes, key_id: str = KEY_ID, secret: str = SECRET,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=f"http://{HOST}{target}", data=body, headers=extra or {})
    SigV4Auth(Credentials(key_id, secret), "lambda", "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def error_code(answer: tuple[int, dict[str, str], bytes]) -> str:
    return answer[1]["x-amzn-errortype"]


# ------------------------------------------------------------------------- valid requests


ARN = f"arn:aws:lambda:us-east-1:{OPEN_ACCOUNT}:function:echo"


@pytest.mark.parametrize("name, query", [
    ("echo", ""),
    (quote(ARN, safe=""), ""),
    (ARN, ""),
    (quote(f"{OPEN_ACCOUNT}:function:echo", safe=""), ""),
    ("echo:$LATEST", ""),
    (quote("echo:$LATEST", safe=""), ""),
    ("echo", "Qualifier=%24LATEST"),
    ("echo", "Qualifier=$LATEST"),
    ("echo", "Qualifier=1"),
    ("echo", "Qualifier=live"),
    ("echo:live", "Qualifier=live"),
    (quote(f"{ARN}:1", safe=""), ""),
])
def test_names_and_qualifiers_that_run(open_lamina, name, query):
    status, headers, body = both(open_lamina, invocation_path(name, query), {}, b'{"a": 1}')
    assert status == 200 and json.loads(body) == {"a": 1}
    assert headers["x-amz-executed-version"] in ("$LATEST", "1")


def test_an_empty_payload_is_an_empty_object(open_lamina):
    status, _, body = both(open_lamina, invocation_path("echo"))
    assert status == 200 and json.loads(body) == {}


@pytest.mark.parametrize("invocation_type, status", [("RequestResponse", 200), ("DryRun", 204), ("Event", 202)])
def test_invocation_types(open_lamina, invocation_type, status):
    answer = both(open_lamina, invocation_path("echo"), {"X-Amz-Invocation-Type": invocation_type}, b"{}")
    assert answer[0] == status


def test_log_types(open_lamina):
    _, headers, _ = both(open_lamina, invocation_path("echo"), {"X-Amz-Log-Type": "None"}, b"{}")
    assert "x-amz-log-result" not in headers
    _, headers, _ = both(open_lamina, invocation_path("echo"), {"X-Amz-Log-Type": "Tail"}, b"{}")
    assert "REPORT RequestId: ID" in headers["x-amz-log-result"]


def test_client_context(open_lamina):
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert both(open_lamina, invocation_path("echo"), {"X-Amz-Client-Context": context}, b"{}")[0] == 200


def test_a_function_error(open_lamina):
    status, headers, body = both(open_lamina, invocation_path("fail"), {}, b"{}")
    assert status == 200 and headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(body)["errorType"] == "ValueError"


def test_a_chunked_payload(open_lamina):
    status, _, body = both(open_lamina, invocation_path("echo"), {}, [b'{"a"', b': 2}'])
    assert status == 200 and json.loads(body) == {"a": 2}


def test_headers_the_model_ignores(open_lamina):
    headers = {"Content-Type": "text/plain", "Content-Encoding": "identity", "X-Custom": "1",
               "X-Amz-Target": "NoSuchService.Op", "Expect": "100-continue"}
    assert both(open_lamina, invocation_path("echo"), headers, b"{}")[0] == 200


# ------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize("name, query, code", [
    ("missing", "", "ResourceNotFoundException"),
    ("a" * 65, "", "InvalidParameterValueException"),
    ("a" * 257, "", "ValidationException"),
    ("bad!name", "", "ValidationException"),
    ("bad.name", "", "InvalidParameterValueException"),
    ("a%2Fb", "", "ValidationException"),
    (quote("arn:aws:lambda:us-east-1:111111111111:function:echo", safe=""), "", "ResourceNotFoundException"),
    (quote(f"arn:aws:lambda:eu-west-1:{OPEN_ACCOUNT}:function:echo", safe=""), "", "ResourceNotFoundException"),
    (quote("arn:aws:lambda:us-east-1:function:echo", safe=""), "", "InvalidParameterValueException"),
    (quote("arn:aws-cn:lambda:cn-north-1:000000000000:function:echo", safe=""), "",
     "ResourceNotFoundException"),
    ("echo:1", "Qualifier=2", "InvalidParameterValueException"),
    ("echo", "Qualifier=", "ValidationException"),
    ("echo", "Qualifier=a.b", "ValidationException"),
    ("echo", "Qualifier=" + "q" * 129, "ValidationException"),
    ("echo", "Qualifier=99", "ResourceNotFoundException"),
    ("echo", "Qualifier=nosuchalias", "ResourceNotFoundException"),
    ("echo", "Qualifier=%24LATEST.PUBLISHED", "ResourceNotFoundException"),
    ("echo", "Qualifier=1&Qualifier=2", None),  # the first one counts
    ("echo", "Foo=bar", None),
    ("echo", "qualifier=1", None),
    ("echo", "Qualifier=l%69ve", None),
])
def test_bad_names_and_qualifiers(open_lamina, name, query, code):
    answer = both(open_lamina, invocation_path(name, query), {}, b"{}")
    if code is not None:
        assert error_code(answer) == code


@pytest.mark.parametrize("headers", [
    {"X-Amz-Invocation-Type": "Bogus"},
    {"X-Amz-Invocation-Type": ""},
    {"X-Amz-Invocation-Type": "event"},
    {"X-Amz-Log-Type": "Bogus"},
    {"X-Amz-Log-Type": "tail"},
    {"X-Amz-Invocation-Type": "Bogus", "X-Amz-Log-Type": "Bogus"},
    {"X-Amz-Client-Context": "not base64!"},
    {"X-Amz-Client-Context": base64.b64encode(b"not json").decode()},
    {"X-Amz-Client-Context": "e30=" * 1000},
    {"X-Amz-Durable-Execution-Name": "bad name!"},
    {"X-Amz-Durable-Execution-Name": "fine"},
    {"X-Amz-Tenant-Id": "tenant-1"},
])
def test_bad_and_unusual_headers(open_lamina, headers):
    both(open_lamina, invocation_path("echo"), headers, b"{}")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2", b"\xff\xfe"])
def test_payloads_that_are_not_json(open_lamina, body):
    assert error_code(both(open_lamina, invocation_path("echo"), {}, body)) == "InvalidRequestContentException"


def test_payloads_over_the_limits(open_lamina):
    answer = both(open_lamina, invocation_path("echo"), {}, b"0" * 6_291_456)
    assert answer[0] == 413 and error_code(answer) == "RequestEntityTooLargeException"
    answer = both(open_lamina, invocation_path("echo"), {"X-Amz-Invocation-Type": "Event"}, b"0" * 1_048_577)
    assert answer[0] == 413
    answer = both(open_lamina, invocation_path("echo"), {}, [b"0" * 4_000_000, b"0" * 3_000_000])
    assert answer[0] == 413


@pytest.mark.parametrize("method, path", [
    ("GET", invocation_path("echo")),
    ("PUT", invocation_path("echo")),
    ("POST", invocation_path("echo") + "/"),
    ("POST", "/2015-03-31/functions//invocations"),
    ("POST", "/2015-03-31/functions/invocations"),
])
def test_near_misses_of_the_route(open_lamina, method, path):
    both(open_lamina, path, {}, b"{}", method=method)


def test_an_open_caller_names_its_account(open_lamina):
    other = signed_headers(invocation_path("echo"), b"{}", key_id="111111111111", secret="x")
    assert error_code(both(open_lamina, invocation_path("echo"), other, b"{}")) == "ResourceNotFoundException"
    own = signed_headers(invocation_path("echo"), b"{}", key_id=OPEN_ACCOUNT, secret="x")
    assert both(open_lamina, invocation_path("echo"), own, b"{}")[0] == 200


# ------------------------------------------------------------------------- SigV4


def test_a_signed_invoke(keyed_lamina):
    target = invocation_path(quote(f"arn:aws:lambda:us-east-1:{KEYED_ACCOUNT}:function:echo", safe=""),
                             "Qualifier=live")
    status, _, body = both(keyed_lamina, target, signed_headers(target, b'{"s": 1}'), b'{"s": 1}')
    assert status == 200 and json.loads(body) == {"s": 1}


def test_an_unsigned_invoke(keyed_lamina):
    answer = both(keyed_lamina, invocation_path("echo"), {}, b"{}")
    assert error_code(answer) == "MissingAuthenticationTokenException"


@pytest.mark.parametrize("key_id, secret, code", [
    (KEY_ID, "wrong", "InvalidSignatureException"),
    ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException"),
])
def test_badly_signed_invokes(keyed_lamina, key_id, secret, code):
    target = invocation_path("echo")
    answer = both(keyed_lamina, target, signed_headers(target, b"{}", key_id, secret), b"{}")
    assert error_code(answer) == code


def test_a_tampered_body_and_a_bad_invocation_type(keyed_lamina):
    target = invocation_path("echo")
    headers = signed_headers(target, b"{}")
    assert error_code(both(keyed_lamina, target, headers, b'{"x": 1}')) == "InvalidSignatureException"
    headers = signed_headers(target, b"{}", extra={"X-Amz-Invocation-Type": "Bogus"})
    assert error_code(both(keyed_lamina, target, headers, b"{}")) == "ValidationException"


def test_malformed_authorization_and_dates(keyed_lamina):
    target = invocation_path("echo")
    both(keyed_lamina, target, {"Authorization": "AWS4-HMAC-SHA256 Foo=bar"}, b"{}")
    headers = signed_headers(target, b"{}")
    both(keyed_lamina, target, {**headers, "X-Amz-Date": "20200101T000000Z"}, b"{}")
    both(keyed_lamina, target, {**headers, "X-Amz-Date": "yesterday"}, b"{}")
