"""Pagination tokens: an opaque encoding of where the previous page stopped."""

from __future__ import annotations

import base64
import binascii

from lamina.states.errors import InvalidToken

DEFAULT_PAGE = 100


def page_size(max_results: int | None, default: int = DEFAULT_PAGE) -> int:
    """`maxResults` of 0 (or none) means the default page size."""
    return max_results or default


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
