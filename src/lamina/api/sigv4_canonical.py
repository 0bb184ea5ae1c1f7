"""SigV4's string to sign for a request as it arrived, made directly for the plain requests
SDKs send, and by botocore's own signer for anything else.

botocore's `SigV4Auth` is the reference: it matches the clients byte for byte (the
double-encoded path, the query string as sent, trimmed header values). Going through it costs
an `AWSRequest`, a URL split and an email-style header map per request, which is most of
the front door's CPU when access keys are configured. The direct path takes only requests
where each of botocore's steps is known to be a plain string operation: a path of unreserved
characters and %-escapes without empty or dot segments, a printable ASCII query string, a
plain Host, and lowercase, unique, signable, ASCII signed headers. Anything else goes to
botocore.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping

from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-._~/%")
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + ".-:")
_UNSIGNABLE = frozenset(SIGNED_HEADERS_BLACKLIST)
_CONTENT_SHA256 = "x-amz-content-sha256"


def string_to_sign(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes,
                   signed_headers: tuple[str, ...], access_key_id: str, region: str, service: str) -> str:
    """What the client signed, from the request as it arrived; `headers` keyed in lowercase."""
    timestamp = headers.get("x-amz-date", "")
    canonical = _plain_canonical_request(method, raw_path, raw_query, headers, body, signed_headers)
    if canonical is None:
        return _botocore_string_to_sign(method, raw_path, raw_query, headers, body, signed_headers,
                                        access_key_id, region, service)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"AWS4-HMAC-SHA256\n{timestamp}\n{timestamp[:8]}/{region}/{service}/aws4_request\n{digest}"


def _plain_canonical_request(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes,
                             signed_headers: tuple[str, ...]) -> str | None:
    """`SigV4Auth.canonical_request` for plain requests; None for the others."""
    if not raw_path.startswith("/") or "//" in raw_path or "/." in raw_path or not _PATH_CHARS.issuperset(raw_path):
        return None
    if raw_query and ("#" in raw_query or not (raw_query.isascii() and raw_query.isprintable()) or " " in raw_query):
        return None
    host = headers.get("host", "")
    if not host or not _HOST_CHARS.issuperset(host):
        return None
    names = sorted(signed_headers)
    if "host" not in names or len(set(names)) != len(names):
        return None
    lines = []
    for name in names:
        if not name or not name.isascii() or name != name.lower().strip() or name in _UNSIGNABLE:
            return None
        value = headers.get(name, "")
        if not value.isascii():
            return None
        lines.append(f"{name}:{' '.join(value.split())}")
    if raw_query:
        pairs = sorted(pair.partition("=")[::2] for pair in raw_query.split("&"))
        query = "&".join(f"{key}={value}" for key, value in pairs)
    else:
        query = ""
    checksum = headers.get(_CONTENT_SHA256, "") if _CONTENT_SHA256 in names else hashlib.sha256(body).hexdigest()
    # Clients quote the already-quoted path once more (only "%" is not left as it is here).
    return "\n".join((method.upper(), raw_path.replace("%", "%25"), query, "\n".join(lines) + "\n",
                      ";".join(names), checksum))


def _botocore_string_to_sign(method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes,
                             signed_headers: tuple[str, ...], access_key_id: str, region: str, service: str) -> str:
    signed = {name: headers.get(name, "") for name in signed_headers}
    url = f"http://{headers.get('host', 'localhost')}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=signed)
    request.context["timestamp"] = headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(access_key_id, ""), service, region)
    return signer.string_to_sign(request, signer.canonical_request(request))
