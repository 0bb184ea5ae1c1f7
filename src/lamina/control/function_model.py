"""Functions as lamina holds them in memory and in the store."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lamina.control.arns import LATEST, function_arn
from lamina.control.packages import CodePackage


def aws_timestamp(moment: datetime | None = None) -> str:
    """The function-family timestamp format, e.g. 2024-05-01T12:34:56.789+0000."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class Deployment:
    """What invocations of a version run: a configuration and its code, never mutated.
    `config` is the FunctionConfiguration as of the last successful create or update."""

    config: dict[str, Any]
    code: CodePackage
    layers: tuple[CodePackage, ...] = ()

    @property
    def revision_id(self) -> str:
        return self.config["RevisionId"]

    def to_doc(self) -> dict[str, Any]:
        return {"config": self.config, "code": self.code.to_doc(), "layers": [p.to_doc() for p in self.layers]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Deployment:
        return cls(doc["config"], CodePackage.from_doc(doc["code"]),
                   tuple(CodePackage.from_doc(p) for p in doc.get("layers", ())))


@dataclass
class FunctionVersion:
    # The FunctionConfiguration the API shows; during an update it already describes the new
    # configuration while `live` still runs the previous one.
    config: dict[str, Any]
    code: CodePackage
    live: Deployment | None = None
    layers: tuple[CodePackage, ...] = ()  # the packages of config["Layers"], in order

    @property
    def state(self) -> str:
        return self.config["State"]

    @property
    def updating(self) -> bool:
        return self.config.get("LastUpdateStatus") == "InProgress"

    def to_doc(self) -> dict[str, Any]:
        return {"config": self.config, "code": self.code.to_doc(),
                "live": None if self.live is None else self.live.to_doc(),
                "layers": [p.to_doc() for p in self.layers]}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionVersion:
        live = doc.get("live")
        return cls(doc["config"], CodePackage.from_doc(doc["code"]),
                   None if live is None else Deployment.from_doc(live),
                   tuple(CodePackage.from_doc(p) for p in doc.get("layers", ())))


@dataclass
class Alias:
    name: str
    function_version: str
    description: str
    revision_id: str
    # Extra version -> share of invocations it gets (AdditionalVersionWeights); at most one.
    weights: dict[str, float] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "function_version": self.function_version, "description": self.description,
                "revision_id": self.revision_id, "weights": self.weights}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Alias:
        return cls(doc["name"], doc["function_version"], doc["description"], doc["revision_id"], doc["weights"])


@dataclass
class Policy:
    """A resource-based policy: its statements, in order, and its own revision."""

    statements: list[dict[str, Any]]
    revision_id: str

    def to_doc(self) -> dict[str, Any]:
        return {"statements": self.statements, "revision_id": self.revision_id}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Policy:
        return cls(doc["statements"], doc["revision_id"])


@dataclass
class ProvisionedConfig:
    requested: int
    last_modified: str
    status: str = "IN_PROGRESS"  # IN_PROGRESS | READY | FAILED
    allocated: int = 0
    reason: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {"requested": self.requested, "last_modified": self.last_modified, "status": self.status,
                "allocated": self.allocated, "reason": self.reason}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ProvisionedConfig:
        return cls(doc["requested"], doc["last_modified"], doc["status"], doc["allocated"], doc.get("reason"))


@dataclass
class Function:
    account_id: str
    region: str
    name: str
    versions: dict[str, FunctionVersion]
    tags: dict[str, str] = field(default_factory=dict)
    next_version: int = 1
    aliases: dict[str, Alias] = field(default_factory=dict)
    # Resource-based policies by qualifier ("" is the unqualified function).
    policies: dict[str, Policy] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    # Provisioned concurrency by qualifier (a version number or an alias name).
    provisioned: dict[str, ProvisionedConfig] = field(default_factory=dict)
    # Asynchronous invocation settings by qualifier ("$LATEST", a version or an alias), as
    # FunctionEventInvokeConfig documents without FunctionArn.
    event_invoke_configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account_id, self.region, self.name)

    @property
    def store_key(self) -> str:
        return f"{self.account_id}/{self.region}/{self.name}"

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)

    @property
    def latest(self) -> FunctionVersion:
        return self.versions[LATEST]

    def to_doc(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "region": self.region, "name": self.name,
                "versions": {k: v.to_doc() for k, v in self.versions.items()},
                "tags": self.tags, "next_version": self.next_version,
                "aliases": {k: v.to_doc() for k, v in self.aliases.items()},
                "policies": {k: v.to_doc() for k, v in self.policies.items()},
                "reserved_concurrency": self.reserved_concurrency,
                "provisioned": {k: v.to_doc() for k, v in self.provisioned.items()},
                "event_invoke_configs": self.event_invoke_configs}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Function:
        return cls(doc["account_id"], doc["region"], doc["name"],
                   {k: FunctionVersion.from_doc(v) for k, v in doc["versions"].items()},
                   doc.get("tags", {}), doc.get("next_version", 1),
                   {k: Alias.from_doc(v) for k, v in doc.get("aliases", {}).items()},
                   {k: Policy.from_doc(v) for k, v in doc.get("policies", {}).items()},
                   doc.get("reserved_concurrency"),
                   {k: ProvisionedConfig.from_doc(v) for k, v in doc.get("provisioned", {}).items()},
                   doc.get("event_invoke_configs", {}))

    def alias_arn(self, alias: str) -> str:
        return function_arn(self.region, self.account_id, self.name, alias)


def public_config(config: dict[str, Any], qualified: bool = False) -> dict[str, Any]:
    """A copy safe to hand to the serializer; `qualified` shows `$LATEST` in the ARN as
    listings of versions do."""
    shown = copy.deepcopy(config)
    if qualified and shown.get("Version") == LATEST:
        shown["FunctionArn"] = f"{shown['FunctionArn']}:{LATEST}"
    return shown
