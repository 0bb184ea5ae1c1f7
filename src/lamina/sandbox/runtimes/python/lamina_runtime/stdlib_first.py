"""Standard modules the runtime no longer imports up front still come from the standard
library, never from a same-named file in /var/task or a layer.

Until the runtime deferred them (logging, json, re, typing, ...), they were in
sys.modules before the function's sys.path was set, so `import enum` in a function that
bundles a stray `enum.py` (enum34, the `typing` backport, ...) got the standard one, as on
Lambda, whose runtime imports them first too. A finder just before the path finder keeps
that: the first import of one of these names searches the interpreter's own sys.path, as
the runtime's start saw it.
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Top-level modules that earlier versions of the runtime loaded before any user code, on
# python3.9 - 3.13, less those it still loads.
PINNED = frozenset((
    "_colorize", "_datetime", "_decimal", "_heapq", "_weakrefset", "array", "collections", "contextlib", "copyreg",
    "datetime", "decimal", "enum", "errno", "functools", "heapq", "json", "keyword", "linecache", "logging", "math",
    "numbers", "operator", "re", "reprlib", "select", "selectors", "socket", "sre_compile", "sre_constants",
    "sre_parse", "string", "textwrap", "threading", "token", "tokenize", "traceback", "types", "typing", "weakref",
))


class StdlibFirst:
    def __init__(self, path: list[str]) -> None:
        self._path = path

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if path is not None or name not in PINNED:
            return None
        return PathFinder.find_spec(name, self._path, target)


def install() -> None:
    """Call before sys.path becomes the function's."""
    finder = StdlibFirst(list(sys.path))
    meta_path = sys.meta_path
    meta_path.insert(meta_path.index(PathFinder) if PathFinder in meta_path else len(meta_path), finder)
