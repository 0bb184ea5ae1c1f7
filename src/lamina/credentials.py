"""Temporary credentials lamina gives each function, as Lambda gives it its execution
role's session: SDK calls made from inside a function are signed with them, and lamina
recognises them as the function's own account (whether or not access keys are configured)
without the operator's keys ever entering a sandbox."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


class SessionCredentials:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, account_id: str) -> dict[str, str]:
        key_id = "ASIA" + secrets.token_hex(8).upper()
        claim = f"{account_id}:{key_id}"
        token = base64.urlsafe_b64encode(claim.encode()).decode() + "." + self._sign(claim)
        return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": self.secret_for(key_id),
                "AWS_SESSION_TOKEN": token}

    def secret_for(self, key_id: str) -> str:
        return self._sign("secret:" + key_id)[:40]

    def account_of(self, key_id: str, token: str) -> str | None:
        """The account a session token was issued for, or None if it is not one of ours."""
        encoded, _, signature = token.partition(".")
        try:
            claim = base64.urlsafe_b64decode(encoded.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        account_id, _, claimed_key = claim.partition(":")
        if claimed_key != key_id or not hmac.compare_digest(self._sign(claim), signature):
            return None
        return account_id
