"""Marker/MaxItems pagination of the List* operations: the marker is the key of the last
item returned, and no page holds more than 50 items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from lamina.errors import InvalidParameterValueException

T = TypeVar("T")
PAGE_LIMIT = 50


def page(keys: Sequence[str], items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """The items after `params["Marker"]` (up to MaxItems) and the NextMarker, if any is left."""
    marker = params.get("Marker")
    if marker and marker not in keys:
        raise InvalidParameterValueException("Invalid pagination marker.")
    start = keys.index(marker) + 1 if marker else 0
    limit = min(params.get("MaxItems") or PAGE_LIMIT, PAGE_LIMIT)
    chosen = list(items[start:start + limit])
    return chosen, (keys[start + limit - 1] if start + limit < len(items) else None)
