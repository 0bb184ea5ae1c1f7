"""JSONata expressions (`"{% ... %}"`) evaluated through the `jsonata-python` library.

Step Functions binds `$states` (input, result, errorOutput, context) and the workflow
variables, and adds a few functions of its own ($partition, $range, $hash, $random,
$uuid, $parse); `$eval` is not available. A failing or undefined expression is a
`States.QueryEvaluationError`.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from functools import lru_cache
from typing import Any

import jsonata
from jsonata import utils as jsonata_utils

from lamina.states import jsondoc
from lamina.states.errors import QUERY_EVALUATION_ERROR, StatesError

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class JsonataSyntaxError(ValueError):
    pass


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}") and len(value) >= 4


def expression_body(value: str) -> str:
    return value[2:-2].strip()


def check_syntax(value: str) -> None:
    """Raise JsonataSyntaxError if the `{% %}` string does not compile."""
    body = expression_body(value)
    if not body:
        raise JsonataSyntaxError("the expression is empty")
    if "$eval(" in body.replace(" ", ""):
        raise JsonataSyntaxError("$eval is not supported; use $parse")
    try:
        _compile(body)
    except Exception as e:  # the library raises its own JException and sometimes plain errors
        raise JsonataSyntaxError(str(e)) from e


@lru_cache(maxsize=2048)
def _compile(body: str) -> jsonata.Jsonata:
    expr = jsonata.Jsonata(body)
    expr.set_output_convert_nulls(False)
    expr.register_lambda("partition", _partition)
    expr.register_lambda("range", _range)
    expr.register_lambda("hash", _hash)
    expr.register_lambda("random", _random)
    expr.register_lambda("uuid", lambda: str(uuid.uuid4()))
    expr.register_lambda("parse", _parse)
    return expr


def evaluate(value: str, states: dict[str, Any], variables: dict[str, Any], *, field: str) -> Any:
    """The value of the `{% %}` string `value`; `field` names where it sits, for the error cause."""
    body = expression_body(value)
    bindings = dict(variables)
    bindings["states"] = states
    try:
        result = _compile(body).evaluate(states.get("input"), bindings)
    except StatesError:
        raise
    except Exception as e:
        raise StatesError(
            QUERY_EVALUATION_ERROR,
            f"An error occurred while evaluating the expression '{body}' specified for the field "
            f"'{field}': {e}",
        ) from e
    if result is None:
        raise StatesError(
            QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{body}' specified for the field '{field}' returned nothing (undefined).",
        )
    return to_json(jsonata_utils.Utils.convert_nulls(result))


def to_json(value: Any) -> Any:
    """Plain JSON values from the library's list and sequence types."""
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _fail(function: str, message: str) -> StatesError:
    return StatesError(QUERY_EVALUATION_ERROR, f"The function {function} had the following error: {message}")


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list) or not isinstance(size, (int, float)) or size < 1:
        raise _fail("$partition", "expects an array and a positive chunk size")
    n = int(size)
    return [list(array[i : i + n]) for i in range(0, len(array), n)]


def _range(start: Any, end: Any, step: Any) -> list[Any]:
    if not all(isinstance(v, (int, float)) for v in (start, end, step)) or step == 0:
        raise _fail("$range", "expects numeric start, end and a non-zero step")
    out: list[Any] = []
    current = start
    while (step > 0 and current <= end) or (step < 0 and current >= end):
        out.append(current)
        current += step
        if len(out) > 1000:
            raise _fail("$range", "the range cannot have more than 1000 items")
    return out


def _hash(data: Any, algorithm: Any) -> str:
    if not isinstance(data, str) or algorithm not in _HASHES:
        raise _fail("$hash", "expects a string and one of " + ", ".join(_HASHES))
    return hashlib.new(_HASHES[algorithm], data.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise _fail("$parse", "expects a string")
    try:
        return jsondoc.loads(text)
    except json.JSONDecodeError as e:
        raise _fail("$parse", f"invalid JSON: {e.msg}") from e
