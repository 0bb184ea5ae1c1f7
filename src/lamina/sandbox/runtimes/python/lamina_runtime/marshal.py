"""JSON both ways, as Lambda's Python runtime does it: events parsed as `json.loads` parses
them, results encoded with the standard separators, `Decimal` as a plain JSON number, and
(from python3.12) non-ASCII characters kept as they are rather than escaped.

Built straight on `_json`, the C half of `json`, with the scanner and encoder `json` would
build, made once: `json` itself imports `re` (and `enum`, `functools`, ...), ~1 MB and some
milliseconds per runtime for patterns only its pure-Python fallbacks and error messages use.
Whatever does not parse is parsed again by `json.loads`, imported then, so that the error
is json's own. `decimal` is not imported either: a result can hold a Decimal only once
something else has imported it.
"""

from __future__ import annotations

import sys

try:
    import _json
except ImportError:  # an interpreter without json's C accelerator: json itself, all the way
    _json = None

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ENSURE_ASCII = sys.version_info < (3, 12)
_WHITESPACE = " \t\n\r"  # json's WHITESPACE pattern
# A payload json.loads would not decode as UTF-8: a byte-order mark, or a NUL among the
# first bytes (UTF-16/32 without one).
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _HasDecimal(Exception):
    pass


def _is_decimal(obj: Any) -> bool:
    decimal = sys.modules.get("decimal")
    return decimal is not None and isinstance(obj, decimal.Decimal)


def _refuse_decimal(obj: Any) -> Any:
    if _is_decimal(obj):
        raise _HasDecimal
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class _DecoderOptions:
    """What `json.JSONDecoder()` hands its C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


if _json is not None:
    _scan = _json.make_scanner(_DecoderOptions())
    _quote = _json.encode_basestring_ascii if _ENSURE_ASCII else _json.encode_basestring

    def _encoder(markers: dict[int, Any]) -> Any:
        return _json.make_encoder(markers, _refuse_decimal, _quote, None, ": ", ", ", False, False, True)

    def loads(text: str) -> Any:
        """`json.loads(text)`."""
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            obj, end = _scan(text, start)
        except (StopIteration, ValueError):
            obj, end = None, -1
        if end < 0 or text[end:].lstrip(_WHITESPACE):
            import json  # for json's own error
            return json.loads(text)
        return obj

    def _encode(obj: Any) -> str:
        if isinstance(obj, str):
            return _quote(obj)
        return "".join(_encoder({})(obj, 0))
else:
    import json

    loads = json.loads
    _encode = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII, default=_refuse_decimal).encode
    _quote = json.JSONEncoder(ensure_ascii=_ENSURE_ASCII).encode


def _with_decimals(obj: Any) -> str:
    """The slow path, only for results that contain a Decimal somewhere."""
    if _is_decimal(obj):
        return "NaN" if obj.is_nan() else str(obj)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str):  # json's own coercion of int, float, bool, None keys
                key = next(iter(loads(_encode({key: None}))))
            items.append(_quote(key) + ": " + _with_decimals(value))
        return "{" + ", ".join(items) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_with_decimals(item) for item in obj) + "]"
    return _encode(obj)


def to_json(obj: Any) -> str:
    try:
        return _encode(obj)
    except _HasDecimal:
        return _with_decimals(obj)


def load_event(payload: bytes) -> Any:
    """`json.loads(payload)`: bytes json would read as UTF-8 are decoded as it decodes them."""
    if payload.startswith(_BOMS) or b"\0" in payload[:4]:
        import json  # its detection of UTF-16 and UTF-32
        return json.loads(payload)
    return loads(payload.decode("utf-8", "surrogatepass"))


def _reusable_encoder() -> Any:
    """The C encoder `json` builds per call, built once, with its circular-reference markers
    (empty again after every encoding that completes); None without the C accelerator."""
    if _json is None:
        return None
    markers: dict[int, Any] = {}
    return markers, _encoder(markers)


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
