"""Task tokens that say which execution they belong to.

A token is the execution's id and 32 random bytes, base64url-encoded: SendTask* finds the
execution without an index, and the random part is what makes a token unguessable (the
execution's checkpoint holds the full token, so a forged id finds nothing).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from lamina.states.errors import InvalidToken

_RANDOM_BYTES = 32


def new_task_token(execution_id: int) -> str:
    raw = execution_id.to_bytes(8, "big") + secrets.token_bytes(_RANDOM_BYTES)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_execution(token: str) -> int:
    """The id of the execution a token belongs to; `InvalidToken` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("Invalid Token: 'Invalid token'") from None
    if len(raw) != 8 + _RANDOM_BYTES:
        raise InvalidToken("Invalid Token: 'Invalid token'")
    return int.from_bytes(raw[:8], "big")
