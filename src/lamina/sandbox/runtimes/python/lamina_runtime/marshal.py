"""Handler results to JSON, as Lambda's Python runtime encodes them: the standard
separators, `Decimal` as a plain JSON number, and (from python3.12) non-ASCII characters
kept as they are rather than escaped."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

_ENSURE_ASCII = sys.version_info < (3, 12)


class _HasDecimal(Exception):
    pass


def _refuse_decimal(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        raise _HasDecimal
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_fast = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, default=_refuse_decimal)
_string = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII).encode


def _with_decimals(obj: Any) -> str:
    """The slow path, only for results that contain a Decimal somewhere."""
    if isinstance(obj, Decimal):
        return "NaN" if obj.is_nan() else str(obj)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str):  # json's own coercion of int, float, bool, None keys
                key = next(iter(json.loads(_fast.encode({key: None}))))
            items.append(_string(key) + ": " + _with_decimals(value))
        return "{" + ", ".join(items) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_with_decimals(item) for item in obj) + "]"
    return _fast.encode(obj)


def to_json(obj: Any) -> str:
    try:
        return _fast.encode(obj)
    except _HasDecimal:
        return _with_decimals(obj)
