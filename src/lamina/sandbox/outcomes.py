"""How an init ended, and the error payloads the platform itself reports."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .spec import LogLine


def platform_error(error_type: str, request_id: str, message: str) -> bytes:
    """The payload of an error the platform reports (timeouts, crashes, bad entrypoints)."""
    body = {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    return json.dumps(body, separators=(",", ":")).encode()


def exit_message(description: str) -> str:
    """Lambda's words for a runtime process that ended ("exit status 1", "signal: killed")."""
    if description == "exit status 0":
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {description}"


@dataclass
class InitOutcome:
    ok: bool
    duration_ms: float
    log: list[LogLine]
    status: str = "success"  # success | error | timeout
    error_type: str | None = None
    body: bytes = b""  # what the runtime posted to /init/error: returned as is
    content_type: str = "application/json"
    message: str = ""  # a platform error, returned as "RequestId: <id> Error: <message>"

    def error_payload(self, request_id: str) -> tuple[bytes, str]:
        if self.body:
            return self.body, self.content_type
        return platform_error(self.error_type or "Runtime.Unknown", request_id, self.message), "application/json"
