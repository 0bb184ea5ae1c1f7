"""The one parser for JSON documents that come from outside: state machine definitions,
execution inputs, task outputs and results, and the JSON strings intrinsics and JSONata parse.

Two things the standard library accepts would fail later, far from the request: a document
nested deeper than Python can recurse (`RecursionError` in every walker, the encoder too), and
a lone UTF-16 surrogate escape (`"\\ud800"`), which becomes a string no UTF-8 encoder takes.
Both are refused here, as `json.JSONDecodeError`s, so callers report them as the invalid JSON
they are. Everything else parses as `json.loads` parses it (integers of any size included).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate, repeat
from typing import Any

# Deepest nesting of arrays and objects accepted. Python's recursion limit (1,000 frames, the
# encoder's included) must cover the document plus the frames of whoever walks it.
MAX_DEPTH = 256

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Outside strings a JSON text is ASCII: deleting every other ASCII character leaves the brackets.
_NOT_BRACKET = {code: None for code in range(128) if chr(code) not in "[]{}"}
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def too_deep(text: str) -> bool:
    """Whether arrays and objects nest deeper than MAX_DEPTH in `text` (brackets inside strings
    do not count; with no more opening brackets than that, it cannot be)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    brackets = _STRING.sub("", text).translate(_NOT_BRACKET)
    steps = map(_DELTA.get, brackets, repeat(0))  # 0: a stray character, which json.loads refuses
    return max(accumulate(steps), default=0) > MAX_DEPTH


def loads(text: str, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    if too_deep(text):
        raise json.JSONDecodeError(f"JSON nested deeper than {MAX_DEPTH} levels", text, 0)
    value = json.loads(text, object_pairs_hook=object_pairs_hook)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise json.JSONDecodeError("Invalid UTF-16 surrogate: a lone surrogate escape", text, 0)
    return value


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False
