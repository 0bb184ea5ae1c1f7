"""Layers: versioned zip archives functions add to `/opt`.

A layer version is immutable. Deleting one stops new functions from using it, but functions
that already reference it keep its content (their configuration holds the package)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from lamina.context import RequestContext
from lamina.control.code_source import package_bytes
from lamina.control.code_urls import CodeUrlSigner
from lamina.control.function_model import Policy, aws_timestamp
from lamina.control.packages import CodePackage, unzipped_size
from lamina.control.pagination import page
from lamina.control.policies import add_statement, allows, policy_document, principal_of, remove_statement
from lamina.errors import InvalidParameterValueException, ResourceNotFoundException
from lamina.store.blobs import BlobStore
from lamina.store.state import Put, StateStore

KIND = "layer"
_LAYER_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):layer:([a-zA-Z0-9_-]+)")
_LAYER_VERSION_ARN = re.compile(_LAYER_ARN.pattern + r":([0-9]+)")
_NOT_FOUND = "The resource you requested does not exist."


@dataclass
class LayerVersion:
    number: int
    description: str
    created: str
    code: CodePackage
    compatible_runtimes: list[str] = field(default_factory=list)
    compatible_architectures: list[str] = field(default_factory=list)
    license_info: str | None = None
    policy: Policy | None = None
    deleted: bool = False  # kept while functions still use it, invisible to the API

    def to_doc(self) -> dict[str, Any]:
        return {"number": self.number, "description": self.description, "created": self.created,
                "code": self.code.to_doc(), "compatible_runtimes": self.compatible_runtimes,
                "compatible_architectures": self.compatible_architectures, "license_info": self.license_info,
                "policy": self.policy.to_doc() if self.policy else None, "deleted": self.deleted}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LayerVersion:
        return cls(doc["number"], doc["description"], doc["created"], CodePackage.from_doc(doc["code"]),
                   doc["compatible_runtimes"], doc["compatible_architectures"], doc["license_info"],
                   Policy.from_doc(doc["policy"]) if doc.get("policy") else None, doc.get("deleted", False))


@dataclass
class Layer:
    account_id: str
    region: str
    name: str
    versions: dict[int, LayerVersion] = field(default_factory=dict)
    next_version: int = 1

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{self.name}"

    @property
    def store_key(self) -> str:
        return f"{self.account_id}/{self.region}/{self.name}"

    def to_doc(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "region": self.region, "name": self.name,
                "versions": {str(k): v.to_doc() for k, v in self.versions.items()}, "next_version": self.next_version}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Layer:
        return cls(doc["account_id"], doc["region"], doc["name"],
                   {int(k): LayerVersion.from_doc(v) for k, v in doc["versions"].items()}, doc["next_version"])


@dataclass(frozen=True)
class ResolvedLayer:
    arn: str
    code: CodePackage


class LayerService:
    def __init__(self, store: StateStore, blobs: BlobStore, code_urls: CodeUrlSigner) -> None:
        self.store = store
        self.blobs = blobs
        self.code_urls = code_urls
        self.layers: dict[tuple[str, str, str], Layer] = {}
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        for _, doc in await self.store.load(KIND):
            layer = Layer.from_doc(doc)
            self.layers[(layer.account_id, layer.region, layer.name)] = layer

    def reset(self) -> None:
        self.layers.clear()

    def used_blobs(self) -> set[str]:
        return {v.code.blob for layer in self.layers.values() for v in layer.versions.values()}

    async def _save(self, layer: Layer) -> None:
        await self.store.write([Put(KIND, layer.store_key, layer.to_doc())])

    # ------------------------------------------------------------ naming

    def _name(self, ctx: RequestContext, value: str) -> tuple[str, str, str]:
        match = _LAYER_ARN.fullmatch(value)
        if match:
            return match[2], match[1], match[3]
        return ctx.account_id, ctx.region, value

    def _version(self, account: str, region: str, name: str, number: int, caller: str) -> tuple[Layer, LayerVersion]:
        layer = self.layers.get((account, region, name))
        version = layer.versions.get(number) if layer else None
        if layer is None or version is None or version.deleted:
            raise ResourceNotFoundException(_NOT_FOUND)
        if account != caller and not allows(version.policy, caller, "lambda:GetLayerVersion"):
            raise ResourceNotFoundException(_NOT_FOUND)
        return layer, version

    def resolve(self, ctx: RequestContext, arns: list[str]) -> list[ResolvedLayer]:
        """The packages of a function's `Layers`, in order; refuses what the caller may not use."""
        resolved, names = [], set()
        for arn in arns:
            match = _LAYER_VERSION_ARN.fullmatch(arn)
            if match is None:
                raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
            region, account, name, number = match[1], match[2], match[3], int(match[4])
            if (account, region, name) in names:
                raise InvalidParameterValueException(
                    f"Two different versions of the same layer are not allowed: {arn}")
            names.add((account, region, name))
            try:
                _, version = self._version(account, region, name, number, ctx.account_id)
            except ResourceNotFoundException:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.") from None
            resolved.append(ResolvedLayer(arn, version.code))
        return resolved

    # ------------------------------------------------------------ shapes

    def _version_shape(self, ctx: RequestContext, layer: Layer, version: LayerVersion, content: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "LayerVersionArn": f"{layer.arn}:{version.number}", "Version": version.number,
            "Description": version.description, "CreatedDate": version.created,
            "CompatibleRuntimes": version.compatible_runtimes,
            "CompatibleArchitectures": version.compatible_architectures,
        }
        if version.license_info is not None:
            shown["LicenseInfo"] = version.license_info
        if content:
            shown["LayerArn"] = layer.arn
            shown["Content"] = {"Location": self.code_urls.url(ctx.base_url, layer.account_id, version.code.blob),
                                "CodeSha256": version.code.code_sha256, "CodeSize": version.code.size}
        return shown

    # ------------------------------------------------------------ API

    async def publish_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account, region, name = self._name(ctx, params["LayerName"])
        if (account, region) != (ctx.account_id, ctx.region):
            raise InvalidParameterValueException("Layers can only be published in the caller's account and region.")
        data = await package_bytes(params["Content"], ctx.region)
        size = await asyncio.to_thread(unzipped_size, data)
        blob = await asyncio.to_thread(self.blobs.put, data)
        code = CodePackage(blob, len(data), size)
        async with self.lock:
            layer = self.layers.setdefault((account, region, name), Layer(account, region, name))
            version = LayerVersion(layer.next_version, params.get("Description", ""), aws_timestamp(), code,
                                   list(params.get("CompatibleRuntimes") or []),
                                   list(params.get("CompatibleArchitectures") or []), params.get("LicenseInfo"))
            layer.versions[version.number] = version
            layer.next_version += 1
            await self._save(layer)
        return self._version_shape(ctx, layer, version, content=True)

    async def get_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account, region, name = self._name(ctx, params["LayerName"])
        layer, version = self._version(account, region, name, params["VersionNumber"], ctx.account_id)
        return self._version_shape(ctx, layer, version, content=True)

    async def get_layer_version_by_arn(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        match = _LAYER_VERSION_ARN.fullmatch(params["Arn"])
        if match is None:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {params['Arn']}")
        layer, version = self._version(match[2], match[1], match[3], int(match[4]), ctx.account_id)
        return self._version_shape(ctx, layer, version, content=True)

    async def delete_layer_version(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        account, region, name = self._name(ctx, params["LayerName"])
        async with self.lock:
            layer = self.layers.get((account, region, name))
            version = layer.versions.get(params["VersionNumber"]) if layer else None
            if layer is None or version is None or version.deleted or account != ctx.account_id:
                return  # deleting what is not there succeeds, as on AWS
            version.deleted = True
            version.policy = None
            await self._save(layer)

    def _matches(self, version: LayerVersion, params: dict[str, Any]) -> bool:
        runtime, arch = params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        return (not runtime or runtime in version.compatible_runtimes) and \
            (not arch or arch in version.compatible_architectures)

    async def list_layer_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account, region, name = self._name(ctx, params["LayerName"])
        layer = self.layers.get((account, region, name))
        versions = [] if layer is None or account != ctx.account_id else sorted(
            (v for v in layer.versions.values() if not v.deleted and self._matches(v, params)),
            key=lambda v: -v.number)
        shown, marker = page([str(v.number) for v in versions], versions, params)
        result: dict[str, Any] = {"LayerVersions": [self._version_shape(ctx, layer, v, content=False) for v in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def list_layers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        entries = []
        for (account, region, _), layer in sorted(self.layers.items()):
            if (account, region) != (ctx.account_id, ctx.region):
                continue
            matching = [v for v in layer.versions.values() if not v.deleted and self._matches(v, params)]
            if matching:
                entries.append((layer, max(matching, key=lambda v: v.number)))
        shown, marker = page([layer.name for layer, _ in entries], entries, params)
        result: dict[str, Any] = {"Layers": [
            {"LayerName": layer.name, "LayerArn": layer.arn,
             "LatestMatchingVersion": self._version_shape(ctx, layer, version, content=False)}
            for layer, version in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    # ------------------------------------------------------------ permissions

    def _own_version(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[Layer, LayerVersion]:
        account, region, name = self._name(ctx, params["LayerName"])
        if account != ctx.account_id:
            raise ResourceNotFoundException(_NOT_FOUND)
        return self._version(account, region, name, params["VersionNumber"], ctx.account_id)

    async def add_layer_version_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            layer, version = self._own_version(ctx, params)
            statement: dict[str, Any] = {"Sid": params["StatementId"], "Effect": "Allow",
                                         "Principal": principal_of(params["Principal"]),
                                         "Action": params["Action"], "Resource": f"{layer.arn}:{version.number}"}
            if params.get("OrganizationId"):
                statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
            version.policy = add_statement(version.policy, statement, params.get("RevisionId"))
            await self._save(layer)
        return {"Statement": orjson.dumps(statement).decode(), "RevisionId": version.policy.revision_id}

    async def get_layer_version_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, version = self._own_version(ctx, params)
        if version.policy is None:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        return {"Policy": policy_document(version.policy.statements), "RevisionId": version.policy.revision_id}

    async def remove_layer_version_permission(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.lock:
            layer, version = self._own_version(ctx, params)
            version.policy = remove_statement(version.policy, params["StatementId"], params.get("RevisionId"))
            await self._save(layer)
