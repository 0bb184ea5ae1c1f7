"""Who is asking: passed from the api layer into every service call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    account_id: str
    region: str
    request_id: str
    # How the caller reached lamina (scheme://host[:port]); URLs handed out are built on it.
    base_url: str = "http://127.0.0.1:9600"
