"""Read request parameters and write responses by the botocore service model.

Requests: labels, query strings, headers and the JSON body (or raw payload) are decoded
into a dict keyed by the model's member names, type-checked, then validated against the
model's constraints (required, min/max, length, pattern, enum). Responses: a dict keyed by
member names is written back as status code, headers and body.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

import orjson
import regex
from botocore.model import OperationModel, Shape

from lamina.errors import InvalidParameterValueException, InvalidRequestContentException, ValidationException

_INTEGERS = ("integer", "long")
_FLOATS = ("float", "double")
# What the model's types hold: a value outside is refused like any other range violation
# (the services store them in 64-bit columns and compute with them).
_TYPE_RANGES = {"integer": (-2**31, 2**31 - 1), "long": (-2**63, 2**63 - 1)}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
# Timestamps must make a datetime: years 1 to 9999, in seconds since the epoch.
_TIMESTAMP_RANGE = (-62135596800.0, 253402300799.0)


# ---------------------------------------------------------------- requests


def parse_request(operation: OperationModel, labels: Mapping[str, str], query: Mapping[str, list[str]],
                  headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload_member = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        value: Any = None
        if location == "uri":
            value = labels.get(wire)
        elif location == "querystring":
            if member.type_name == "map":
                value = {k: v[0] for k, v in query.items()} or None
            elif wire in query:
                value = query[wire] if member.type_name == "list" else query[wire][0]
        elif location == "header":
            value = headers.get(wire.lower())
        elif location == "headers":
            prefix = wire.lower()
            value = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)} or None
        elif name != payload_member:
            body_members[name] = member
            continue
        if value is not None:
            params[name] = _from_text(member, value, name)

    if payload_member:
        member = shape.members[payload_member]
        if member.type_name in ("blob", "string"):
            if body:
                params[payload_member] = body if member.type_name == "blob" else body.decode()
        elif body.strip():
            params[payload_member] = _decode(member, _load_json(body), payload_member)
    elif body_members:
        document = _load_json(body) if body.strip() else {}
        if not isinstance(document, dict):
            raise InvalidRequestContentException("Could not parse request body into json: expected a JSON object")
        for name, member in body_members.items():
            wire = member.serialization.get("name", name)
            if document.get(wire) is not None:
                params[name] = _decode(member, document[wire], name)

    validate(shape, params)
    return params


def parse_json_request(operation: OperationModel, body: bytes) -> dict[str, Any]:
    """JSON 1.0/1.1 protocols: every input member is in the body."""
    shape = operation.input_shape
    if shape is None:
        return {}
    document = _load_json(body) if body.strip() else {}
    if not isinstance(document, dict):
        raise InvalidRequestContentException("Could not parse request body into json: expected a JSON object")
    params = _decode(shape, document, "")
    validate(shape, params)
    return params


def validate(shape: Shape, params: dict[str, Any]) -> None:
    problems: list[str] = []
    _validate(shape, params, "", problems)
    if problems:
        count = len(problems)
        raise ValidationException(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))


def _load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidRequestContentException(f"Could not parse request body into json: {e}") from None


def _from_text(shape: Shape, value: Any, name: str) -> Any:
    """Values from the URI, query string and headers arrive as text."""
    kind = shape.type_name
    try:
        if kind in _INTEGERS:
            if not _INTEGER_TEXT.fullmatch(value):
                raise ValueError(value)
            return int(value)
        if kind in _FLOATS:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if kind == "timestamp":
            return _timestamp(value, name, text=True)
        if kind == "boolean":
            if str(value).lower() not in ("true", "false"):
                raise ValueError(value)
            return str(value).lower() == "true"
        if kind == "list":
            return [_from_text(shape.member, v, name) for v in value]  # type: ignore[attr-defined]
    except ValueError:
        raise InvalidParameterValueException(
            f"Invalid value '{value}' for parameter {name}: expected {kind}") from None
    return value


def _decode(shape: Shape, value: Any, path: str) -> Any:
    """Type-check a JSON value against its shape (unknown members are ignored)."""
    kind = shape.type_name
    if kind == "structure":
        _expect(isinstance(value, dict), shape, value, path)
        out = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            wire = member.serialization.get("name", name)
            if value.get(wire) is not None:
                out[name] = _decode(member, value[wire], f"{path}.{name}")
        return out
    if kind == "list":
        _expect(isinstance(value, list), shape, value, path)
        return [_decode(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]  # type: ignore[attr-defined]
    if kind == "map":
        _expect(isinstance(value, dict), shape, value, path)
        return {_decode(shape.key, k, path): _decode(shape.value, v, f"{path}.{k}")  # type: ignore[attr-defined]
                for k, v in value.items()}
    if kind == "string":
        _expect(isinstance(value, str), shape, value, path)
        return value
    if kind in _INTEGERS:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        _expect(isinstance(value, int) and not isinstance(value, bool), shape, value, path)
        return value
    if kind in _FLOATS:
        _expect(isinstance(value, int | float) and not isinstance(value, bool), shape, value, path)
        return value
    if kind == "boolean":
        _expect(isinstance(value, bool), shape, value, path)
        return value
    if kind == "blob":
        _expect(isinstance(value, str), shape, value, path)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestContentException(
                f"Could not parse request body into json: {path} is not valid base64") from None
    if kind == "timestamp":
        _expect(isinstance(value, int | float | str) and not isinstance(value, bool), shape, value, path)
        return _timestamp(value, path)
    return value


def _timestamp(value: int | float | str, path: str, text: bool = False) -> float:
    """Seconds since the epoch, from a number or an ISO 8601 text (query strings: either)."""
    seconds: float | None = None
    if isinstance(value, str):
        try:
            seconds = float(value) if text and _INTEGER_TEXT.fullmatch(value) else \
                datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except (ValueError, OverflowError):
            pass
    else:
        seconds = float(value)
    if seconds is None or not _TIMESTAMP_RANGE[0] <= seconds <= _TIMESTAMP_RANGE[1]:
        if text:
            raise InvalidParameterValueException(f"Invalid value '{value}' for parameter {path}: expected timestamp")
        raise InvalidRequestContentException(f"Could not parse request body into json: {path} is not a timestamp")
    return seconds


_JSON_NAMES = {"structure": "an object", "list": "an array", "map": "an object", "string": "a string",
               "integer": "an integer", "long": "an integer", "float": "a number", "double": "a number",
               "boolean": "a boolean", "blob": "a base64 string"}


def _expect(ok: bool, shape: Shape, value: Any, path: str) -> None:
    if not ok:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Cannot deserialize value {_show(value)} at '{path}': "
            f"expected {_JSON_NAMES.get(shape.type_name, shape.type_name)}")


def _member_path(parent: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{parent}.{name}" if parent else name


@cache
def _pattern(pattern: str) -> regex.Pattern[str]:
    # The models' patterns are Java regular expressions: `regex` reads their `\p{L}`,
    # `\p{ASCII}` and `[\w-_]`, which `re` refuses.
    return regex.compile(pattern, regex.DOTALL)


def _validate(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            member_path = _member_path(path, name)
            if value.get(name) is None:
                if name in shape.required_members:  # type: ignore[attr-defined]
                    problems.append(f"Value null at '{member_path}' failed to satisfy constraint: "
                                    "Member must not be null")
                continue
            _validate(member, value[name], member_path, problems)
        return

    def fail(constraint: str) -> None:
        problems.append(f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    if kind in ("string", "blob", "list", "map"):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
    if kind == "string":
        if "enum" in meta and value not in meta["enum"]:
            fail(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
        elif "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
    elif kind in _INTEGERS or kind in _FLOATS:
        least, most = _TYPE_RANGES.get(kind, (None, None))
        least, most = meta.get("min", least), meta.get("max", most)
        if least is not None and value < least:
            fail(f"Member must have value greater than or equal to {least}")
        if most is not None and value > most:
            fail(f"Member must have value less than or equal to {most}")
    elif kind == "list":
        for i, item in enumerate(value):
            _validate(shape.member, item, f"{path}.{i + 1}.member", problems)  # type: ignore[attr-defined]
    elif kind == "map":
        for key, item in value.items():
            _validate(shape.key, key, f"{path}.key", problems)  # type: ignore[attr-defined]
            _validate(shape.value, item, f"{path}.{key}", problems)  # type: ignore[attr-defined]


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value).decode()
        except TypeError:  # orjson renders only 64-bit integers; the json module renders any
            text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


# ---------------------------------------------------------------- responses


def serialize_response(operation: OperationModel, output: Mapping[str, Any] | None
                       ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    status = operation.http.get("responseCode", 200)
    headers: list[tuple[bytes, bytes]] = []
    shape = operation.output_shape
    if shape is None or not output:
        return status, headers, b""
    payload_member = shape.serialization.get("payload")
    document: dict[str, Any] = {}
    body = b""
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            headers.append((member.serialization.get("name", name).encode(), _header_text(value).encode()))
        elif location == "headers":
            prefix = member.serialization.get("name", name)
            headers.extend(((prefix + k).encode(), str(v).encode()) for k, v in value.items())
        elif name == payload_member:
            if member.type_name == "blob":
                body = value
            elif member.type_name == "string":
                body = value.encode()
            else:
                body = orjson.dumps(_encode(member, value))
        else:
            document[member.serialization.get("name", name)] = _encode(member, value)
    if payload_member is None:
        body = orjson.dumps(document)
        headers.append((b"content-type", b"application/json"))
    return status, headers, body


def encode_output(operation: OperationModel, output: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON document of an output shape (JSON protocols have no headers or status)."""
    shape = operation.output_shape
    if shape is None or not output:
        return {}
    return _encode(shape, output)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {member.serialization.get("name", name): _encode(member, value[name])
                for name, member in shape.members.items()  # type: ignore[attr-defined]
                if value.get(name) is not None}
    if kind == "list":
        return [_encode(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _encode(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob":
        return base64.b64encode(value).decode()
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    return value
