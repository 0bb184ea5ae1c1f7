"""The string to sign made directly is botocore's, for every request: plain ones (made here)
and odd ones (left to botocore), over many generated requests."""

from __future__ import annotations

import random

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lamina.api.sigv4_canonical import _plain_canonical_request, string_to_sign

PATH_PIECES = ["2015-03-31", "functions", "f", "invocations", "arn%3Aaws%3Alambda", "%24LATEST", "a.b", ".", "..",
               "", "~x", "a b", "é", "%2F", "x;y", "UPPER", "a+b", "*", "@", "!"]
QUERY_PIECES = ["Qualifier=1", "Qualifier=%24LATEST", "b=2", "a=1", "a=", "a", "=x", "a=b=c", "Z=9", "m=%20",
                "x=a+b", "q=é", "k=#f", "", "c=1&c=0"]
HEADER_NAMES = ["host", "x-amz-date", "content-type", "x-amz-content-sha256", "user-agent", "X-Amz-Date",
                "amz-sdk-request", "x-amz-security-token", "expect", "content-length", " host", "x-é"]
VALUES = ["application/json", "a  b\tc", " padded ", "", "x,y", "é", "attempt=1; max=3", "20261203T000000Z"]
HOSTS = ["127.0.0.1:9600", "localhost", "LOCALHOST:80", "lamina.test", "[::1]:9600", "a/b", "h?x", "h#f", "u@h",
         "h:abc"]


def reference(method, raw_path, raw_query, headers, body, signed, key_id, region, service) -> str:
    """botocore's signer, given the request as it arrived (how lamina has always checked it)."""
    request = AWSRequest(method=method, url=f"http://{headers.get('host', 'localhost')}{raw_path}"
                         + (f"?{raw_query}" if raw_query else ""), data=body,
                         headers={name: headers.get(name, "") for name in signed})
    request.context["timestamp"] = headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(key_id, "secret"), service, region)
    return signer.string_to_sign(request, signer.canonical_request(request))


def outcome(function, *args) -> str:
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - both must fail alike
        return f"raised {type(error).__name__}"


def generated(seed: int):
    """Half the requests from plain pieces only, half from any."""
    rng = random.Random(seed)
    odd = rng.random() < 0.5

    def pick(pieces: list[str], plain: int) -> str:
        return rng.choice(pieces if odd else pieces[:plain])

    path = "/" + "/".join(pick(PATH_PIECES, 7) for _ in range(rng.randint(0, 5)))
    if odd and rng.random() < 0.1:
        path = path.lstrip("/")
    query = "&".join(p for p in (pick(QUERY_PIECES, 11) for _ in range(rng.randint(0, 3))) if p)
    headers = {"host": pick(HOSTS, 4), "x-amz-date": "20261203T101010Z"}
    if odd and rng.random() < 0.05:
        del headers["host"]
    signed = ["host", "x-amz-date"] if not odd or rng.random() < 0.5 else []
    for _ in range(rng.randint(0, 4)):
        name = pick(HEADER_NAMES, 4 if rng.random() < 0.8 else 7)
        if name not in signed or odd:
            signed.append(name)
        if name not in ("host", "x-amz-date") and rng.random() < 0.8:
            headers[name.lower()] = pick(VALUES, 7)
    if rng.random() < 0.1:
        headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
        if "x-amz-content-sha256" not in signed or odd:
            signed.append("x-amz-content-sha256")
    body = rng.choice([b"", b"{}", b'{"a": 1}', bytes(range(256))])
    return rng.choice(["POST", "GET", "post"]), path, query, headers, body, tuple(signed)


@pytest.mark.parametrize("block", range(10))
def test_generated_requests_sign_as_botocore_signs_them(block):
    plain = 0
    for seed in range(block * 400, (block + 1) * 400):
        method, path, query, headers, body, signed = generated(seed)
        args = (method, path, query, headers, body, signed, "AKID", "us-east-1", "lambda")
        assert outcome(string_to_sign, *args) == outcome(reference, *args), (seed, args)
        plain += _plain_canonical_request(method, path, query, headers, body, signed) is not None
    assert plain > 100  # the direct path is exercised, not only botocore's


def test_what_boto3_sends_is_made_directly():
    request = AWSRequest(method="POST", url="http://127.0.0.1:9600/2015-03-31/functions/"
                         "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations?Qualifier=%24LATEST",
                         data=b'{"a": 1}', headers={"Content-Type": "application/json", "User-Agent": "Boto3/1.34",
                                                    "amz-sdk-invocation-id": "1234", "amz-sdk-request": "attempt=1"})
    SigV4Auth(Credentials("AKID", "secret"), "lambda", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:9600"
    signed = tuple(headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";"))
    path, _, query = request.url.partition("//")[2].partition("/")[2].partition("?")
    args = ("POST", "/" + path, query, headers, request.body, signed)
    assert _plain_canonical_request(*args) is not None
    full = (*args, "AKID", "us-east-1", "lambda")
    assert string_to_sign(*full) == reference(*full)
