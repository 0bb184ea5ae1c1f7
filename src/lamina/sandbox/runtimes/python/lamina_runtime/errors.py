"""Error payloads `{errorMessage, errorType, requestId, stackTrace}` and how they are logged."""

from __future__ import annotations

import os
import sys
import time

from .marshal import to_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

_OWN_DIR = os.path.dirname(os.path.abspath(__file__))
_NO_BREAK_SPACE = "\u00a0"


class Fault(Exception):
    """An error the runtime itself reports, with Lambda's errorType."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []

    def payload(self, request_id: str = "") -> dict[str, Any]:
        return make_error(self.message, self.error_type, self.stack_trace, request_id)


def make_error(message: str, error_type: str, stack_trace: list[str], request_id: str = "") -> dict[str, Any]:
    return {"errorMessage": message or "", "errorType": error_type or "", "requestId": request_id,
            "stackTrace": stack_trace}


def from_exception(error: BaseException, tb: TracebackType | None, request_id: str = "") -> dict[str, Any]:
    """The payload for an exception raised by user code; the runtime's own frames at the
    bottom of the traceback are left out, as Lambda's stack traces start in the function."""
    import traceback  # only for errors: most invocations never need it

    frames = traceback.extract_tb(tb)
    while frames and frames[0].filename.startswith(_OWN_DIR):
        frames.pop(0)
    return make_error(str(error), type(error).__name__, traceback.format_list(frames), request_id)


def log_error(error: dict[str, Any], json_format: bool) -> None:
    """One log record for an unhandled error (lines joined by CR, so it stays one record)."""
    if json_format:
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "level": "ERROR", **error}
        sys.stdout.write(to_json(record) + "\n")
        return
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        description += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for entry in error.get("stackTrace") or []:
        for line in entry.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append(_NO_BREAK_SPACE * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")
