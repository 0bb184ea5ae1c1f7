"""An event source mapping as lamina holds it in memory and in the store.

`config` holds exactly the members the API shows (EventSourceMappingConfiguration), with
each source's defaults filled in, so Get/List/Update answer from it directly; the other
fields are what lamina needs besides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lamina.events.filtering import EventSource

KIND = "event_source_mapping"

# States in which the mapping is between two stable states; Update/Delete are refused then.
TRANSITIONAL_STATES = frozenset({"Creating", "Enabling", "Disabling", "Updating", "Deleting"})


class SourceKind(StrEnum):
    SQS = "sqs"
    KINESIS = "kinesis"
    DYNAMODB = "dynamodb"
    KAFKA = "kafka"  # self-managed Apache Kafka or Amazon MSK
    RABBITMQ = "rabbitmq"  # Amazon MQ for RabbitMQ (or a self-hosted RabbitMQ mapped to a broker ARN)

    @property
    def filter_source(self) -> EventSource:
        return {SourceKind.SQS: EventSource.SQS, SourceKind.KINESIS: EventSource.KINESIS,
                SourceKind.DYNAMODB: EventSource.DYNAMODB, SourceKind.KAFKA: EventSource.KAFKA,
                SourceKind.RABBITMQ: EventSource.MQ}[self]

    @property
    def is_stream(self) -> bool:
        return self in (SourceKind.KINESIS, SourceKind.DYNAMODB)


@dataclass
class EventSourceMapping:
    uuid: str
    account_id: str
    region: str
    kind: SourceKind
    function_name: str
    qualifier: str | None
    config: dict[str, Any]
    enabled: bool
    tags: dict[str, str] = field(default_factory=dict)
    # Bumped on every change, so a poller can tell that its settings are stale.
    revision: int = 0

    @property
    def state(self) -> str:
        return self.config["State"]

    @property
    def function_key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.function_name)

    @property
    def source_arn(self) -> str:
        return self.config.get("EventSourceArn", "")

    @property
    def arn(self) -> str:
        return self.config["EventSourceMappingArn"]

    @property
    def function_arn(self) -> str:
        return self.config["FunctionArn"]

    def setting(self, name: str, default: Any = None) -> Any:
        value = self.config.get(name)
        return default if value is None else value

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.config.get("FunctionResponseTypes") or ())

    @property
    def on_failure_destination(self) -> str | None:
        return ((self.config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")

    def source_access(self, kind: str) -> str | None:
        """The URI of the first SourceAccessConfigurations entry of this type."""
        for entry in self.config.get("SourceAccessConfigurations") or ():
            if entry.get("Type") == kind:
                return entry.get("URI")
        return None

    def to_doc(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "account": self.account_id, "region": self.region, "kind": self.kind.value,
                "function": self.function_name, "qualifier": self.qualifier, "config": self.config,
                "enabled": self.enabled, "tags": self.tags}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EventSourceMapping:
        return cls(doc["uuid"], doc["account"], doc["region"], SourceKind(doc["kind"]), doc["function"],
                   doc.get("qualifier"), doc["config"], doc["enabled"], doc.get("tags") or {})
