"""The environment variables a function sees (spec §5.1)."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import EnvironmentSpec


@dataclass(frozen=True)
class Paths:
    """Where the function's files are, as the runtime sees them."""

    task: str = "/var/task"
    opt: str = "/opt"
    runtime: str = "/var/runtime"
    lang: str = "/var/lang"
    tmp: str = "/tmp"


LAMBDA_PATHS = Paths()

# Variables users cannot set: the platform's value always wins.
RESERVED = frozenset({
    "AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "_X_AMZN_TRACE_ID",
})


def base_environment(paths: Paths, family: str, node_major: str = "") -> dict[str, str]:
    """What every runtime of a family starts with, before any function is known (a
    pre-started runtime's interpreter reads PATH, LD_LIBRARY_PATH, TZ and LANG at start,
    so they must already be the function's values)."""
    env = {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": f"{paths.lang}/bin:/usr/local/bin:/usr/bin/:/bin:{paths.opt}/bin",
        "LD_LIBRARY_PATH": (f"{paths.lang}/lib:/lib64:/usr/lib64:{paths.runtime}:{paths.runtime}/lib:"
                            f"{paths.task}:{paths.task}/lib:{paths.opt}/lib"),
        "LAMBDA_TASK_ROOT": paths.task,
        "LAMBDA_RUNTIME_DIR": paths.runtime,
    }
    if family == "python":
        env["PYTHONPATH"] = paths.runtime
    elif family == "nodejs":
        env["NODE_PATH"] = (f"{paths.opt}/nodejs/node{node_major}/node_modules:{paths.opt}/nodejs/node_modules:"
                            f"{paths.runtime}/node_modules:{paths.runtime}:{paths.task}")
    if paths.tmp != "/tmp":
        env["TMPDIR"] = paths.tmp  # process mode: a private directory stands in for /tmp
    return env


def function_environment(spec: EnvironmentSpec, family: str, paths: Paths, log_stream: str,
                         node_major: str = "") -> dict[str, str]:
    """Defaults, then lamina's platform variables, then the function's own, then the
    reserved ones on top."""
    env = base_environment(paths, family, node_major)
    platform = dict(spec.platform_environment)
    env.update({k: v for k, v in platform.items() if k not in RESERVED})
    env.update({k: v for k, v in spec.environment.items() if k not in RESERVED})
    env.update({k: v for k, v in platform.items() if k in RESERVED})
    env.update({
        "_HANDLER": spec.handler,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.function_version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group or f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
        "LAMBDA_TASK_ROOT": paths.task,
        "LAMBDA_RUNTIME_DIR": paths.runtime,
    })
    if family != "provided":
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if spec.log_format.upper() == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = (spec.application_log_level or "INFO").upper()
    return env
