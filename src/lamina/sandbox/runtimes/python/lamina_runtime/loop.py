"""The runtime loop: take the function's environment, import the handler (init), then
serve events one at a time until the sandbox ends."""

from __future__ import annotations

import importlib
import os
import sys
import time
from importlib.machinery import PathFinder

from . import logs, stdlib_first
from .channel import WorkerChannel
from .context import LambdaContext
from .errors import Fault, from_exception, log_error
from .handler import load_handler
from .marshal import dump_result, load_event, loads, to_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _adopt_assignment(go_fd: int) -> None:
    """A pre-started runtime: wait until the agent assigns it to a function (a JSON
    document on a pipe, once the function's files are mounted), then take on that
    function's environment and working directory before any user code runs."""
    chunks = []
    while True:
        chunk = os.read(go_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(go_fd)
    if not chunks:
        sys.exit(0)  # discarded before being assigned
    assignment = loads(b"".join(chunks).decode())
    os.environ.clear()
    os.environ.update(assignment["env"])
    os.chdir(assignment["cwd"])
    time.tzset()


def _set_sys_path() -> None:
    """sys.path starts as on Lambda: /var/task, the layers' python dirs, the runtime's
    site-packages, /var/runtime, then the interpreter's standard library."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    task = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    opt = os.environ.pop("_LAMINA_OPT_DIR", "/opt")
    head = [task, f"{opt}/python/lib/{version}/site-packages", f"{opt}/python",
            f"{sys.prefix}/lib/{version}/site-packages", os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")]
    rest = [entry for entry in sys.path[1:] if entry not in head]
    sys.path[:] = head + rest
    _forget_import_caches()


def _forget_import_caches() -> None:
    """`importlib.invalidate_caches()` for the new sys.path and working directory. The path
    finders' caches go with sys.path_importer_cache. From 3.13 the path finder also imports
    importlib.metadata (zipfile, email, pathlib, typing, ...: ~10 ms and ~2 MB) to empty its
    cache, which nothing can have filled unless importlib.metadata is already loaded."""
    sys.path_importer_cache.clear()
    if "importlib.metadata" in sys.modules:
        importlib.invalidate_caches()
        return
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()


def _init(channel: WorkerChannel) -> Callable[[Any, Any], Any]:
    try:
        return load_handler(os.environ.get("_HANDLER", ""))
    except Fault as fault:
        error = fault.payload()
    except Exception as exc:
        error = from_exception(exc, exc.__traceback__)
    log_error(error, logs.json_format())
    channel.init_error(error["errorType"], to_json(error).encode())
    sys.exit(1)


def _serve(channel: WorkerChannel, handler: Callable[[Any, Any], Any], fields: list[bytes]) -> list[bytes]:
    """Handle one event; returns the next one."""
    raw_id, deadline, arn, trace_id, client_context, cognito, content_type, tenant, payload = fields
    request_id = raw_id.decode()
    logs.request_id = request_id
    logs.tenant_id = tenant.decode() if tenant else None
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id.decode()
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]
    try:
        content_type_out, body = _run_handler(handler, request_id, deadline, arn, client_context, cognito,
                                              content_type, payload)
    except Fault as fault:
        error = fault.payload(request_id)
    except Exception as exc:
        error = from_exception(exc, exc.__traceback__, request_id)
    else:
        return channel.respond_then_next(raw_id, content_type_out, body)
    log_error(error, logs.json_format())
    return channel.error_then_next(raw_id, to_json(error).encode())


def _run_handler(handler: Callable[[Any, Any], Any], request_id: str, deadline: bytes, arn: bytes,
                 client_context: bytes, cognito: bytes, content_type: bytes, payload: bytes) -> tuple[bytes, bytes]:
    try:
        context = LambdaContext(request_id, int(deadline), arn.decode(),
                                client_context.decode() if client_context else None,
                                cognito.decode() if cognito else None, logs.tenant_id)
    except ValueError as error:
        raise Fault("Runtime.LambdaContextUnmarshalError", f"Unable to parse context JSON: {error}") from None
    if content_type in (b"application/json", b""):
        try:
            event = load_event(payload)
        except ValueError as error:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {error}") from None
    else:
        event = payload
    result = handler(event, context)
    if isinstance(result, bytes):
        return b"application/unknown", result
    try:
        return b"application/json", dump_result(result).encode()
    except (TypeError, ValueError) as error:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


def main() -> None:
    channel = WorkerChannel.from_environment()
    go_fd = os.environ.pop("_LAMINA_GO_FD", None)
    if go_fd is not None:
        channel.waiting()
        _adopt_assignment(int(go_fd))
    logs.unbuffered_stdio()
    logs.configure_logging()
    stdlib_first.install()
    _set_sys_path()
    LambdaContext.bind_environment()
    handler = _init(channel)
    fields = channel.next()
    while True:
        fields = _serve(channel, handler, fields)
