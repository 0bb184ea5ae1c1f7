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
    code_dir: Path  # extracted function code, mounted read-only at /var/task
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's own variables
    layer_dirs: tuple[Path, ...] = ()  # extracted layers in order, merged into /opt
    architecture: str = "x86_64"
    network: str = "host"  # "host" or "isolated"
    log_group: str = ""
    log_format: str = "Text"  # LoggingConfig.LogFormat
    application_log_level: str | None = None
    system_log_level: str | None = None
    initialization_type: str = "on-demand"
    # Platform variables added to every environment: AWS_ENDPOINT_URL_*, credentials, ...
    platform_environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str  # as invoked, with any qualifier
    client_context: str | None = None  # decoded JSON text of X-Amz-Client-Context
    cognito_identity: str | None = None
    trace_id: str | None = None
    content_type: str = "application/json"
    tenant_id: str | None = None  # X-Amz-Tenant-Id, passed to the runtime as Lambda-Runtime-Aws-Tenant-Id


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    message: str


@dataclass
class InvokeResult:
    payload: bytes
    # None on success; otherwise the errorType (e.g. "ValueError", "Runtime.ExitError",
    # "Sandbox.Timedout"): the caller gets X-Amz-Function-Error: Unhandled and `payload`.
    error_type: str | None
    status: str  # "success" | "error" | "timeout" | "failure"
    duration_ms: float
    max_memory_used_mb: int
    log_stream: str  # the environment's stream: YYYY/MM/DD/[version]<environment id>
    init_duration_ms: float | None = None  # set on the first invoke after a normal init
    init_log: list[LogLine] = field(default_factory=list)  # lines before START on a cold start
    log: list[LogLine] = field(default_factory=list)  # the function's output during this invoke
    content_type: str = "application/json"

    @property
    def function_error(self) -> bool:
        return self.error_type is not None
