"""What a filter sees of a record, per event source (spec §5, record shapes in §4.3).

A pattern's top-level keys address the record as Lambda delivers it, except that the
payload field is decoded first:

| source   | payload keys      | payload as delivered       | on format mismatch     |
|----------|-------------------|----------------------------|------------------------|
| SQS      | `body`            | string, JSON when it is    | record dropped         |
| Kinesis  | `data`            | base64 inside `kinesis`    | record dropped         |
| DynamoDB | `dynamodb`        | already an object          | record dropped         |
| Kafka    | `key`, `value`    | base64 of UTF-8            | payload filter skipped |
| MQ       | `data`            | base64 of UTF-8            | payload filter skipped |

"JSON" here means an object or an array; a JSON scalar such as `42` or `"x"` is treated
as plain text. For Kinesis the fields of the `kinesis` object (partitionKey,
sequenceNumber, data, ...) are lifted to the top level, beside eventName and friends.
Kinesis and DynamoDB payload patterns must be JSON objects (checked at create time).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .json_numbers import loads
from .tree import UNREADABLE

View = Callable[[Mapping[str, Any], frozenset[str]], Mapping[str, Any]]


class EventSource(StrEnum):
    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"
    KAFKA = "kafka"  # Amazon MSK and self-managed Apache Kafka
    MQ = "mq"  # Amazon MQ for ActiveMQ and RabbitMQ


def _structured_json(text: str) -> Any:
    """The parsed object/array if `text` is one, else None (cheap for plain text)."""
    start = text.lstrip()[:1]
    if start != "{" and start != "[":
        return None
    try:
        return loads(text)
    except (ValueError, RecursionError):
        return None


def _decode_payload(encoded: Any, *, must_be_json: bool) -> Any:
    """A base64 payload as JSON, as text, or UNREADABLE."""
    if not isinstance(encoded, str):
        return UNREADABLE
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return UNREADABLE
    parsed = _structured_json(text)
    if parsed is not None:
        return parsed
    return UNREADABLE if must_be_json else text


def _sqs_view(record: Mapping[str, Any], decode: frozenset[str]) -> Mapping[str, Any]:
    body = record.get("body")
    if "body" in decode and isinstance(body, str):
        parsed = _structured_json(body)
        if parsed is not None:
            return {**record, "body": parsed}
    return record


def _kinesis_view(record: Mapping[str, Any], decode: frozenset[str]) -> Mapping[str, Any]:
    inner = record.get("kinesis")
    if not isinstance(inner, Mapping):
        return record
    view = {**record, **inner}
    if "data" in decode and "data" in inner:
        view["data"] = _decode_payload(inner["data"], must_be_json=True)
    return view


def _dynamodb_view(record: Mapping[str, Any], decode: frozenset[str]) -> Mapping[str, Any]:
    return record


def _text_payload_view(record: Mapping[str, Any], decode: frozenset[str]) -> Mapping[str, Any]:
    present = [key for key in decode if record.get(key) is not None]
    if not present:
        return record
    view = dict(record)
    for key in present:
        view[key] = _decode_payload(record[key], must_be_json=False)
    return view


@dataclass(frozen=True)
class SourceFormat:
    payload_keys: frozenset[str]
    view: View
    skip_payload_on_mismatch: bool  # Kafka/MQ apply only the metadata filters then
    payload_pattern_must_be_object: bool  # Kinesis/DynamoDB reject other payload patterns


SOURCE_FORMATS: dict[EventSource, SourceFormat] = {
    EventSource.SQS: SourceFormat(frozenset({"body"}), _sqs_view, False, False),
    EventSource.KINESIS: SourceFormat(frozenset({"data"}), _kinesis_view, False, True),
    EventSource.DYNAMODB: SourceFormat(frozenset({"dynamodb"}), _dynamodb_view, False, True),
    EventSource.KAFKA: SourceFormat(frozenset({"key", "value"}), _text_payload_view, True, False),
    EventSource.MQ: SourceFormat(frozenset({"data"}), _text_payload_view, True, False),
}
