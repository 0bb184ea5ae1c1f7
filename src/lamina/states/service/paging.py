"""Pagination tokens: an opaque encoding of where the previous page stopped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any, TypeVar

from lamina.states.errors import InvalidToken

T = TypeVar("T")

DEFAULT_PAGE = 100


def page_size(max_results: int | None, default: int = DEFAULT_PAGE) -> int:
    """`maxResults` of 0 (or none) means the default page size."""
    return max_results or default


def page_by_name(items: Iterable[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """Items (each with a `name`) sorted by name, the page after `nextToken`, and the token
    for the next page if there is one."""
    after = decode_str(params.get("nextToken"))
    limit = page_size(params.get("maxResults"))
    remaining = sorted((i for i in items if after is None or i.name > after), key=lambda i: i.name)  # type: ignore[attr-defined]
    page = remaining[:limit]
    return page, (encode(page[-1].name) if len(remaining) > limit else None)  # type: ignore[attr-defined]


def encode(position: str | int) -> str:
    return base64.urlsafe_b64encode(f"{type(position).__name__}:{position}".encode()).decode()


def decode_str(token: str | None) -> str | None:
    return _decode(token, "str")


def decode_int(token: str | None) -> int | None:
    value = _decode(token, "int")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidToken(f"Invalid Token: '{token}'") from None


def _decode(token: str | None, kind: str) -> str | None:
    if token is None:
        return None
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError):
        raise InvalidToken(f"Invalid Token: '{token}'") from None
    prefix, _, value = text.partition(":")
    if prefix != kind:
        raise InvalidToken(f"Invalid Token: '{token}'")
    return value
