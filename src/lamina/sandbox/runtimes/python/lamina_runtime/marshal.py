"""JSON both ways, as Lambda's Python runtime does it: events parsed as `json.loads` parses
them, results encoded with the standard separators, `Decimal` as a plain JSON number, and
(from python3.12) non-ASCII characters kept as they are rather than escaped.

The loop's own conversions (`load_event`, `dump_result`, on its thread only) skip what
`json` redoes on every call: detecting the encoding of a payload that can only be UTF-8,
and building the C encoder. `decimal` is not imported here: a result can hold a Decimal only
once something else has imported it."""

from __future__ import annotations

import json
import sys
from json import encoder as _encoder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ENSURE_ASCII = sys.version_info < (3, 12)


class _HasDecimal(Exception):
    pass


def _is_decimal(obj: Any) -> bool:
    decimal = sys.modules.get("decimal")
    return decimal is not None and isinstance(obj, decimal.Decimal)


def _refuse_decimal(obj: Any) -> Any:
    if _is_decimal(obj):
        raise _HasDecimal
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_fast = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, default=_refuse_decimal)
_string = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII).encode


def _with_decimals(obj: Any) -> str:
    """The slow path, only for results that contain a Decimal somewhere."""
    if _is_decimal(obj):
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


_decode = json.JSONDecoder().decode


def load_event(payload: bytes) -> Any:
    """`json.loads(payload)`. A payload that opens an object or array without a NUL byte
    next is UTF-8 by json's own detection, so it is decoded as json.loads would decode it."""
    if payload[:1] in (b"{", b"[") and payload[1:2] != b"\0":
        return _decode(payload.decode("utf-8", "surrogatepass"))
    return json.loads(payload)


def _reusable_encoder() -> Any:
    """The C encoder `json` builds per call, built once, with its circular-reference markers
    (empty again after every encoding that completes); None without the C accelerator."""
    if _encoder.c_make_encoder is None:
        return None
    markers: dict[int, Any] = {}
    basestring = _encoder.encode_basestring_ascii if _ENSURE_ASCII else _encoder.encode_basestring
    return markers, _encoder.c_make_encoder(markers, _refuse_decimal, basestring, None, ": ", ", ", False, False,
                                            True)


_reusable = _reusable_encoder()


def dump_result(obj: Any) -> str:
    """`to_json(obj)` for the loop's thread."""
    if _reusable is None or isinstance(obj, str):
        return to_json(obj)
    markers, encode = _reusable
    try:
        return "".join(encode(obj, 0))
    except _HasDecimal:
        markers.clear()
        return _with_decimals(obj)
    except BaseException:
        markers.clear()  # left mid-encoding
        raise
