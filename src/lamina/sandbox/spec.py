"""The values that cross the boundary between the invoke service and the sandbox.

`invoke/` resolves a function version to an `EnvironmentSpec` and calls
`EnvironmentPool.invoke(spec, request)`; the pool answers with an `InvokeResult`.
Nothing here knows about HTTP or the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything needed to start an execution environment for one function version.

    Environments are pooled by `key`: the control plane derives it from the function ARN,
    version and revision, so any change of code or configuration yields a new key and new
    invocations get fresh environments.
    """

    key: str
    account_id: str
    region: str
    function_name: str
    function_version: str  # "$LATEST" or a version number
    runtime: str  # "python3.12", "nodejs20.x", "provided.al2023", ...
    handler: str
    memory_mb: int
    timeout_s: int
    ephemeral_storage_mb: int
    # Extracted function code, mounted read-only at /var/task. Like on Lambda, it must be
    # readable by the unprivileged sandbox user: directories 0755, files 0644 (0755 to run).
    code_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own variables
    layer_dirs: tuple[Path, ...] = ()  # extracted layers in order, merged into /opt (same permissions)
    architecture: str = "x86_64"
    network: str = "host"  # "host", or "isolated": only a loopback interface (lamina's API unreachable too)
    log_group: str = ""
    log_format: str = "Text"  # LoggingConfig.LogFormat
    application_log_level: str | None = None
    system_log_level: str | None = None
    initialization_type: str = "on-demand"
    # Platform variables added to every environment: AWS_ENDPOINT_URL_* (lamina's services and
    # the operator's own), credentials (AWS_ACCESS_KEY_ID, ...). Reserved names among them win
    # over the function's variables; the others yield to them.
    platform_environment: Mapping[str, str] = field(default_factory=dict)


# Made per invocation and never changed, but not frozen: a frozen dataclass's __init__ sets
# each field through object.__setattr__, which costs about 10,000 instructions per
# InvokeRequest, a few per cent of the server's CPU per warm invoke.
@dataclass(slots=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str  # as invoked, with any qualifier
    client_context: str | None = None  # decoded JSON text of X-Amz-Client-Context
    cognito_identity: str | None = None
    trace_id: str | None = None
    content_type: str = "application/json"
    tenant_id: str | None = None  # X-Amz-Tenant-Id, passed to the runtime as Lambda-Runtime-Aws-Tenant-Id


@dataclass(slots=True)  # not frozen either: one is made per line a function prints
class LogLine:
    timestamp_ms: int
    message: str


@dataclass
class InvokeResult:
    payload: bytes
    # None on success; otherwise the errorType as the caller sees it: the error body's
    # `errorType` (e.g. "ValueError"), else the runtime's Lambda-Runtime-Function-Error-Type,
    # else a platform type ("Runtime.ExitError", "Sandbox.Timedout", ...). The caller answers
    # with X-Amz-Function-Error: Unhandled and `payload`.
    error_type: str | None
    status: str  # "success" | "error" | "timeout" | "failure" (lamina could not run the function)
    duration_ms: float  # measured by the worker; includes a suppressed init
    max_memory_used_mb: int
    log_stream: str  # the environment's stream: YYYY/MM/DD/[version]<environment id>
    init_duration_ms: float | None = None  # set on the first invoke after a normal init
    # Lines before START on a cold start: INIT_START, the init's output, INIT_REPORT lines.
    init_log: list[LogLine] = field(default_factory=list)
    # The function's output during this invoke, one record per line (at most 1 MiB kept),
    # and the platform's lines about it (the timeout line, "RequestId: ... Error: ...").
    log: list[LogLine] = field(default_factory=list)
    content_type: str = "application/json"

    @property
    def function_error(self) -> bool:
        return self.error_type is not None
