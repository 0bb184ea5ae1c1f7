"""Server-side SigV4 verification against botocore's own client-side signing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lamina.api.sigv4 import Authenticator, parse_authorization
from lamina.config import load_config
from lamina.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

KEYED = Authenticator(load_config({"access_keys": "AKID:s3cret:123456789012"}, environ={}))
OPEN = Authenticator(load_config({}, environ={}))


def signed(url: str, method: str = "GET", body: bytes = b"", key: str = "AKID", secret: str = "s3cret",
           region: str = "eu-central-1") -> tuple[str, str, str, dict[str, str], bytes]:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(request)
    parts = urlsplit(url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = parts.netloc
    return method, parts.path, parts.query, headers, body


def test_valid_signature_over_an_encoded_arn_path():
    url = ("http://localhost:9600/2015-03-31/functions/"
           "arn%3Aaws%3Alambda%3Aeu-central-1%3A123456789012%3Afunction%3Af/invocations?Qualifier=%24LATEST")
    caller = KEYED.authenticate(*signed(url, "POST", b'{"a": 1}'))
    assert (caller.account_id, caller.region) == ("123456789012", "eu-central-1")


def test_tampered_body_fails():
    method, path, query, headers, _ = signed("http://localhost:9600/2015-03-31/functions", "POST", b"{}")
    with pytest.raises(InvalidSignatureException):
        KEYED.authenticate(method, path, query, headers, b'{"x": 1}')


def test_wrong_secret_and_unknown_key():
    with pytest.raises(InvalidSignatureException):
        KEYED.authenticate(*signed("http://localhost:9600/2015-03-31/functions", secret="nope"))
    with pytest.raises(UnrecognizedClientException):
        KEYED.authenticate(*signed("http://localhost:9600/2015-03-31/functions", key="OTHER"))


def test_missing_and_malformed_authorization():
    with pytest.raises(MissingAuthenticationTokenException):
        KEYED.authenticate("GET", "/2015-03-31/functions", "", {"host": "localhost"}, b"")
    with pytest.raises(IncompleteSignatureException):
        KEYED.authenticate("GET", "/2015-03-31/functions", "", {"authorization": "AWS4-HMAC-SHA256 Foo=bar"}, b"")


def test_expired_signature():
    method, path, query, headers, body = signed("http://localhost:9600/2015-03-31/functions")
    today = headers["x-amz-date"][:8]
    headers["x-amz-date"] = "20200101T000000Z"
    with pytest.raises(InvalidSignatureException) as excinfo:
        KEYED.authenticate(method, path, query, headers, body)
    assert excinfo.value.message.startswith("Date in Credential scope does not match")
    headers["authorization"] = headers["authorization"].replace(f"/{today}/", "/20200101/")
    with pytest.raises(InvalidSignatureException) as excinfo:
        KEYED.authenticate(method, path, query, headers, body)
    assert excinfo.value.message.startswith("Signature expired: 20200101T000000Z is now earlier than")


def test_open_mode_takes_account_from_twelve_digit_keys():
    assert OPEN.authenticate(*signed("http://h/2015-03-31/functions", key="555555555555")).account_id == "555555555555"
    assert OPEN.authenticate(*signed("http://h/2015-03-31/functions", key="AKIA123")).account_id == "000000000000"
    caller = OPEN.authenticate("GET", "/", "", {}, b"")
    assert (caller.account_id, caller.region) == ("000000000000", "us-east-1")


def test_parse_authorization():
    auth = parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20240101/us-west-2/lambda/aws4_request, "
                               "SignedHeaders=host;x-amz-date, Signature=abc")
    assert (auth.access_key_id, auth.region, auth.service, auth.signed_headers) == \
        ("AK", "us-west-2", "lambda", ("host", "x-amz-date"))


def test_each_key_signs_with_its_own_secret_when_scopes_are_shared():
    two = Authenticator(load_config({"access_keys": "AKID:s3cret:123456789012,BKID:other:210987654321"},
                                    environ={}))
    url = "http://localhost:9600/2015-03-31/functions"
    for _ in range(2):  # the second round uses the signing keys kept from the first
        assert two.authenticate(*signed(url)).account_id == "123456789012"
        assert two.authenticate(*signed(url, key="BKID", secret="other")).account_id == "210987654321"
        with pytest.raises(InvalidSignatureException):
            two.authenticate(*signed(url, key="BKID", secret="s3cret"))
        with pytest.raises(InvalidSignatureException):
            two.authenticate(*signed(url, region="us-west-2", secret="other"))


def test_unreadable_dates_are_refused_as_before():
    method, path, query, headers, body = signed("http://localhost:9600/2015-03-31/functions")
    for bad in ("yesterday", "20261301T000000Z", "20261203T250000Z", "2026123T1200000Z", ""):
        headers["x-amz-date"] = bad
        with pytest.raises((IncompleteSignatureException, InvalidSignatureException)) as excinfo:
            KEYED.authenticate(method, path, query, headers, body)
        assert "X-Amz-Date" in excinfo.value.message or "Date in Credential scope" in excinfo.value.message


def test_open_mode_callers_by_key_and_region():
    url = "http://h/2015-03-31/functions"
    first = OPEN.authenticate(*signed(url, key="555555555555", region="eu-west-1"))
    again = OPEN.authenticate(*signed(url, key="555555555555", region="eu-west-1"))
    other = OPEN.authenticate(*signed(url, key="555555555555", region="us-west-2"))
    assert first == again and (first.account_id, first.region) == ("555555555555", "eu-west-1")
    assert (other.account_id, other.region) == ("555555555555", "us-west-2")


@pytest.mark.parametrize("head", [
    "AWS4-HMAC-SHA256 Credential=555555555555/20261203/eu-west-1/lambda/aws4_request, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Credential=555555555555/20261203//lambda/aws4_request, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Credential=555555555555/20261203/eu-west-1/lambda, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Credential=555555555555/20261203/eu-west-1/lambda/aws4_request, SignedHeaders=",
    "AWS4-HMAC-SHA256 SignedHeaders=host",
    "AWS4-HMAC-SHA1 Credential=555555555555/20261203/eu-west-1/lambda/aws4_request, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Credential=AKIA/20261203/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=",
])
def test_open_mode_reads_every_header_as_the_full_parse_does(head):
    """Open mode keeps callers by the header without its signature: the answer is the full parse's."""
    expected = OPEN._open_caller(f"{head}, Signature=0a1b", None)
    for signature in ("0a1b", "ffff", "0123456789abcdef"):
        assert OPEN.authenticate("GET", "/", "", {"authorization": f"{head}, Signature={signature}"}, b"") == expected
