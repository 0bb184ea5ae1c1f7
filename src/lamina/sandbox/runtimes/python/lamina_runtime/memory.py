"""The runtime process's own memory high-water mark, sent with every reply so that the
worker need not measure the environment on every invocation (see the worker's
`sandbox.highwater`). `getrusage` is one system call and reads the same counter as VmHWM in
/proc/self/status."""

from __future__ import annotations

import resource

_SELF = resource.RUSAGE_SELF


class HighWater:
    """ru_maxrss as the reply's ASCII field, encoded again only when it has grown."""

    __slots__ = ("_kb", "_field")

    def __init__(self) -> None:
        self._kb = -1
        self._field = b""

    def field(self) -> bytes:
        kb = resource.getrusage(_SELF).ru_maxrss  # kB on Linux
        if kb != self._kb:
            self._kb = kb
            self._field = str(kb).encode()
        return self._field
