"""The function lifecycle: create, read, list, update, delete, tags and account settings.

Functions live in memory (the invoke path reads them without touching the store) and are
written through to the store on every change. A create or update returns at once with
`State: Pending` / `LastUpdateStatus: InProgress`; a background deployment extracts the code
and checks the runtime, then moves the version to `Active` / `Successful` (or `Failed`), so
that boto3's waiters behave as they do against AWS. Invocations keep running the previous
deployment until the new one is in place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from lamina.config import Config
from lamina.context import RequestContext
from lamina.control import function_config as fc
from lamina.control.arns import (
    LATEST,
    FunctionRef,
    function_arn,
    parse_function_ref,
    parse_unqualified_function_arn,
)
from lamina.control.code_source import package_bytes
from lamina.control.code_urls import CodeUrlSigner
from lamina.control.function_model import Deployment, Function, FunctionVersion, aws_timestamp, public_config
from lamina.control.layers import LayerService
from lamina.control.packages import (
    TOTAL_CODE_SIZE_LIMIT,
    UNZIPPED_LIMIT,
    CodeCache,
    CodePackage,
    unzipped_size,
)
from lamina.control.versions import publish, remove_version
from lamina.errors import (
    CodeStorageExceededException,
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from lamina.sandbox.runtimes.detect import RuntimeInstall, blocked_for_create
from lamina.store.blobs import BlobStore
from lamina.store.state import Delete, Put, StateStore

log = logging.getLogger("lamina.control")

KIND = "function"
LIST_PAGE_LIMIT = 50
# How long a clean-up of unused code packages waits, gathering the changes that want one.
BLOB_COLLECTION_DELAY_SECONDS = 1.0
MAX_TAGS = 50

# Called with (function, version key) whenever the deployment a version runs changes or
# the version goes away, so that caches and warm environments can be dropped.
DeploymentListener = Callable[[Function, str], None]


class FunctionService:
    def __init__(self, config: Config, store: StateStore, blobs: BlobStore, code: CodeCache,
                 runtimes: Mapping[str, RuntimeInstall], code_urls: CodeUrlSigner,
                 layers: LayerService | None = None) -> None:
        self.config = config
        self.store = store
        self.blobs = blobs
        self.code = code
        self.runtimes = runtimes
        self.code_urls = code_urls
        self.layer_service = layers
        self.functions: dict[tuple[str, str, str], Function] = {}
        self.listeners: list[DeploymentListener] = []
        self.lock = asyncio.Lock()
        self._deployments: set[asyncio.Task] = set()
        self._incoming: Counter[str] = Counter()
        self._blob_collection: asyncio.Task | None = None
        self._blob_collection_again = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for _, doc in await self.store.load(KIND):
            function = Function.from_doc(doc)
            self.functions[function.key] = function
        for function in self.functions.values():
            for version_key, version in function.versions.items():
                if version.state == "Pending" or version.updating:
                    self._deploy_later(function, version_key)
        self._collect_unused_blobs()
        self._collect_unused_extractions()

    async def close(self) -> None:
        tasks = [*self._deployments, *([self._blob_collection] if self._blob_collection else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._blob_collection = None

    async def reset(self) -> None:
        await self.close()
        for function in list(self.functions.values()):
            self.functions.pop(function.key)
            self.notify(function, LATEST)
        self.code.wipe()
        self.blobs.wipe()

    @property
    def offered_runtimes(self) -> list[str]:
        return [r for r in self.runtimes if not blocked_for_create(r)]

    # ------------------------------------------------------------ lookups

    def find(self, ref: FunctionRef) -> Function:
        function = self.functions.get((ref.account_id, ref.region, ref.name))
        if function is None:
            raise ResourceNotFoundException(f"Function not found: {ref.arn}")
        return function

    def find_version(self, ref: FunctionRef) -> tuple[Function, str, FunctionVersion]:
        """The version a qualifier names; an alias names its primary version."""
        function = self.find(ref)
        key = ref.qualifier or LATEST
        if key in function.aliases:
            key = function.aliases[key].function_version
        version = function.versions.get(key)
        if version is None:
            raise ResourceNotFoundException(f"Function not found: {function_arn(ref.region, ref.account_id, ref.name, key)}")
        return function, key, version

    # ------------------------------------------------------------ create

    async def create_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"])
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        if params.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException(
                "lamina runs functions deployed as .zip file archives; container images are not supported.")
        fc.check_runtime(params.get("Runtime"), params.get("Handler"), creating=True)
        fc.check_architectures(params.get("Architectures"))
        fc.check_environment(params.get("Environment"))
        layer_entries, layer_packages = self._resolve_layers(ctx, params.get("Layers"))
        tags = params.get("Tags") or {}
        self._check_tags(tags, {})

        data = await package_bytes(params["Code"], ctx.region)
        unzipped = await self._check_package(ctx.account_id, ctx.region, data)
        install = self.runtimes.get(params["Runtime"])
        config = fc.new_configuration(
            params, name=ref.name, arn=ref.arn, region=ctx.region, code_size=len(data),
            code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(), timestamp=aws_timestamp(),
            runtime_version=install.version if install else "")
        fc.check_limits(config, self.config.max_timeout)
        if layer_entries:
            config["Layers"] = layer_entries
        _check_total_size(unzipped, layer_packages)

        if (ref.account_id, ref.region, ref.name) in self.functions:
            raise ResourceConflictException(f"Function already exist: {ref.name}")
        package = await self._store_package(data, unzipped)
        try:
            async with self.lock:
                if (ref.account_id, ref.region, ref.name) in self.functions:
                    raise ResourceConflictException(f"Function already exist: {ref.name}")
                function = Function(ref.account_id, ref.region, ref.name,
                                    {LATEST: FunctionVersion(config, package, layers=layer_packages)}, dict(tags))
                self.functions[function.key] = function
                try:
                    await self.save(function)
                except BaseException:
                    self.functions.pop(function.key, None)
                    raise
        finally:
            self._release(package)
        deployment = self._deploy_later(function, LATEST)
        if params.get("Publish"):
            return await self._publish_after(deployment, function)
        return public_config(config)

    async def _publish_after(self, deployment: asyncio.Task, function: Function) -> dict[str, Any]:
        """`Publish=true`: once the deployment is in place, publish it as a version."""
        await asyncio.shield(deployment)
        async with self.lock:
            _, version = publish(function)
            await self.save(function)
        return public_config(version.config)

    async def _check_package(self, account_id: str, region: str, data: bytes) -> int:
        """Validate a zip and the account's code storage; returns the unzipped size."""
        size = await asyncio.to_thread(unzipped_size, data)
        if self.code_storage(account_id, region) + len(data) > TOTAL_CODE_SIZE_LIMIT:
            raise CodeStorageExceededException("Code storage limit exceeded.")
        return size

    async def _store_package(self, data: bytes, unzipped: int) -> CodePackage:
        """Keep the zip. Until the function refers to it, the blob is marked incoming so that
        a concurrent clean-up does not take it."""
        package = CodePackage(hashlib.sha256(data).hexdigest(), len(data), unzipped)
        self._incoming[package.blob] += 1
        try:
            await asyncio.to_thread(self.blobs.put, data)
        except BaseException:
            self._release(package)
            raise
        return package

    def _release(self, package: CodePackage) -> None:
        self._incoming[package.blob] -= 1
        if self._incoming[package.blob] <= 0:
            del self._incoming[package.blob]

    # ------------------------------------------------------------ deployment

    def _deploy_later(self, function: Function, version_key: str) -> asyncio.Task:
        task = asyncio.create_task(self._deploy(function, version_key))
        self._deployments.add(task)
        task.add_done_callback(self._deployments.discard)
        return task

    async def _deploy(self, function: Function, version_key: str) -> None:
        version = function.versions.get(version_key)
        if version is None:
            return
        revision = version.config["RevisionId"]
        problem: tuple[str, str] | None = None
        runtime = version.config.get("Runtime")
        if runtime not in self.runtimes or blocked_for_create(runtime):
            problem = ("InvalidRuntime",
                       f"The runtime {runtime} is not available on this lamina installation. "
                       f"Runtimes offered here: {', '.join(self.offered_runtimes)}.")
        else:
            try:
                await asyncio.to_thread(self.code.extract, version.code.blob)
                if version.layers:
                    await asyncio.to_thread(self.code.extract_layers, tuple(p.blob for p in version.layers))
            except Exception as e:  # the package was checked at upload, so this is lamina's fault
                log.exception("extracting code of %s failed", function.arn)
                problem = ("InternalError", f"lamina could not extract the deployment package: {e}")

        async with self.lock:
            # A newer update, or a delete, supersedes this deployment.
            if self.functions.get(function.key) is not function or function.versions.get(version_key) is not version \
                    or version.config["RevisionId"] != revision:
                return
            config = dict(version.config)
            for key in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                config.pop(key, None)
            creating = config["State"] == "Pending"
            if problem is None:
                config["State"] = "Active"
                config["LastUpdateStatus"] = "Successful"
                version.live = Deployment(config, version.code, version.layers)
            else:
                code, reason = problem
                if creating or config["State"] == "Failed":
                    config.update(State="Failed", StateReason=reason, StateReasonCode=code)
                config.update(LastUpdateStatus="Failed", LastUpdateStatusReason=reason,
                              LastUpdateStatusReasonCode=code)
            version.config = config
            await self.save(function)
        self.notify(function, version_key)

    def notify(self, function: Function, version_key: str) -> None:
        for listener in self.listeners:
            try:
                listener(function, version_key)
            except Exception:
                log.exception("deployment listener failed")

    # ------------------------------------------------------------ read

    async def get_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        function, key, version = self.find_version(ref)
        result: dict[str, Any] = {
            "Configuration": self._shown(function, ref, version),
            "Code": {"RepositoryType": "S3",
                     "Location": self.code_urls.url(ctx.base_url, ctx.account_id, version.code.blob)},
        }
        if function.tags:
            result["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return result

    @staticmethod
    def _shown(function: Function, ref: FunctionRef, version: FunctionVersion) -> dict[str, Any]:
        """A version's configuration as named: through an alias, the ARN is the alias's."""
        shown = public_config(version.config, qualified=ref.qualifier is not None)
        if ref.qualifier in function.aliases:
            shown["FunctionArn"] = function.alias_arn(ref.qualifier)
        return shown

    async def get_function_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        function, _, version = self.find_version(ref)
        return self._shown(function, ref, version)

    async def list_functions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("MasterRegion") and params.get("FunctionVersion") != "ALL":
            raise InvalidParameterValueException("MasterRegion requires FunctionVersion to be ALL.")
        all_versions = params.get("FunctionVersion") == "ALL"
        entries: list[tuple[str, dict[str, Any]]] = []
        for (account, region, name), function in sorted(self.functions.items()):
            if account != ctx.account_id or region != ctx.region:
                continue
            if params.get("MasterRegion"):
                continue  # lamina has no Lambda@Edge replicas
            keys = sorted(function.versions, key=_version_order) if all_versions else [LATEST]
            for key in keys:
                entries.append((f"{name}:{key}", function.versions[key].config))
        start = 0
        if params.get("Marker"):
            after = _decode_marker(params["Marker"])
            start = next((i for i, (pos, _) in enumerate(entries) if pos > after), len(entries))
        limit = min(params.get("MaxItems") or LIST_PAGE_LIMIT, LIST_PAGE_LIMIT)
        page = entries[start:start + limit]
        result: dict[str, Any] = {"Functions": [_listed(c, all_versions) for _, c in page]}
        if start + limit < len(entries):
            result["NextMarker"] = _encode_marker(page[-1][0])
        return result

    # ------------------------------------------------------------ update

    def _check_updatable(self, version: FunctionVersion, arn: str) -> None:
        if version.state == "Pending":
            raise ResourceConflictException(
                "The operation cannot be performed at this time. "
                "The function is currently in the following state: Pending")
        if version.updating:
            raise ResourceConflictException(
                f"The operation cannot be performed at this time. An update is in progress for resource: {arn}")

    @staticmethod
    def _check_revision(version: FunctionVersion, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != version.config["RevisionId"]:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

    def _begin_update(self, config: dict[str, Any]) -> dict[str, Any]:
        config.update(LastModified=aws_timestamp(), RevisionId=fc.new_revision_id(), LastUpdateStatus="InProgress",
                      LastUpdateStatusReason="The function is being created.",
                      LastUpdateStatusReasonCode="Creating")
        return config

    async def update_function_code(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"])
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        function, _, version = self.find_version(ref)
        self._check_updatable(version, function.arn)
        self._check_revision(version, params.get("RevisionId"))
        fc.check_architectures(params.get("Architectures"))
        data = await package_bytes(params, ctx.region)
        unzipped = await self._check_package(ctx.account_id, ctx.region, data)
        _check_total_size(unzipped, version.layers)
        code_sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if params.get("DryRun"):
            return public_config(dict(version.config, CodeSha256=code_sha256, CodeSize=len(data)))
        package = await self._store_package(data, unzipped)
        try:
            async with self.lock:
                function, _, version = self.find_version(ref)
                self._check_updatable(version, function.arn)
                self._check_revision(version, params.get("RevisionId"))
                config = dict(version.config, CodeSha256=code_sha256, CodeSize=len(data))
                if params.get("Architectures"):
                    config["Architectures"] = params["Architectures"]
                version.config = self._begin_update(config)
                version.code = package
                await self.save(function)
        finally:
            self._release(package)
        deployment = self._deploy_later(function, LATEST)
        self._collect_unused_blobs()
        if params.get("Publish"):
            return await self._publish_after(deployment, function)
        return public_config(version.config)

    async def update_function_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"])
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        if params.get("ImageConfig"):
            raise InvalidParameterValueException("ImageConfig applies to container images, which lamina does not run.")
        fc.check_environment(params.get("Environment"))
        layer_entries, layer_packages = self._resolve_layers(ctx, params.get("Layers"))
        async with self.lock:
            function, _, version = self.find_version(ref)
            self._check_updatable(version, function.arn)
            self._check_revision(version, params.get("RevisionId"))
            config = fc.updated_configuration(version.config, params, function.name)
            if params.get("Layers") is not None:
                _check_total_size(version.code.unzipped_size, layer_packages)
                if layer_entries:
                    config["Layers"] = layer_entries
                else:
                    config.pop("Layers", None)
                version.layers = layer_packages
            fc.check_runtime(config.get("Runtime"), config.get("Handler"), creating=False)
            fc.check_limits(config, self.config.max_timeout)
            if params.get("Runtime") and params["Runtime"] != version.config.get("Runtime"):
                install = self.runtimes.get(params["Runtime"])
                config["RuntimeVersionConfig"] = {"RuntimeVersionArn": fc.runtime_version_arn(
                    ctx.region, params["Runtime"], install.version if install else "")}
            version.config = self._begin_update(config)
            await self.save(function)
        self._deploy_later(function, LATEST)
        return public_config(version.config)

    # ------------------------------------------------------------ delete

    async def delete_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any] | None:
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        if ref.qualifier == LATEST:
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function.")
        async with self.lock:
            function = self.find(ref)
            if ref.qualifier in function.aliases:
                raise InvalidParameterValueException(
                    "Deletion of aliases is not allowed via DeleteFunction. Use DeleteAlias instead.")
            if ref.qualifier:
                if not ref.qualifier.isdigit():
                    raise ResourceNotFoundException(f"Function not found: {function.arn}:{ref.qualifier}")
                remove_version(function, ref.qualifier)
                await self.save(function)
                removed = [ref.qualifier]
            else:
                await self.store.write([Delete(KIND, function.store_key)])
                self.functions.pop(function.key, None)
                removed = list(function.versions)
        for key in removed:
            self.notify(function, key)
        self._collect_unused_blobs()
        return {"StatusCode": 204}

    # ------------------------------------------------------------ tags

    def _check_tags(self, new: Mapping[str, str], existing: Mapping[str, str]) -> None:
        for key in new:
            if key.lower().startswith("aws:"):
                raise InvalidParameterValueException(f"Tag keys starting with 'aws:' are reserved: {key}")
        if len(set(new) | set(existing)) > MAX_TAGS:
            raise InvalidParameterValueException(
                f"Number of tags exceeds resource tag limit. A resource can have at most {MAX_TAGS} tags.")

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        ref = parse_unqualified_function_arn(ctx, params["Resource"])
        async with self.lock:
            function = self.find(ref)
            self._check_tags(params["Tags"], function.tags)
            function.tags.update(params["Tags"])
            await self.save(function)
        self._tags_changed(function)

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        ref = parse_unqualified_function_arn(ctx, params["Resource"])
        async with self.lock:
            function = self.find(ref)
            for key in params["TagKeys"]:
                function.tags.pop(key, None)
            await self.save(function)
        self._tags_changed(function)

    def _tags_changed(self, function: Function) -> None:
        """Some tags configure how environments run (e.g. `lamina:network`): start afresh."""
        for key in function.versions:
            self.notify(function, key)

    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_unqualified_function_arn(ctx, params["Resource"])
        return {"Tags": dict(self.find(ref).tags)}

    # ------------------------------------------------------------ account

    def code_storage(self, account_id: str, region: str) -> int:
        return sum(v.code.size for f in self.functions.values() if (f.account_id, f.region) == (account_id, region)
                   for v in f.versions.values())

    def function_count(self, account_id: str, region: str) -> int:
        return sum(1 for f in self.functions.values() if (f.account_id, f.region) == (account_id, region))

    # ------------------------------------------------------------ helpers

    def _resolve_layers(self, ctx: RequestContext, arns: list[str] | None
                        ) -> tuple[list[dict[str, Any]], tuple[CodePackage, ...]]:
        """A `Layers` parameter as configuration entries and the packages behind them."""
        if not arns:
            return [], ()
        if len(arns) > fc.MAX_LAYERS:
            raise InvalidParameterValueException(f"Cannot reference more than {fc.MAX_LAYERS} layers.")
        if self.layer_service is None:
            raise InvalidParameterValueException(f"Layer version {arns[0]} does not exist.")
        resolved = self.layer_service.resolve(ctx, arns)
        return [{"Arn": r.arn, "CodeSize": r.code.size} for r in resolved], tuple(r.code for r in resolved)

    async def save(self, function: Function) -> None:
        await self.store.write([Put(KIND, function.store_key, function.to_doc())])

    def _used_packages(self) -> tuple[set[str], set[str]]:
        """(blobs still needed, extracted trees still needed)."""
        blobs = set(self._incoming) | (self.layer_service.used_blobs() if self.layer_service else set())
        trees: set[str] = set()
        for function in self.functions.values():
            for version in function.versions.values():
                for deployed in (version, version.live):
                    if deployed is None:
                        continue
                    blobs.add(deployed.code.blob)
                    trees.add(deployed.code.blob)
                    if deployed.layers:
                        layer_blobs = tuple(p.blob for p in deployed.layers)
                        blobs.update(layer_blobs)
                        trees.add(self.code.layers_path(layer_blobs).name)
        return blobs, trees

    def _collect_unused_blobs(self) -> None:
        """Schedule a clean-up of the blobs nothing refers to. One runs at a time, its
        directory scan off the loop, and requests made meanwhile are coalesced into one more
        run, so a stream of code updates costs one scan per BLOB_COLLECTION_DELAY_SECONDS."""
        if self._blob_collection is not None and not self._blob_collection.done():
            self._blob_collection_again = True
            return
        self._blob_collection = asyncio.create_task(self._collect_blobs_soon())

    async def _collect_blobs_soon(self) -> None:
        while True:
            await asyncio.sleep(BLOB_COLLECTION_DELAY_SECONDS)
            self._blob_collection_again = False  # what was asked for until now, this run covers
            try:
                stored = await asyncio.to_thread(self.blobs.names)
                # Decided and renamed away in one turn of the loop: an upload of the same
                # content marks its blob incoming first, so it is never taken.
                used, _ = self._used_packages()
                for name in stored:
                    if name not in used:
                        self.blobs.set_aside(name)
                await asyncio.to_thread(self.blobs.purge_set_aside)
            except OSError:
                log.exception("removing unused code packages failed; will retry on the next change")
            if not self._blob_collection_again:
                return

    def _collect_unused_extractions(self) -> None:
        """Only at start-up: a running environment may still have an extracted tree mounted."""
        _, used = self._used_packages()
        for path in self.code.root.iterdir():
            if path.name not in used:
                self.code.remove(path.name)


def _check_total_size(unzipped: int, layers: tuple[CodePackage, ...]) -> None:
    total = unzipped + sum(p.unzipped_size for p in layers)
    if total > UNZIPPED_LIMIT:
        raise InvalidParameterValueException(
            f"Function code combined with layers exceeds the maximum allowed size of {UNZIPPED_LIMIT} bytes. "
            f"The actual size is {total} bytes.")


def _version_order(key: str) -> tuple[int, int]:
    return (0, 0) if key == LATEST else (1, int(key))


def _listed(config: dict[str, Any], qualified: bool) -> dict[str, Any]:
    """ListFunctions returns configurations without the state fields."""
    shown = public_config(config, qualified=qualified)
    for key in ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                "LastUpdateStatusReasonCode"):
        shown.pop(key, None)
    return shown


def _encode_marker(position: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": position})).decode()


def _decode_marker(marker: str) -> str:
    try:
        return orjson.loads(base64.urlsafe_b64decode(marker.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidParameterValueException("Invalid pagination marker.") from None
