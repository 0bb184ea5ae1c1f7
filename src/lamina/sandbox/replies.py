"""What an environment's reply to an init or an invocation means.

The worker waits for one frame, or observes a timeout or the loss of the agent (the
pseudo frame kinds `TIMEOUT` and `LOST`), and reads it here as an `InitOutcome` or an
`InvokeResult` as Lambda reports it: the runtime's response or error, a response too
large, a runtime that exited or ran out of memory, a timeout, a broken protocol. Replies
that leave the environment unusable kill it. Waiting for the frame stays in `environment`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from . import loglines
from .agent import wire
from .agent.runtime_api import MAX_RESPONSE, TOO_LARGE_BODY, error_type_of
from .cgroups import PIDS_MAX
from .outcomes import InitOutcome, exit_message, platform_error
from .spec import InvokeRequest, InvokeResult, LogLine

if TYPE_CHECKING:
    from .environment import Environment

TIMEOUT = -1  # pseudo frame kinds for what the worker observes itself
LOST = -2


def init_outcome(environment: Environment, kind: int, fields: list[bytes], duration_ms: float,
                 budget_s: float) -> InitOutcome:
    """How the init ended, from the frame that ended it."""
    lines = environment.take_log()
    if kind == wire.R_NEXT or (kind == wire.INIT_DONE and fields[0] == wire.OK):
        return InitOutcome(True, duration_ms, lines)
    if kind == wire.R_INIT_ERROR:
        error_type, body = fields
        return InitOutcome(False, duration_ms, lines, "error", error_type_of(error_type.decode(), body),
                           body=body, content_type=_json_or_binary(body))
    if kind == wire.INIT_DONE and fields[0] == wire.ENTRYPOINT:
        return InitOutcome(False, duration_ms, lines, "error", "Runtime.InvalidEntrypoint",
                           message=fields[3].decode(errors="replace"))
    if kind == wire.INIT_DONE:
        _, error_type, content_type, body = fields
        return InitOutcome(False, duration_ms, lines, "error", error_type.decode() or "Runtime.Unknown",
                           body=body, content_type=content_type.decode() or "application/json")
    if kind == TIMEOUT:
        return InitOutcome(False, duration_ms, lines, "timeout", "Sandbox.Timedout",
                           message=f"Task timed out after {budget_s:.2f} seconds")
    if kind in (wire.EXITED, LOST):
        description = fields[1].decode() if kind == wire.EXITED else "signal: killed"
        error_type = exit_error_type(environment, lines)
        return InitOutcome(False, duration_ms, lines, "error", error_type, message=exit_message(description))
    environment.kill()  # a frame that has no business here
    return InitOutcome(False, duration_ms, lines, "error", "Sandbox.Failure",
                       message="the environment broke the protocol")


def invoke_result(environment: Environment, request: InvokeRequest, kind: int, reply: list[bytes],
                  timeout_s: float, duration_ms: float) -> InvokeResult:
    """The invocation's result, from the frame that ended it; an answer to another request is a broken protocol."""
    request_id = request.request_id.encode()
    if kind == wire.R_RESPONSE and len(reply) == 4 and reply[0] == request_id:
        _, content_type, payload, max_rss_kb = reply
        if len(payload) > MAX_RESPONSE:
            return _result(environment, TOO_LARGE_BODY, "Function.ResponseSizeTooLarge", "error", duration_ms)
        return _result(environment, payload, None, "success", duration_ms, content_type.decode(),
                       environment.usage.memory_mb(max_rss_kb))
    if kind == wire.R_ERROR and len(reply) == 4 and reply[0] == request_id:
        _, content_type, body, error_type = reply
        if len(body) > MAX_RESPONSE:
            return _result(environment, TOO_LARGE_BODY, "Function.ResponseSizeTooLarge", "error", duration_ms)
        return _result(environment, body, error_type_of(error_type.decode() or None, body), "error", duration_ms,
                       content_type.decode())
    if kind == wire.RESULT and len(reply) == 6 and reply[0] == request_id:
        _, outcome, error_type, content_type, payload, max_rss_kb = reply
        if outcome != wire.OK:
            return _result(environment, payload, error_type.decode(), "error", duration_ms, content_type.decode())
        return _result(environment, payload, None, "success", duration_ms, content_type.decode(),
                       environment.usage.memory_mb(max_rss_kb))
    if kind == TIMEOUT:
        lines = environment.take_log()
        environment.kill()
        lines.append(loglines.timed_out(request.request_id, timeout_s))
        payload = platform_error("Sandbox.Timedout", request.request_id, f"Task timed out after {timeout_s:.2f} seconds")
        return InvokeResult(payload, "Sandbox.Timedout", "timeout", duration_ms, environment.usage.memory_mb(),
                            environment.log_stream, log=lines)
    return _failed_invocation(environment, request, kind, reply, duration_ms)


def _result(environment: Environment, payload: bytes, error_type: str | None, status: str, duration_ms: float,
            content_type: str = "application/json", memory_mb: int | None = None) -> InvokeResult:
    """An answer from the runtime; `memory_mb` when known from its report, else measured now."""
    capture = environment.capture
    if memory_mb is None:
        memory_mb = environment.usage.memory_mb()
    return InvokeResult(payload, error_type, status, duration_ms, memory_mb, environment.log_stream,
                        log=capture.take() if capture is not None else [],
                        content_type=content_type or "application/json")


def _failed_invocation(environment: Environment, request: InvokeRequest, kind: int, fields: list[bytes],
                       duration_ms: float) -> InvokeResult:
    """The runtime exited, the agent vanished, or something broke the protocol."""
    memory = environment.usage.memory_mb()
    if kind in (wire.EXITED, LOST):
        description = fields[1].decode() if kind == wire.EXITED else "signal: killed"
        message = exit_message(description)
        status = "error"
    else:
        error_type, message, status = "Sandbox.Failure", "the environment broke the protocol", "failure"
    lines = environment.take_log()
    if status == "error":
        error_type = exit_error_type(environment, lines)
    environment.kill()
    lines += loglines.runtime_failure(request.request_id, message, error_type)
    return InvokeResult(platform_error(error_type, request.request_id, message), error_type, status, duration_ms,
                        memory, environment.log_stream, log=lines)


def exit_error_type(environment: Environment, lines: list[LogLine]) -> str:
    """Why the runtime exited, as Lambda names it. A function that ran into the limit of
    processes and threads (a fork bomb) is reported as Lambda reports any runtime exit,
    `Runtime.ExitError`, even when its processes then also filled its memory; the function's
    log says which limit it hit. `Runtime.OutOfMemory` is for memory alone."""
    if environment.usage.hit_process_limit():
        lines.append(loglines.process_limit(PIDS_MAX))
        return "Runtime.ExitError"
    return "Runtime.OutOfMemory" if environment.usage.out_of_memory() else "Runtime.ExitError"


def _json_or_binary(body: bytes) -> str:
    try:
        json.loads(body)
        return "application/json"
    except ValueError:
        return "application/octet-stream"


def describe(kind: int) -> str:
    """A reply kind in a start-up failure's message."""
    return {TIMEOUT: "timed out", LOST: "it exited"}.get(kind, f"frame {kind}")
