"""FunctionConfiguration: defaults, the checks AWS makes beyond the model's constraints,
and how Create/UpdateFunctionConfiguration parameters become configuration."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from lamina.errors import InvalidParameterValueException, ValidationException
from lamina.sandbox.runtimes.detect import blocked_for_create

MEMORY_RANGE = (128, 10_240)
EPHEMERAL_RANGE = (512, 10_240)
ENVIRONMENT_LIMIT = 4_096
MAX_LAYERS = 5
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
})

# Members UpdateFunctionConfiguration may change, besides the ones handled specially below.
_PLAIN_MEMBERS = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime", "DeadLetterConfig",
                  "KMSKeyArn", "FileSystemConfigs", "EphemeralStorage")


def new_revision_id() -> str:
    return str(uuid.uuid4())


def runtime_version_arn(region: str, runtime: str | None, version: str) -> str:
    digest = hashlib.sha256(f"{runtime}:{version}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def _range_problem(member: str, value: int, low: int, high: int) -> str | None:
    if value < low:
        return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {low}"
    if value > high:
        return f"Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {high}"
    return None


def check_limits(config: Mapping[str, Any], max_timeout: int) -> None:
    """Bounds AWS enforces for standard functions, tighter than the model's."""
    problems = [p for p in (
        _range_problem("memorySize", config["MemorySize"], *MEMORY_RANGE),
        _range_problem("timeout", config["Timeout"], 1, max_timeout),
        _range_problem("ephemeralStorage.size", config["EphemeralStorage"]["Size"], *EPHEMERAL_RANGE),
    ) if p]
    if problems:
        n = len(problems)
        raise ValidationException(f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))


def check_runtime(runtime: str | None, handler: str | None, creating: bool) -> None:
    if runtime is None:
        raise InvalidParameterValueException("Runtime is required for functions deployed as .zip file archives.")
    if handler is None:
        raise InvalidParameterValueException("Handler is required for functions deployed as .zip file archives.")
    if blocked_for_create(runtime):
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for "
            f"{'creating' if creating else 'creating or updating'} AWS Lambda functions. "
            "We recommend you use a supported runtime while creating or updating functions.")


def check_environment(environment: Mapping[str, Any] | None) -> None:
    variables = (environment or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            "have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}")
    measured = orjson.dumps(variables).decode()
    if sum(len(k.encode()) + len(str(v).encode()) for k, v in variables.items()) > ENVIRONMENT_LIMIT:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided exceeded the 4KB limit. String measured: {measured}")


def check_architectures(architectures: list[str] | None) -> None:
    if architectures is not None and len(architectures) != 1:
        raise InvalidParameterValueException("Only one architecture is supported per function.")


def logging_config(given: Mapping[str, Any] | None, current: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    merged: dict[str, Any] = dict(current or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"})
    merged.update(given or {})
    if merged.get("LogFormat") == "JSON":
        merged.setdefault("ApplicationLogLevel", "INFO")
        merged.setdefault("SystemLogLevel", "INFO")
    elif "ApplicationLogLevel" in (given or {}) or "SystemLogLevel" in (given or {}):
        raise InvalidParameterValueException(
            "To use ApplicationLogLevel or SystemLogLevel, set LogFormat to JSON.")
    else:
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    return merged


def vpc_config(given: Mapping[str, Any]) -> dict[str, Any]:
    return {"SubnetIds": list(given.get("SubnetIds", [])), "SecurityGroupIds": list(given.get("SecurityGroupIds", [])),
            "VpcId": "", "Ipv6AllowedForDualStack": bool(given.get("Ipv6AllowedForDualStack", False))}


def _set_environment_and_vpc(config: dict[str, Any], params: Mapping[str, Any]) -> None:
    """Environment and VpcConfig as given, normalised to the shapes GetFunctionConfiguration returns."""
    if params.get("Environment") is not None:
        config["Environment"] = {"Variables": dict(params["Environment"].get("Variables") or {})}
    if params.get("VpcConfig") is not None:
        config["VpcConfig"] = vpc_config(params["VpcConfig"])


def new_configuration(params: Mapping[str, Any], *, name: str, arn: str, region: str, code_size: int,
                      code_sha256: str, timestamp: str, runtime_version: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": params.get("Runtime"),
        "Role": params["Role"],
        "Handler": params.get("Handler"),
        "CodeSize": code_size,
        "Description": params.get("Description", ""),
        "Timeout": params.get("Timeout", 3),
        "MemorySize": params.get("MemorySize", 128),
        "LastModified": timestamp,
        "CodeSha256": code_sha256,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": (params.get("TracingConfig") or {}).get("Mode", "PassThrough")},
        "RevisionId": new_revision_id(),
        "State": "Pending",
        "StateReason": "The function is being created.",
        "StateReasonCode": "Creating",
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
        "SnapStart": {"ApplyOn": (params.get("SnapStart") or {}).get("ApplyOn", "None"), "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": runtime_version_arn(region, params.get("Runtime"), runtime_version)},
        "LoggingConfig": logging_config(params.get("LoggingConfig"), None, name),
    }
    for member in ("DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs"):
        if params.get(member) is not None:
            config[member] = params[member]
    _set_environment_and_vpc(config, params)
    return config


def updated_configuration(current: Mapping[str, Any], params: Mapping[str, Any], name: str) -> dict[str, Any]:
    config = dict(current)
    for member in _PLAIN_MEMBERS:
        if params.get(member) is not None:
            config[member] = params[member]
    _set_environment_and_vpc(config, params)
    if params.get("TracingConfig") is not None:
        config["TracingConfig"] = {"Mode": params["TracingConfig"].get("Mode", "PassThrough")}
    if params.get("SnapStart") is not None:
        config["SnapStart"] = {"ApplyOn": params["SnapStart"].get("ApplyOn", "None"), "OptimizationStatus": "Off"}
    if params.get("LoggingConfig") is not None:
        config["LoggingConfig"] = logging_config(params["LoggingConfig"], current.get("LoggingConfig"), name)
    return config
