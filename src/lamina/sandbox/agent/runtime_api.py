"""The Runtime API's rules (spec §2), independent of how the runtime reaches them.

Both the HTTP server and the managed Python runtime's private channel call into one
`RuntimeApi`, so every runtime sees the same states, checks and status codes.
"""

from __future__ import annotations

from . import wire

TYPE_CHECKING = False  # no `typing` at run time: see agent.py
if TYPE_CHECKING:
    from typing import Callable, Protocol

    class Listener(Protocol):
        def on_init_done(self) -> None: ...
        def on_init_error(self, error_type: str, content_type: str, body: bytes) -> None: ...
        def on_invocation_done(self, request_id: str, outcome: bytes, error_type: str, content_type: str,
                               body: bytes) -> None: ...

MAX_RESPONSE = 6291556  # 6 MiB + 100 bytes

STARTED = "Started"
READY = "Ready"
RUNNING = "Running"
INIT_ERROR = "InitError"
INVOCATION_RESPONSE = "InvocationResponse"
INVOCATION_ERROR = "InvocationErrorResponse"
RESPONSE_SENT = "RuntimeResponseSentState"

ERROR_CAUSE_TYPE = "application/vnd.aws.lambda.error.cause+json"
TOO_LARGE_BODY = (b'{"errorMessage":"Response payload size exceeded maximum allowed payload size '
                  b'(6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}')


class Reply:
    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


def _error_reply(status: int, error_type: str, message: str) -> Reply:
    import json  # only on the error paths: importing it costs the agent's start ~10 ms

    body = json.dumps({"errorMessage": message, "errorType": error_type}, separators=(",", ":"))
    return Reply(status, body.encode() + b"\n")


ACCEPTED = Reply(202, b'{"status":"OK"}\n')
# What `_error_reply` makes of them, written out so that the agent starts without `json`.
INVALID_REQUEST_ID = Reply(400, b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n')
INVALID_RESPONSE_MODE = Reply(400, b'{"errorMessage":"Invalid function response mode",'
                                   b'"errorType":"InvalidFunctionResponseMode"}\n')
TOO_LARGE = Reply(413, b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
                       b'"errorType":"RequestEntityTooLarge"}\n')


def _forbidden(current: str, target: str) -> Reply:
    return _error_reply(403, "InvalidStateTransition",
                        f"State transition from {current} to {target} failed for runtime. "
                        "Error: State transition is not allowed")


class Event:
    """One invocation as handed to the runtime: the INVOKE frame's fields."""

    __slots__ = ("fields", "request_id")

    def __init__(self, fields: list[bytes]) -> None:
        self.fields = fields
        self.request_id = fields[0].decode()


def _is_valid_error_type(value: str) -> bool:
    """Whether `value` contains `(Runtime|Function)\\.[A-Z][a-zA-Z]+` (without importing re)."""
    for prefix in ("Runtime.", "Function."):
        start = value.find(prefix)
        while start >= 0:
            rest = value[start + len(prefix):start + len(prefix) + 2]
            if len(rest) == 2 and rest[0].isascii() and rest[0].isupper() and rest[1].isascii() and rest[1].isalpha():
                return True
            start = value.find(prefix, start + 1)
    return False


def error_type_of(header: str | None, body: bytes) -> str:
    """The errorType as the caller sees it: the body's `errorType` when the body is a JSON
    object carrying one, else the classified `Lambda-Runtime-Function-Error-Type` header."""
    import json

    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("errorType"), str) and parsed["errorType"]:
            return parsed["errorType"]
    except ValueError:
        pass
    if header and _is_valid_error_type(header):
        return header
    if header and header.startswith("Function."):
        return "Function.Unknown"
    return "Runtime.Unknown"


def normalise_error_body(body: bytes, content_type: str) -> tuple[bytes, str]:
    """Error bodies pass through unchanged, except the X-Ray cause flavour, which loses
    its `errorCause` and becomes plain JSON."""
    if content_type.split(";")[0].strip().lower() != ERROR_CAUSE_TYPE:
        return body, content_type
    import json

    try:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        cleaned = {k: parsed[k] for k in ("errorMessage", "errorType", "stackTrace") if k in parsed}
        return json.dumps(cleaned).encode(), "application/json"
    except ValueError:
        return b'"Invalid error body"', "application/json"


class RuntimeApi:
    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self.state = STARTED
        self.event: Event | None = None  # reserved from dispatch until the runtime's next /next
        self._waiters: list[Callable[[Event], None]] = []
        self._outcome: tuple[bytes, str, str, bytes] = (wire.OK, "", "", b"")

    def restart(self) -> None:
        """A new runtime process: back to Started (used by resets)."""
        self.state = STARTED
        self.event = None
        self._waiters = []

    def fail_init(self) -> None:
        """The platform itself failed the init (no usable bootstrap)."""
        self.state = INIT_ERROR

    # -- GET /next ----------------------------------------------------------------------

    def next(self, deliver: Callable[[Event], None]) -> Reply | None:
        """Deliver the next event now or later; a Reply only when refused."""
        state = self.state
        if state == RUNNING:
            assert self.event is not None
            deliver(self.event)  # a second /next while running gets the same event again
            return None
        if state == INIT_ERROR:
            return _forbidden(state, READY)
        self._waiters.append(deliver)
        if state == STARTED:
            self.state = READY
            self._listener.on_init_done()
        elif state == RESPONSE_SENT:
            self.finish_invocation()
        return None

    def finish_invocation(self) -> None:
        """The runtime asked for the next event after responding (or exited after
        responding): the invocation is over."""
        assert self.event is not None and self.state == RESPONSE_SENT
        request_id = self.event.request_id
        self.state = READY
        self.event = None
        self._listener.on_invocation_done(request_id, *self._outcome)

    def forget(self, deliver: Callable[[Event], None]) -> None:
        if deliver in self._waiters:
            self._waiters.remove(deliver)

    def dispatch(self, event: Event) -> None:
        if self.state != READY:
            raise RuntimeError(f"invocation dispatched while the runtime is {self.state}")
        self.event = event
        self.state = RUNNING
        waiters, self._waiters = self._waiters, []
        for deliver in waiters:
            deliver(event)

    # -- POST /response, /error ---------------------------------------------------------

    def _check(self, request_id: str, target: str) -> Reply | None:
        if self.event is None or request_id != self.event.request_id:
            return INVALID_REQUEST_ID
        if self.state != RUNNING:
            return _forbidden(self.state, target)
        return None

    def _finish(self, outcome: bytes, error_type: str, content_type: str, body: bytes) -> None:
        self._outcome = (outcome, error_type, content_type, body)
        self.state = RESPONSE_SENT

    def respond(self, request_id: str, body: bytes, content_type: str, too_large: bool = False,
                response_mode: str | None = None) -> Reply:
        refused = self._check(request_id, INVOCATION_RESPONSE)
        if refused:
            return refused
        if response_mode is not None and response_mode != "streaming":
            self._finish(wire.ERROR, "Runtime.InvalidResponseModeHeader", "application/json",
                         b'{"errorMessage":"Invalid response mode header","errorType":'
                         b'"Runtime.InvalidResponseModeHeader"}')
            return INVALID_RESPONSE_MODE
        if too_large or len(body) > MAX_RESPONSE:
            self._finish(wire.TOO_LARGE, "Function.ResponseSizeTooLarge", "application/json", TOO_LARGE_BODY)
            return TOO_LARGE
        self._finish(wire.OK, "", content_type, body)
        return ACCEPTED

    def error(self, request_id: str, body: bytes, content_type: str, error_type_header: str | None,
              too_large: bool = False) -> Reply:
        refused = self._check(request_id, INVOCATION_ERROR)
        if refused:
            return refused
        if too_large or len(body) > MAX_RESPONSE:
            self._finish(wire.TOO_LARGE, "Function.ResponseSizeTooLarge", "application/json", TOO_LARGE_BODY)
            return TOO_LARGE
        body, content_type = normalise_error_body(body, content_type)
        self._finish(wire.ERROR, error_type_of(error_type_header, body), content_type, body)
        return ACCEPTED

    def truncated(self, request_id: str) -> None:
        """The runtime's connection closed in the middle of a response body."""
        if self._check(request_id, INVOCATION_RESPONSE) is None:
            self._finish(wire.ERROR, "Runtime.TruncatedResponse", "application/json",
                         b'{"errorMessage":"HTTP request detected as truncated",'
                         b'"errorType":"Runtime.TruncatedResponse"}')

    # -- POST /init/error ---------------------------------------------------------------

    def init_error(self, body: bytes, error_type_header: str | None) -> Reply:
        if self.state != STARTED:
            return _forbidden(self.state, INIT_ERROR)
        self.state = INIT_ERROR
        import json

        try:
            json.loads(body)
            content_type = "application/json"
        except ValueError:
            content_type = "application/octet-stream"
        self._listener.on_init_error(error_type_of(error_type_header, body), content_type, body)
        return ACCEPTED
