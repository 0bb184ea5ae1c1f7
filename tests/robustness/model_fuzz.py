"""A model-driven request fuzzer for the APIs lamina serves.

Requests are generated from the botocore service models (read at run time, never retyped):
valid-ish parameters from each operation's input shape, serialised by botocore's own
serializer (so they look like an SDK's), then bent by one *mutation* each: wrong types,
extreme sizes and numbers, broken encodings, deep nesting, odd path labels, query values and
headers, missing or bad signatures. They are sent as raw HTTP/1.1 so nothing between the
fuzzer and the server tidies them up.
"""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.credentials import Credentials
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.serialize import create_serializer
from hypothesis import strategies as st

REGION = "us-east-1"

# ---------------------------------------------------------------- the served models


@dataclass(frozen=True)
class ServedModel:
    """One API lamina serves: its botocore model and how requests reach it."""

    name: str  # botocore's name: lambda, stepfunctions, logs
    model: ServiceModel

    @property
    def is_json_protocol(self) -> bool:
        return self.model.protocol == "json"

    @property
    def target_prefix(self) -> str | None:
        return self.model.metadata.get("targetPrefix")


@cache
def served_model(name: str) -> ServedModel:
    return ServedModel(name, ServiceModel(Loader().load_service_model(name, "service-2"), service_name=name))


# The models lamina's server wires to its front door (see lamina.server.Lamina).
SERVED_MODELS = ("lambda", "stepfunctions", "logs")


def every_operation() -> list[tuple[str, str]]:
    return [(name, op) for name in SERVED_MODELS for op in served_model(name).model.operation_names]


# ---------------------------------------------------------------- valid-ish values from shapes

_MAX_DEPTH = 5
_HUGE = 300_000  # characters in a "huge" string: past every string limit, under every body limit


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct; fall back to plain text
        return None


def _bounds(meta: dict[str, Any], low: int, high: int) -> tuple[int, int]:
    lo = max(low, int(meta.get("min", low)))
    hi = min(high, int(meta.get("max", high)))
    return lo, max(lo, hi)


def _text(meta: dict[str, Any]) -> st.SearchStrategy[str]:
    lo, hi = _bounds(meta, 0, 64)
    return st.text(st.characters(codec="utf-8"), min_size=lo, max_size=hi)


def string_value(shape: Shape, member_name: str, resources: Resources) -> st.SearchStrategy[str]:
    meta = shape.metadata
    if "enum" in meta:
        return st.sampled_from(meta["enum"])
    choices: list[st.SearchStrategy[str]] = [_text(meta)]
    pattern = meta.get("pattern")
    if pattern and _compiled(pattern) is not None:
        lo, hi = _bounds(meta, 0, 2048)
        choices.append(st.from_regex(_compiled(pattern), fullmatch=True)
                       .filter(lambda s, lo=lo, hi=hi: lo <= len(s) <= hi))
    known = resources.for_member(member_name)
    if known:
        # Existing resources let a request get past "not found" into the operation itself.
        choices = [st.sampled_from(known), st.sampled_from(known), *choices]
    return st.one_of(choices)


def shape_value(shape: Shape, resources: Resources, member_name: str = "", depth: int = 0
                ) -> st.SearchStrategy[Any]:
    """A value that mostly satisfies `shape`: required members, types, enums, ranges,
    lengths; patterns loosely (half the strings are plain text)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        required = {name: _member_value(shape.members[name], resources, name, depth + 1)
                    for name in shape.required_members}
        optional = {} if depth >= _MAX_DEPTH else {
            name: _member_value(member, resources, name, depth + 1)
            for name, member in shape.members.items() if name not in shape.required_members}
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        lo, hi = _bounds(meta, 0, 0 if depth >= _MAX_DEPTH else 3)
        return st.lists(shape_value(shape.member, resources, member_name, depth + 1), min_size=lo, max_size=hi)
    if kind == "map":
        lo, hi = _bounds(meta, 0, 0 if depth >= _MAX_DEPTH else 3)
        return st.dictionaries(shape_value(shape.key, resources, "", depth + 1),
                               shape_value(shape.value, resources, "", depth + 1), min_size=lo, max_size=hi)
    if kind == "string":
        return string_value(shape, member_name, resources)
    if kind in ("integer", "long"):
        lo = int(meta.get("min", -(2**31)))
        hi = int(meta.get("max", 2**31 - 1 if kind == "integer" else 2**63 - 1))
        return st.integers(lo, hi)
    if kind in ("float", "double"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        lo, hi = _bounds(meta, 0, 64)
        return st.binary(min_size=lo, max_size=hi)
    if kind == "timestamp":
        return st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1), timezones=st.just(UTC))
    return st.none()


def _member_value(member: Shape, resources: Resources, name: str, depth: int) -> st.SearchStrategy[Any]:
    if member.serialization.get("location") == "header" and member.type_name == "string" \
            and "enum" not in member.metadata:
        # What an HTTP header can carry at all; the `member_header` mutation sends the rest.
        lo, hi = _bounds(member.metadata, 0, 64)
        return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=lo, max_size=hi)
    return shape_value(member, resources, name, depth)


@dataclass
class Resources:
    """Names of resources that exist on the server, offered for members of these names."""

    by_member: dict[str, list[str]] = field(default_factory=dict)

    def for_member(self, member_name: str) -> list[str]:
        return self.by_member.get(member_name, [])


# ---------------------------------------------------------------- requests


@dataclass
class RawRequest:
    method: str
    path: str  # as sent: already percent-encoded (or deliberately not)
    query: str
    headers: dict[str, str]
    body: bytes
    signed: bool = True
    bad_signature: bool = False

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")


def serialize(service: ServedModel, operation: OperationModel, params: dict[str, Any], host: str) -> RawRequest:
    """The request an SDK would send for these parameters (botocore's own serializer)."""
    serializer = create_serializer(service.model.protocol, include_validation=False)
    request = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request, f"http://{host}")
    url = urlsplit(request["url"])
    body = request["body"]
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = bytes(body or b"")
    headers = {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in request["headers"].items()}
    return RawRequest(request["method"], url.path, url.query, headers, body)


def probe_params(operation: OperationModel) -> dict[str, Any]:
    """The least an operation's request needs to be sent at all: its path labels."""
    shape = operation.input_shape
    if shape is None:
        return {}
    return {name: "fuzz" for name, member in shape.members.items() if member.serialization.get("location") == "uri"}


def sign(request: RawRequest, host: str, signing_name: str, key_id: str, secret: str) -> None:
    """SigV4 by botocore's signer, over the request exactly as it will be sent."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "x-amz-date")}
    headers["Host"] = host
    aws = AWSRequest(method=request.method, url=f"http://{host}{request.target}", data=request.body,
                     headers=headers)
    SigV4Auth(Credentials(key_id, secret), signing_name, REGION).add_auth(aws)
    request.headers = {k: v for k, v in aws.headers.items()}
    if request.bad_signature:
        auth = request.headers["Authorization"]
        request.headers["Authorization"] = auth[:-4] + ("0000" if not auth.endswith("0000") else "1111")


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def error_type(self) -> str:
        return self.headers.get("x-amzn-errortype", "").partition(":")[0]

    @property
    def request_id(self) -> str:
        return self.headers.get("x-amzn-requestid", "")


def send(host: str, port: int, request: RawRequest, timeout: float) -> RawResponse:
    """One request on its own connection, bytes as given; raises socket.timeout if the server
    does not answer within `timeout`."""
    head = [f"{request.method} {request.target} HTTP/1.1"]
    names = {k.lower() for k in request.headers}
    if "host" not in names:
        head.append(f"Host: {host}:{port}")
    head.extend(f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "content-length")
    head.append(f"Content-Length: {len(request.body)}")
    head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + request.body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


# ---------------------------------------------------------------- mutations

Draw = Callable[[st.SearchStrategy[Any]], Any]

# Spliced into a JSON document where a raw token must go (NaN, invalid bytes, ...).
_MARK = "\u2063fuzz-splice\u2063"


def _deep(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "array" else '{"a":' * depth + "1" + "}" * depth


def _places(shape: Shape, document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every place in a JSON body a value can go, with the type its shape gives it: the values
    present, and the members a present structure left out."""
    found: list[tuple[tuple[Any, ...], str]] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(document, dict):
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue  # a label, query parameter or header: not in the body
            wire = member.serialization.get("name", name)
            found.append(((*prefix, wire), member.type_name))
            if wire in document:
                found.extend(_places(member, document[wire], (*prefix, wire)))
    elif kind == "list" and isinstance(document, list):
        for i, item in enumerate(document):
            found.append(((*prefix, i), shape.member.type_name))
            found.extend(_places(shape.member, item, (*prefix, i)))
    elif kind == "map" and isinstance(document, dict):
        for key, item in document.items():
            found.append(((*prefix, key), shape.value.type_name))
            found.extend(_places(shape.value, item, (*prefix, key)))
    return found


def _put(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`document` with `value` at `path` (whose last step may be a member not yet there)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: _put(document.get(head), rest, value)}
    copy = list(document)
    copy[head] = _put(copy[head], rest, value)
    return copy


def _input_members(operation: OperationModel, location: str | None) -> list[tuple[str, Shape]]:
    shape = operation.input_shape
    if shape is None:
        return []
    return [(member.serialization.get("name", name), member) for name, member in shape.members.items()
            if member.serialization.get("location") == location
            and name != shape.serialization.get("payload")]


def _payload_is_raw(operation: OperationModel) -> bool:
    shape = operation.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return payload is not None and shape.members[payload].type_name in ("blob", "string")


def _json_document(request: RawRequest) -> Any:
    try:
        return orjson.loads(request.body) if request.body.strip() else {}
    except orjson.JSONDecodeError:
        return {}


def _body_shape(operation: OperationModel) -> Shape | None:
    shape = operation.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return shape.members[payload] if payload else shape


def _body_place(draw: Draw, operation: OperationModel, document: Any, kinds: tuple[str, ...]) -> tuple[Any, ...]:
    """A place in the body for a bad value: of one of `kinds` where the shape has one, else any."""
    shape = _body_shape(operation)
    places = _places(shape, document) if shape is not None else []
    preferred = [path for path, kind in places if kind in kinds] or [path for path, _ in places]
    if not preferred:
        return ("fuzz",) if isinstance(document, dict) else ()
    return draw(st.sampled_from(preferred))


_ANY: tuple[str, ...] = ()
_STRINGS = ("string",)
_NUMBERS = ("integer", "long", "float", "double", "timestamp")
_CONTAINERS = ("list", "map", "structure")


def _with_value(draw: Draw, operation: OperationModel, request: RawRequest, value: Any,
                raw_token: bytes | None = None, kinds: tuple[str, ...] = _ANY) -> None:
    """Put `value` (or, spliced in, the raw bytes `raw_token`) at one place of the JSON body,
    a member of one of `kinds` where there is one."""
    document = _json_document(request)
    place = _body_place(draw, operation, document, kinds)
    body = orjson.dumps(_put(document, place, _MARK if raw_token is not None else value))
    if raw_token is not None:
        body = body.replace(orjson.dumps(_MARK), raw_token, 1)
    request.body = body


_WRONG_TYPES = ("text", 7, -1.5, True, None, [], {}, [1, "a"], {"a": {"b": []}})


def m_valid(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """As generated: valid-ish parameters."""


def m_wrong_type(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, draw(st.sampled_from(_WRONG_TYPES)))


def m_huge_int(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, None, draw(st.sampled_from([b"1000000000000000000000", b"-1000000000000000000000",
                                                         b"99999999999999999999"])), _NUMBERS)


def m_extreme_number(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, draw(st.sampled_from([-1, 0, 2**31, 2**63 - 1, -(2**63), 1.5, 1e308, -1e-308,
                                                   2**53 + 1])), kinds=_NUMBERS)


def m_nan_token(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, None, draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999"])), _NUMBERS)


def m_empty(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, draw(st.sampled_from(["", [], {}, " "])))  # any member: empty of every kind


def m_huge_string(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, draw(st.sampled_from(["x", "é", "\U0001f600", "\\"])) * _HUGE, kinds=_STRINGS)


def m_huge_list(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    _with_value(draw, op, r, [draw(st.sampled_from(["a", 1, {}, None]))] * 20_000, kinds=("list",))


def m_lone_surrogate(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """A lone surrogate as a JSON escape in a body string."""
    _with_value(draw, op, r, None, draw(st.sampled_from([b'"\\ud800"', b'"a\\udc00b"', b'"\\ud800\\u0041"'])), _STRINGS)


def m_invalid_utf8(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """Bytes that are not UTF-8 inside a body string."""
    _with_value(draw, op, r, None, b'"' + draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80",
                                                                b"\xf8\x88\x80\x80\x80", b"a\x80"])) + b'"',
                _STRINGS)


def m_json_text(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """A string member holding JSON text that is hostile once parsed (definitions, inputs,
    policies and payloads are JSON inside a string)."""
    text = draw(st.sampled_from(['"\\ud800"', '{"a":"\\udfff"}', _deep(10_000, "array"), _deep(100_000, "array"),
                                 _deep(10_000, "object"), '{"a":1e999}', '{"a":NaN}', "[" * 5000,
                                 '{"a":' + "9" * 5000 + "}"]))
    _with_value(draw, op, r, text, kinds=_STRINGS)


def m_deep_nesting(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    depth = draw(st.sampled_from([10_000, 100_000]))
    _with_value(draw, op, r, None, _deep(depth, draw(st.sampled_from(["array", "object"]))).encode(),
                _CONTAINERS)


def m_non_json_body(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    r.body = draw(st.sampled_from([b"not json", b"<xml/>", b"\x00\x01\x02", b"\xff" * 10, b"{'a': 1}",
                                   b"[]", b"1", b'"s"', b"null", b"{}" * 1000, b"\xef\xbb\xbf{}"]))


def m_truncated_json(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    body = r.body or b'{"a": [1, 2, {"b": "c"}]}'
    r.body = body[:draw(st.integers(0, max(0, len(body) - 1)))]


def m_raw_payload(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """Operations whose body is a raw payload (Invoke): payloads that are not JSON."""
    r.body = draw(st.sampled_from([b"\xff\xfe", b'"\\ud800"', b"not json", _deep(100_000, "array").encode(),
                                   b"NaN", b"", b"{" * 100]))


_ODD_LABELS = ["%00", "%2F", "%ZZ", "%C3%28", "%ED%A0%80", "%25", "%FF" * 10, "..", ".", "%2E%2E",
               "a%20b", "%E2%80%8F", "%0D%0A", "x" * 10_000, quote("\U0001f600 ü", safe=""), "%",
               "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3A%FF", "%24LATEST%00"]


def m_path_label(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """Path labels with odd characters and percent-encodings (REST)."""
    segments = r.path.split("/")
    uri = op.http["requestUri"].partition("?")[0].split("/")
    labelled = [i for i, part in enumerate(uri) if part.startswith("{") and i < len(segments)]
    index = draw(st.sampled_from(labelled)) if labelled else len(segments) - 1
    segments[index] = draw(st.sampled_from(_ODD_LABELS))
    r.path = "/".join(segments)


_ODD_QUERY_VALUES = ["", "abc", "-1", "1.5", "99999999999999999999", "NaN", "%FF", "true", "%00", "x" * 5000,
                     "1e3", "0x10", "%ED%A0%80"]


def m_query(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """Query-string members with values of the wrong type, size or encoding."""
    names = [name for name, _ in _input_members(op, "querystring")] or ["Marker"]
    name = draw(st.sampled_from(names))
    value = draw(st.sampled_from(_ODD_QUERY_VALUES))
    extra = f"{quote(name)}={value}"
    r.query = f"{r.query}&{extra}" if r.query else extra


_ODD_HEADER_VALUES = ["", "garbage", "-1", "99999999999999999999", "%FF", "\u00ff\u00fe", "e30", "!!!",
                      "x" * 8000, "RequestResponse, Event"]


def m_member_header(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """Header members (X-Amz-Invocation-Type, X-Amz-Client-Context, ...) with odd values."""
    names = [name for name, _ in _input_members(op, "header")] or ["X-Amz-Fuzz"]
    r.headers[draw(st.sampled_from(names))] = draw(st.sampled_from(_ODD_HEADER_VALUES))


def m_content_type(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    r.headers = {k: v for k, v in r.headers.items() if k.lower() != "content-type"}
    value = draw(st.sampled_from([None, "text/plain", "application/xml", "application/x-amz-json-1.1",
                                  "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""]))
    if value is not None:
        r.headers["Content-Type"] = value


def m_target(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    """X-Amz-Target unknown, of another service, empty or missing (JSON protocols)."""
    r.headers = {k: v for k, v in r.headers.items() if k.lower() != "x-amz-target"}
    value = draw(st.sampled_from([None, "", "AWSStepFunctions.NoSuchOperation", "Logs_20140328.",
                                  "NoSuchService.ListFunctions", ".", "Logs_20140328.StartExecution",
                                  "AWSStepFunctions.StartExecution.Extra", "AWSStepFunctions\x7f"]))
    if value is not None:
        r.headers["X-Amz-Target"] = value


def m_method(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    r.method = draw(st.sampled_from(["PATCH", "OPTIONS", "HEAD", "TRACE", "GET", "DELETE", "PUT", "POST"]))
    if r.method == "HEAD":
        r.method = "PATCH"  # a HEAD response has no body to read the error from


def m_unsigned(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    r.signed = False


def m_bad_signature(draw: Draw, op: OperationModel, r: RawRequest) -> None:
    r.bad_signature = True


Mutation = Callable[[Draw, OperationModel, RawRequest], None]

BODY_MUTATIONS: dict[str, Mutation] = {
    "wrong_type": m_wrong_type, "huge_int": m_huge_int, "extreme_number": m_extreme_number,
    "nan_token": m_nan_token, "empty": m_empty, "huge_string": m_huge_string, "huge_list": m_huge_list,
    "lone_surrogate": m_lone_surrogate, "invalid_utf8": m_invalid_utf8, "json_text": m_json_text,
    "deep_nesting": m_deep_nesting, "non_json_body": m_non_json_body, "truncated_json": m_truncated_json,
}
COMMON_MUTATIONS: dict[str, Mutation] = {
    "valid": m_valid, "content_type": m_content_type, "unsigned": m_unsigned, "bad_signature": m_bad_signature,
}


def mutations_for(service: ServedModel, operation: OperationModel) -> dict[str, Mutation]:
    """The mutations that make sense for an operation's protocol and input shape."""
    chosen = dict(COMMON_MUTATIONS)
    if service.is_json_protocol:
        chosen.update(BODY_MUTATIONS, target=m_target)
        return chosen
    if _payload_is_raw(operation):
        chosen["raw_payload"] = m_raw_payload
    elif _input_members(operation, None) or operation.input_shape is not None and \
            operation.input_shape.serialization.get("payload"):
        chosen.update(BODY_MUTATIONS)
    if "{" in operation.http["requestUri"]:
        chosen["path_label"] = m_path_label
    chosen["query"] = m_query
    if _input_members(operation, "header"):
        chosen["member_header"] = m_member_header
    chosen["method"] = m_method
    return chosen


def printable(request: RawRequest, limit: int = 300) -> str:
    """A short, readable rendering of a request for a failure message."""
    body = request.body[:limit].decode("utf-8", "backslashreplace")
    more = f"... ({len(request.body)} bytes)" if len(request.body) > limit else ""
    target = request.target if len(request.target) <= limit else request.target[:limit] + "..."
    headers = {k: (v if len(v) <= 80 else v[:80] + "...") for k, v in request.headers.items()
               if k.lower() not in ("authorization", "x-amz-date", "host")}
    return f"{request.method} {target} headers={headers} body={body}{more}"

