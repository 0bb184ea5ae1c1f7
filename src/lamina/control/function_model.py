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

    @property
    def revision_id(self) -> str:
        return self.config["RevisionId"]


@dataclass
class FunctionVersion:
    # The FunctionConfiguration the API shows; during an update it already describes the new
    # configuration while `live` still runs the previous one.
    config: dict[str, Any]
    code: CodePackage
    live: Deployment | None = None

    @property
    def state(self) -> str:
        return self.config["State"]

    @property
    def updating(self) -> bool:
        return self.config.get("LastUpdateStatus") == "InProgress"

    def to_doc(self) -> dict[str, Any]:
        return {"config": self.config, "code": self.code.to_doc(),
                "live": None if self.live is None else {"config": self.live.config, "code": self.live.code.to_doc()}}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionVersion:
        live = doc.get("live")
        return cls(doc["config"], CodePackage.from_doc(doc["code"]),
                   None if live is None else Deployment(live["config"], CodePackage.from_doc(live["code"])))


@dataclass
class Function:
    account_id: str
    region: str
    name: str
    versions: dict[str, FunctionVersion]
    tags: dict[str, str] = field(default_factory=dict)
    next_version: int = 1

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
                "tags": self.tags, "next_version": self.next_version}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Function:
        return cls(doc["account_id"], doc["region"], doc["name"],
                   {k: FunctionVersion.from_doc(v) for k, v in doc["versions"].items()},
                   doc.get("tags", {}), doc.get("next_version", 1))


def public_config(config: dict[str, Any], qualified: bool = False) -> dict[str, Any]:
    """A copy safe to hand to the serializer; `qualified` shows `$LATEST` in the ARN as
    listings of versions do."""
    shown = copy.deepcopy(config)
    if qualified and shown.get("Version") == LATEST:
        shown["FunctionArn"] = f"{shown['FunctionArn']}:{LATEST}"
    return shown
