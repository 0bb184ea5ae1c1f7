"""Intrinsic functions (`States.Format(...)` and friends) for JSONPath states.

`parse_call` turns the text of a `.$` field into a call tree once, at definition time,
so that unknown functions and wrong argument counts are definition errors; `evaluate`
runs a tree against the state's data. A failure while running raises
`States.IntrinsicFailure` with a cause naming the function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lamina.states import jsondoc
from lamina.states.errors import INTRINSIC_FAILURE, StatesError
from lamina.states.jsonpath import JsonPath, JsonPathSyntaxError, compile_path, json_equal

_MAX_NESTING = 10
_MAX_STRING = 10_000
_MAX_RANGE_ITEMS = 1_000


class IntrinsicSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Literal:
    value: Any
    raw: str | None = None  # a string literal as written, escapes kept (States.Format reads `\{`)


@dataclass(frozen=True)
class PathArg:
    path: JsonPath


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    text: str


Resolver = Callable[[JsonPath], Any]


def is_intrinsic(text: str) -> bool:
    return isinstance(text, str) and text.startswith("States.")


def parse_call(text: str) -> Call:
    parser = _Parser(text)
    call = parser.call(depth=1)
    parser.skip_space()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"unexpected text after the call: {text[parser.pos :]!r}")
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > _MAX_NESTING:
            raise IntrinsicSyntaxError(f"more than {_MAX_NESTING} nested intrinsic functions")
        start = self.pos
        m = re.compile(r"States\.([A-Za-z0-9]+)\(").match(self.text, self.pos)
        if not m:
            raise IntrinsicSyntaxError(f"expected an intrinsic function at {self.pos}")
        name = m.group(1)
        if name not in FUNCTIONS:
            raise IntrinsicSyntaxError(f"unknown intrinsic function States.{name}")
        self.pos = m.end()
        args: list[Any] = []
        self.skip_space()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                self.skip_space()
                args.append(self.argument(depth))
                self.skip_space()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    raise IntrinsicSyntaxError(f"expected ',' or ')' at {self.pos}")
        low, high = FUNCTIONS[name].arity
        if not low <= len(args) <= (high if high is not None else len(args)):
            raise IntrinsicSyntaxError(f"States.{name} takes {_arity_text(low, high)}, got {len(args)}")
        return Call(name, tuple(args), self.text[start : self.pos])

    def argument(self, depth: int) -> Any:
        text, pos = self.text, self.pos
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        if text.startswith("'", pos):
            return self.string()
        if text.startswith("$", pos):
            end = self._path_end(pos)
            try:
                path = compile_path(text[pos:end].rstrip())
            except JsonPathSyntaxError as e:
                raise IntrinsicSyntaxError(str(e)) from e
            self.pos = end
            return PathArg(path)
        m = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null").match(text, pos)
        if not m:
            raise IntrinsicSyntaxError(f"unexpected argument at {pos}: {text[pos : pos + 20]!r}")
        self.pos = m.end()
        return Literal(json.loads(m.group()))

    def string(self) -> Literal:
        text = self.text
        pos = self.pos + 1
        raw: list[str] = []
        while pos < len(text):
            ch = text[pos]
            if ch == "\\" and pos + 1 < len(text):
                raw.append(text[pos : pos + 2])
                pos += 2
                continue
            if ch == "'":
                self.pos = pos + 1
                raw_text = "".join(raw)
                return Literal(re.sub(r"\\(.)", r"\1", raw_text), raw_text)
            raw.append(ch)
            pos += 1
        raise IntrinsicSyntaxError("unterminated string literal")

    def _path_end(self, pos: int) -> int:
        depth, quote = 0, None
        while pos < len(self.text):
            ch = self.text[pos]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"" and depth:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    return pos
                depth -= 1
            elif ch == "," and depth == 0:
                return pos
            pos += 1
        return pos


def _arity_text(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low} argument(s)"
    return f"{low} argument(s)" if low == high else f"{low} to {high} arguments"


def evaluate(call: Call, resolve: Resolver) -> Any:
    """Run `call`; `resolve` looks up path arguments (raising PathNotFound when absent)."""
    args = [_value(arg, resolve) for arg in call.args]
    spec = FUNCTIONS[call.name]
    try:
        if call.name == "Format":
            return _format(call, args)
        return spec.run(*args)
    except _ArgumentError as e:
        raise StatesError(
            INTRINSIC_FAILURE, f"The function 'States.{call.name}' had the following error: {e}"
        ) from e


def _value(arg: Any, resolve: Resolver) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArg):
        return resolve(arg.path)
    return evaluate(arg, resolve)


class _ArgumentError(ValueError):
    pass


@dataclass(frozen=True)
class _Function:
    run: Callable[..., Any]
    arity: tuple[int, int | None]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer()


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise _ArgumentError(message)


def _need_string(v: Any, what: str, limit: int | None = None) -> str:
    _need(isinstance(v, str), f"The {what} argument must be a string")
    if limit is not None:
        _need(len(v) <= limit, f"The {what} argument exceeds the maximum of {limit} characters")
    return v


def _need_array(v: Any, what: str) -> list[Any]:
    _need(isinstance(v, list), f"The {what} argument must be a JSON array")
    return v


def _format(call: Call, args: list[Any]) -> str:
    template_arg = call.args[0]
    _need(isinstance(args[0], str), "The first argument must be a string")
    # Braces escaped in a literal template (`\{`) are text, not placeholders.
    raw = template_arg.raw if isinstance(template_arg, Literal) and template_arg.raw is not None else args[0]
    values = args[1:]
    out: list[str] = []
    used = 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        elif raw.startswith("{}", i):
            _need(used < len(values), "Number of arguments does not match the number of placeholders")
            out.append(_format_value(values[used]))
            used += 1
            i += 2
        else:
            out.append(ch)
            i += 1
    _need(used == len(values), "Number of arguments does not match the number of placeholders")
    return "".join(out)


def _format_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _string_to_json(s: Any) -> Any:
    _need_string(s, "first")
    try:
        return jsondoc.loads(s)
    except json.JSONDecodeError as e:
        raise _ArgumentError(f"The argument is not valid JSON: {e.msg}") from e


def _json_to_string(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    _need_array(array, "first")
    _need(_is_int(size) and size > 0, "The chunk size must be a positive integer")
    n = int(size)
    return [array[i : i + n] for i in range(0, len(array), n)]


def _array_contains(array: Any, value: Any) -> bool:
    _need_array(array, "first")
    return any(json_equal(item, value) for item in array)


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    _need(all(_is_int(v) for v in (start, end, step)), "The arguments must be integers")
    start, end, step = int(start), int(end), int(step)
    _need(step != 0, "The step argument cannot be 0")
    count = max(0, (end - start) // step + 1)
    _need(count <= _MAX_RANGE_ITEMS, f"The resulting array cannot have more than {_MAX_RANGE_ITEMS} items")
    return [start + i * step for i in range(count)]


def _array_get_item(array: Any, index: Any) -> Any:
    _need_array(array, "first")
    _need(_is_int(index) and index >= 0, "The index must be a non-negative integer")
    _need(
        int(index) < len(array), f"The index {int(index)} is out of bounds for an array of {len(array)} items"
    )
    return array[int(index)]


def _array_length(array: Any) -> int:
    return len(_need_array(array, "first"))


def _array_unique(array: Any) -> list[Any]:
    out: list[Any] = []
    for item in _need_array(array, "first"):
        if not any(json_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _base64_encode(s: Any) -> str:
    return base64.b64encode(_need_string(s, "first", _MAX_STRING).encode()).decode()


def _base64_decode(s: Any) -> str:
    _need_string(s, "first", _MAX_STRING)
    try:
        return base64.b64decode(s, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise _ArgumentError("The argument is not a valid base64 string") from e


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(data: Any, algorithm: Any) -> str:
    _need(data is not None, "The data argument cannot be null")
    text = data if isinstance(data, str) else _json_to_string(data)
    _need(len(text) <= _MAX_STRING, f"The data argument exceeds the maximum of {_MAX_STRING} characters")
    _need(algorithm in _HASHES, "The algorithm must be one of " + ", ".join(_HASHES))
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def _json_merge(a: Any, b: Any, deep: Any) -> dict[str, Any]:
    _need(isinstance(a, dict) and isinstance(b, dict), "The first two arguments must be JSON objects")
    _need(deep is False, "Only shallow merge is supported: the third argument must be false")
    return {**a, **b}


def _math_random(start: Any, end: Any, seed: Any = None) -> int:
    _need(_is_int(start) and _is_int(end), "The start and end arguments must be integers")
    _need(int(start) < int(end), "The start argument must be less than the end argument")
    rng = random.Random(int(seed)) if seed is not None and _is_int(seed) else random.Random()
    return rng.randrange(int(start), int(end))


def _math_add(a: Any, b: Any) -> int:
    _need(_is_int(a) and _is_int(b), "The arguments must be integers")
    return int(a) + int(b)


def _string_split(s: Any, delimiters: Any) -> list[str]:
    _need_string(s, "first")
    _need_string(delimiters, "second")
    if not delimiters:
        return [s]
    parts = re.split("[" + re.escape(delimiters) + "]", s)
    return [p for p in parts if p != ""]


FUNCTIONS: dict[str, _Function] = {
    "Format": _Function(_format, (1, None)),
    "StringToJson": _Function(_string_to_json, (1, 1)),
    "JsonToString": _Function(_json_to_string, (1, 1)),
    "Array": _Function(lambda *args: list(args), (0, None)),
    "ArrayPartition": _Function(_array_partition, (2, 2)),
    "ArrayContains": _Function(_array_contains, (2, 2)),
    "ArrayRange": _Function(_array_range, (3, 3)),
    "ArrayGetItem": _Function(_array_get_item, (2, 2)),
    "ArrayLength": _Function(_array_length, (1, 1)),
    "ArrayUnique": _Function(_array_unique, (1, 1)),
    "Base64Encode": _Function(_base64_encode, (1, 1)),
    "Base64Decode": _Function(_base64_decode, (1, 1)),
    "Hash": _Function(_hash, (2, 2)),
    "JsonMerge": _Function(_json_merge, (3, 3)),
    "MathRandom": _Function(_math_random, (2, 3)),
    "MathAdd": _Function(_math_add, (2, 2)),
    "StringSplit": _Function(_string_split, (2, 2)),
    "UUID": _Function(lambda: str(uuid.uuid4()), (0, 0)),
}
