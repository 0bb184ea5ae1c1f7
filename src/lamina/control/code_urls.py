"""Presigned download URLs for deployment packages (GetFunction's Code.Location)."""

from __future__ import annotations

import hashlib
import hmac
import time

URL_LIFETIME_SECONDS = 600


class CodeUrlSigner:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _signature(self, account_id: str, blob: str, expires: int) -> str:
        message = f"{account_id}/{blob}/{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, account_id: str, blob: str) -> str:
        expires = int(time.time()) + URL_LIFETIME_SECONDS
        return (f"{base_url}/_lamina/code/{account_id}/{blob}"
                f"?Expires={expires}&Signature={self._signature(account_id, blob, expires)}")

    def verify(self, account_id: str, blob: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self._signature(account_id, blob, int(expires)), signature)
