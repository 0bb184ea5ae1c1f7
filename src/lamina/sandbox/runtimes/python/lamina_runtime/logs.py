"""stdout/stderr and the `logging` module, as in Lambda's Python runtime.

Output is unbuffered (a `print` reaches the log at once). The root logger is set up as
Lambda's is (see `rootlogger`), but only when something first imports `logging`: every
handler module that imports it finds it set up, and one that never does pays nothing.
"""

from __future__ import annotations

import io
import os
import sys

from .after_import import after_import

request_id = ""  # the invocation being served, for log records
tenant_id = None

_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}


def unbuffered_stdio() -> None:
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "w", closefd=False)
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)  # type: ignore[arg-type]
        setattr(sys, name, stream)


def json_format() -> bool:
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def configure_logging() -> None:
    """The root logger's set-up, from the function's environment as it is at init."""
    json_lines = json_format()
    level: str | None = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = _LEVELS.get(level, level)
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        level = None

    def configure(_logging: object) -> None:
        from . import rootlogger
        rootlogger.configure(json_lines, level)

    after_import("logging", configure)
