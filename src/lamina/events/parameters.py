"""Which parameters each event source takes, their ranges beyond the model's, and the
defaults the API echoes back (spec §4.1, §4.2).

The model already checks types, enums and plain ranges; the rules here depend on the
source: which members apply, per-source batch limits, the SQS batching-window rule,
StartingPosition, record age and destinations.
"""

from __future__ import annotations

import uuid
from typing import Any

from lamina.errors import InvalidParameterValueException
from lamina.events.filtering import validate_filter_criteria
from lamina.events.mapping_model import SourceKind

MAX_BATCH_SIZE = 10_000
SQS_FIFO_MAX_BATCH_SIZE = 10
SQS_UNBATCHED_LIMIT = 10  # larger SQS batches need a batching window
MIN_RECORD_AGE_SECONDS = 60

_COMMON = frozenset({"EventSourceArn", "FunctionName", "Enabled", "BatchSize", "FilterCriteria",
                     "MaximumBatchingWindowInSeconds", "Tags", "MetricsConfig", "LoggingConfig", "KMSKeyArn",
                     "UUID"})
_STREAM_ONLY = frozenset({"StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor",
                          "DestinationConfig", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError",
                          "MaximumRetryAttempts", "TumblingWindowInSeconds", "FunctionResponseTypes"})
ALLOWED: dict[SourceKind, frozenset[str]] = {
    SourceKind.SQS: _COMMON | {"FunctionResponseTypes", "ScalingConfig", "ProvisionedPollerConfig"},
    SourceKind.KINESIS: _COMMON | _STREAM_ONLY,
    SourceKind.DYNAMODB: _COMMON | _STREAM_ONLY,
    SourceKind.KAFKA: _COMMON | {"StartingPosition", "StartingPositionTimestamp", "Topics",
                                 "SourceAccessConfigurations", "SelfManagedEventSource",
                                 "SelfManagedKafkaEventSourceConfig", "AmazonManagedKafkaEventSourceConfig",
                                 "DestinationConfig", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                                 "BisectBatchOnFunctionError", "FunctionResponseTypes", "ProvisionedPollerConfig"},
    SourceKind.RABBITMQ: _COMMON | {"Queues", "SourceAccessConfigurations"},
}

# The defaults each source's mapping shows in API responses.
_STREAM_DEFAULTS: dict[str, Any] = {
    "BatchSize": 100, "MaximumBatchingWindowInSeconds": 0, "ParallelizationFactor": 1,
    "DestinationConfig": {"OnFailure": {}}, "MaximumRecordAgeInSeconds": -1, "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1, "TumblingWindowInSeconds": 0, "FunctionResponseTypes": [],
    "LastProcessingResult": "No records processed", "StateTransitionReason": "User action",
}
DEFAULTS: dict[SourceKind, dict[str, Any]] = {
    SourceKind.SQS: {"BatchSize": 10, "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": [],
                     "StateTransitionReason": "USER_INITIATED"},
    SourceKind.KINESIS: _STREAM_DEFAULTS,
    SourceKind.DYNAMODB: _STREAM_DEFAULTS,
    SourceKind.KAFKA: {"BatchSize": 100, "FunctionResponseTypes": [], "LastProcessingResult": "No records processed",
                       "StateTransitionReason": "USER_INITIATED"},
    SourceKind.RABBITMQ: {"BatchSize": 100, "FunctionResponseTypes": [], "LastProcessingResult": "No records processed",
                          "StateTransitionReason": "USER_INITIATED"},
}

# Kafka and MQ batch for half a second unless told otherwise.
DEFAULT_WINDOW_SECONDS = {SourceKind.KAFKA: 0.5, SourceKind.RABBITMQ: 0.5}

# Configuration members an update may change; everything else is fixed at create.
UPDATABLE = frozenset({"BatchSize", "FilterCriteria", "MaximumBatchingWindowInSeconds", "DestinationConfig",
                       "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                       "ParallelizationFactor", "SourceAccessConfigurations", "TumblingWindowInSeconds",
                       "FunctionResponseTypes", "ScalingConfig", "SelfManagedKafkaEventSourceConfig",
                       "AmazonManagedKafkaEventSourceConfig", "KMSKeyArn", "MetricsConfig", "LoggingConfig",
                       "ProvisionedPollerConfig"})


def source_kind(params: dict[str, Any]) -> SourceKind:
    arn = params.get("EventSourceArn")
    self_managed = params.get("SelfManagedEventSource")
    if arn and self_managed:
        raise InvalidParameterValueException(
            "EventSourceArn and SelfManagedEventSource cannot both be specified.")
    if self_managed:
        servers = (self_managed.get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
        if not servers:
            raise InvalidParameterValueException(
                "SelfManagedEventSource must list KAFKA_BOOTSTRAP_SERVERS endpoints.")
        return SourceKind.KAFKA
    if not arn:
        raise InvalidParameterValueException("Either EventSourceArn or SelfManagedEventSource must be specified.")
    service, resource = _arn_service(arn)
    if service == "sqs":
        return SourceKind.SQS
    if service == "kinesis":
        return SourceKind.KINESIS
    if service == "dynamodb" and "/stream/" in resource:
        return SourceKind.DYNAMODB
    if service == "kafka":
        return SourceKind.KAFKA
    if service == "mq":
        return SourceKind.RABBITMQ
    raise InvalidParameterValueException(f"Unrecognized event source, must be kinesis, dynamodb stream, sqs, "
                                         f"kafka or mq: {arn}")


def _arn_service(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise InvalidParameterValueException(f"Invalid EventSourceArn: {arn}")
    return parts[2], parts[5]


def is_fifo_queue(arn: str) -> bool:
    return arn.endswith(".fifo")


def check_members(kind: SourceKind, params: dict[str, Any]) -> None:
    for name, value in params.items():
        if value is not None and name not in ALLOWED[kind]:
            raise InvalidParameterValueException(f"Unsupported {name} parameter for given event source.")
    if ((params.get("DestinationConfig") or {}).get("OnSuccess") or {}).get("Destination"):
        raise InvalidParameterValueException(
            "Unsupported DestinationConfig parameter: OnSuccess (event source mappings take OnFailure only).")


def new_configuration(kind: SourceKind, params: dict[str, Any], *, uuid_: str, mapping_arn: str,
                      function_arn: str, now: float) -> dict[str, Any]:
    """The configuration of a new mapping: given members over the source's defaults."""
    check_members(kind, params)
    config: dict[str, Any] = {**_copy(DEFAULTS[kind])}
    for name, value in params.items():
        if name in ("FunctionName", "Enabled", "Tags") or value is None:
            continue
        config[name] = value
    if kind is SourceKind.KAFKA:
        group = (config.get("SelfManagedKafkaEventSourceConfig") or config.get("AmazonManagedKafkaEventSourceConfig")
                 or {}).get("ConsumerGroupId") or uuid_
        key = "AmazonManagedKafkaEventSourceConfig" if config.get("EventSourceArn") else \
            "SelfManagedKafkaEventSourceConfig"
        config[key] = {**(config.get(key) or {}), "ConsumerGroupId": group}
    config.update(UUID=uuid_, EventSourceMappingArn=mapping_arn, FunctionArn=function_arn, LastModified=now)
    _normalise(config)
    check_configuration(kind, config)
    return config


def updated_configuration(kind: SourceKind, current: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    check_members(kind, params)
    config = _copy(current)
    for name, value in params.items():
        if name in UPDATABLE and value is not None:
            config[name] = value
    _normalise(config)
    check_configuration(kind, config)
    return config


def _normalise(config: dict[str, Any]) -> None:
    """Empty FilterCriteria removes filtering; an empty OnFailure clears the destination."""
    criteria = config.get("FilterCriteria")
    if criteria is not None and not criteria.get("Filters"):
        config.pop("FilterCriteria")
    if "DestinationConfig" in config:
        config["DestinationConfig"] = {"OnFailure": dict((config["DestinationConfig"] or {}).get("OnFailure") or {})}


def check_configuration(kind: SourceKind, config: dict[str, Any]) -> None:
    """The rules that span members or depend on the source."""
    batch_size = config["BatchSize"]
    window = config.get("MaximumBatchingWindowInSeconds") or 0
    if kind is SourceKind.SQS:
        if is_fifo_queue(config["EventSourceArn"]) and batch_size > SQS_FIFO_MAX_BATCH_SIZE:
            raise InvalidParameterValueException(
                f"Batch size for SQS FIFO queues must be between 1 and {SQS_FIFO_MAX_BATCH_SIZE}.")
        if batch_size > SQS_UNBATCHED_LIMIT and window == 0:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
        if is_fifo_queue(config["EventSourceArn"]) and window:
            raise InvalidParameterValueException(
                "Batching window is not supported for FIFO queues.")
    elif batch_size > MAX_BATCH_SIZE:
        raise InvalidParameterValueException(f"BatchSize must be between 1 and {MAX_BATCH_SIZE}.")

    if kind.is_stream or kind is SourceKind.KAFKA:
        position = config.get("StartingPosition")
        if position is None:
            raise InvalidParameterValueException("StartingPosition is required for this event source.")
        if position == "AT_TIMESTAMP":
            if kind is SourceKind.DYNAMODB:
                raise InvalidParameterValueException(
                    "Unsupported starting position AT_TIMESTAMP for DynamoDB Streams: use TRIM_HORIZON or LATEST.")
            if config.get("StartingPositionTimestamp") is None:
                raise InvalidParameterValueException(
                    "StartingPositionTimestamp must be specified with StartingPosition AT_TIMESTAMP.")
        elif config.get("StartingPositionTimestamp") is not None:
            raise InvalidParameterValueException(
                "StartingPositionTimestamp can only be specified with StartingPosition AT_TIMESTAMP.")

    age = config.get("MaximumRecordAgeInSeconds")
    if age is not None and age != -1 and age < MIN_RECORD_AGE_SECONDS:
        raise InvalidParameterValueException(
            f"MaximumRecordAgeInSeconds must be -1 (infinite) or between {MIN_RECORD_AGE_SECONDS} and 604800.")

    destination = config.get("DestinationConfig") or {}
    if destination.get("OnSuccess"):
        raise InvalidParameterValueException("Unsupported DestinationConfig parameter: OnSuccess.")
    target = (destination.get("OnFailure") or {}).get("Destination")
    if target:
        allowed = ("sqs", "sns", "s3")
        service = target.split(":")[2] if target.startswith("arn:") and target.count(":") >= 5 else ""
        if service not in allowed:  # a kafka:// topic destination is not offered by lamina yet
            raise InvalidParameterValueException(
                f"The destination {target} is not supported: use an SQS queue, an SNS topic or an S3 bucket.")

    if kind is SourceKind.RABBITMQ:
        if not config.get("Queues"):
            raise InvalidParameterValueException("Queues must be specified for an Amazon MQ event source.")
        if not _has_access(config, "BASIC_AUTH"):
            raise InvalidParameterValueException(
                "SourceAccessConfigurations must include a BASIC_AUTH secret for an Amazon MQ event source.")
    if kind is SourceKind.KAFKA and not config.get("Topics"):
        raise InvalidParameterValueException("Topics must be specified for a Kafka event source.")

    scaling = config.get("ScalingConfig") or {}
    if scaling.get("MaximumConcurrency") is not None and not 2 <= scaling["MaximumConcurrency"] <= 1000:
        raise InvalidParameterValueException("ScalingConfig.MaximumConcurrency must be between 2 and 1000.")

    validate_filter_criteria(config.get("FilterCriteria"), kind.filter_source)


def _has_access(config: dict[str, Any], kind: str) -> bool:
    return any(entry.get("Type") == kind and entry.get("URI") for entry in config.get("SourceAccessConfigurations") or ())


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def new_uuid() -> str:
    return str(uuid.uuid4())
