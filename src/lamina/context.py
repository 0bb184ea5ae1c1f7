"""Who is asking: passed from the api layer into every service call; and the request ids
that name each request."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(slots=True)  # one per request: a frozen __init__ would cost object.__setattr__ per field
class RequestContext:
    account_id: str
    region: str
    request_id: str
    # How the caller reached lamina (scheme://host[:port]); URLs handed out are built on it.
    base_url: str = "http://127.0.0.1:9600"


# Request ids are random UUIDv4 texts, as AWS's are. `uuid.uuid4()` costs a system call and
# an object per id on the hot path; here one `os.urandom` read makes a batch of ids.
_BATCH = 256
_VARIANTS = "89ab89ab89ab89ab"  # the variant nibble is 10xx: keep two random bits of the hex digit
_ready: list[str] = []


def _refill() -> None:
    hexed = os.urandom(16 * _BATCH).hex()
    _ready.extend(
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANTS[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
        for h in (hexed[i:i + 32] for i in range(0, len(hexed), 32)))


def new_request_id() -> str:
    """A fresh random UUIDv4, in its 8-4-4-4-12 hex form."""
    try:
        return _ready.pop()  # atomic: threads never share an id
    except IndexError:
        _refill()
        return _ready.pop()


# A forked child must not hand out the ids its parent holds.
os.register_at_fork(after_in_child=_ready.clear)
