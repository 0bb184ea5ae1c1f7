"""The event source mapping API (Create/Get/Update/Delete/List) and each mapping's
lifecycle: `Creating → Enabled|Disabled`, `Enabling`, `Disabling`, `Updating`, `Deleting`.

Mappings live in memory and are written through to the store; after a restart every
mapping settles into its stable state and its poller resumes (stream pollers from their
checkpoints). A transition ends once the poller has been started or stopped and at least
`esm_transition_seconds` have passed, so clients see (and wait on) the transitional
state as they do against AWS.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import Any

import orjson
from botocore.exceptions import ClientError

from lamina.config import Config
from lamina.context import RequestContext
from lamina.control.arns import FunctionRef, function_arn, parse_function_ref
from lamina.control.functions import FunctionService
from lamina.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from lamina.events import parameters
from lamina.events.aws_clients import AwsClients
from lamina.events.checkpoints import Checkpoints
from lamina.events.dispatch import Dispatcher
from lamina.events.failure_destinations import FailureDestinations
from lamina.events.mapping_model import KIND, TRANSITIONAL_STATES, EventSourceMapping, SourceKind
from lamina.events.mq_brokers import MqBrokers, parse_broker_urls
from lamina.events.pollers.base import PollerDeps
from lamina.events.supervisor import Supervisor
from lamina.invoke.outbox import Outbox
from lamina.invoke.service import InvokeService
from lamina.observability.metrics import Metrics
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import Delete, Put, StateStore

log = logging.getLogger("lamina.events")

LIST_DEFAULT_ITEMS = 100
MAX_TAGS = 50
# How long an update or disable waits for in-flight batches before cancelling them.
UPDATE_GRACE_SECONDS = 60.0
SHUTDOWN_GRACE_SECONDS = 8.0


class EventSourceMappingService:
    def __init__(self, config: Config, store: StateStore, commits: GroupCommitter, functions: FunctionService,
                 invoke: InvokeService, metrics: Metrics, outbox: Outbox) -> None:
        self.config = config
        self.store = store
        self.functions = functions
        self.mappings: dict[str, EventSourceMapping] = {}
        self.aws = AwsClients()
        self.checkpoints = Checkpoints(store, commits)
        self.dispatcher = Dispatcher(invoke, self._report)
        self.supervisor = Supervisor(PollerDeps(
            config, self.aws, self.dispatcher, metrics, self.checkpoints, FailureDestinations(outbox),
            MqBrokers(self.aws, parse_broker_urls(config.mq_broker_urls))))
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task] = set()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for _, doc in await self.store.load(KIND):
            mapping = EventSourceMapping.from_doc(doc)
            if mapping.state == "Deleting":
                await self._remove(mapping)
                continue
            self.mappings[mapping.uuid] = mapping
            stable = "Enabled" if mapping.enabled else "Disabled"
            if mapping.state != stable:
                mapping.config["State"] = stable
                await self._save(mapping)
            if mapping.enabled:
                self.supervisor.start(mapping)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.supervisor.stop_all(SHUTDOWN_GRACE_SECONDS)
        self.aws.close()

    async def reset(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.supervisor.stop_all(0)
        self.mappings.clear()

    # ------------------------------------------------------------ API

    async def create_event_source_mapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind = parameters.source_kind(params)
        ref, target_arn = self._target(ctx, params["FunctionName"])
        uuid = parameters.new_uuid()
        mapping_arn = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:event-source-mapping:{uuid}"
        config = parameters.new_configuration(kind, params, uuid_=uuid, mapping_arn=mapping_arn,
                                              function_arn=target_arn, now=time.time())
        if kind is SourceKind.SQS:
            await self._check_queue(config["EventSourceArn"], ref)
        enabled = params.get("Enabled", True)
        config["State"] = "Creating"
        mapping = EventSourceMapping(uuid, ctx.account_id, ctx.region, kind, ref.name, ref.qualifier, config, enabled,
                                     dict(params.get("Tags") or {}))
        async with self._lock:
            self._check_duplicate(mapping)
            self.mappings[uuid] = mapping
            try:
                await self._save(mapping)
            except BaseException:
                self.mappings.pop(uuid, None)
                raise
        shown = self._shown(mapping)
        self._transition(mapping, restart=enabled)
        return shown

    async def get_event_source_mapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._shown(self._find(ctx, params["UUID"]))

    async def list_event_source_mappings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        target: FunctionRef | None = None
        if params.get("FunctionName"):
            target = parse_function_ref(ctx, params["FunctionName"])
        entries = [m for m in self.mappings.values() if (m.account_id, m.region) == (ctx.account_id, ctx.region)
                   and (source is None or m.source_arn == source)
                   and (target is None or (m.function_name == target.name
                                           and (target.qualifier is None or m.qualifier == target.qualifier)))]
        start = 0
        if params.get("Marker"):
            after = _decode_marker(params["Marker"])
            start = next((i + 1 for i, m in enumerate(entries) if m.uuid == after), len(entries))
        limit = params.get("MaxItems") or LIST_DEFAULT_ITEMS
        page = entries[start:start + limit]
        result: dict[str, Any] = {"EventSourceMappings": [self._shown(m) for m in page]}
        if start + limit < len(entries):
            result["NextMarker"] = _encode_marker(page[-1].uuid)
        return result

    async def update_event_source_mapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            mapping = self._find(ctx, params["UUID"])
            self._check_idle(mapping, "update")
            config = parameters.updated_configuration(mapping.kind, mapping.config, params)
            name, qualifier = mapping.function_name, mapping.qualifier
            if params.get("FunctionName"):
                ref, config["FunctionArn"] = self._target(ctx, params["FunctionName"])
                name, qualifier = ref.name, ref.qualifier
                if mapping.kind is SourceKind.SQS:
                    await self._check_queue(mapping.source_arn, ref)
            enabled = params.get("Enabled", mapping.enabled)
            if enabled != mapping.enabled:
                config["State"] = "Enabling" if enabled else "Disabling"
            else:
                config["State"] = "Updating"
            config["LastModified"] = time.time()
            updated = EventSourceMapping(mapping.uuid, mapping.account_id, mapping.region, mapping.kind, name,
                                         qualifier, config, enabled, mapping.tags, mapping.revision + 1)
            self._check_duplicate(updated)
            await self._save(updated)
            self.mappings[mapping.uuid] = updated
        shown = self._shown(updated)
        self._transition(updated, restart=True)
        return shown

    async def delete_event_source_mapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:
            mapping = self._find(ctx, params["UUID"])
            self._check_idle(mapping, "delete")
            mapping.config["State"] = "Deleting"
            mapping.revision += 1
            await self._save(mapping)
        shown = self._shown(mapping)
        self._in_background(self._delete_later(mapping))
        return shown

    # ------------------------------------------------------------ tags

    def owns(self, resource_arn: str) -> bool:
        """Whether a tagging call names an event source mapping."""
        return ":event-source-mapping:" in resource_arn

    def _tagged(self, ctx: RequestContext, resource_arn: str) -> EventSourceMapping:
        return self._find(ctx, resource_arn.rsplit(":", 1)[1])

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self._lock:
            mapping = self._tagged(ctx, params["Resource"])
            tags = {**mapping.tags, **params["Tags"]}
            if any(key.lower().startswith("aws:") for key in params["Tags"]):
                raise InvalidParameterValueException("Tag keys starting with 'aws:' are reserved.")
            if len(tags) > MAX_TAGS:
                raise InvalidParameterValueException(
                    f"Number of tags exceeds resource tag limit. A resource can have at most {MAX_TAGS} tags.")
            mapping.tags = tags
            await self._save(mapping)

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self._lock:
            mapping = self._tagged(ctx, params["Resource"])
            for key in params["TagKeys"]:
                mapping.tags.pop(key, None)
            await self._save(mapping)

    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": dict(self._tagged(ctx, params["Resource"]).tags)}

    # ------------------------------------------------------------ transitions

    def _transition(self, mapping: EventSourceMapping, restart: bool) -> None:
        self._in_background(self._settle(mapping, restart))

    async def _settle(self, mapping: EventSourceMapping, restart: bool) -> None:
        """Bring the poller in line with the mapping, then enter the stable state."""
        began = time.monotonic()
        if self.supervisor.is_running(mapping.uuid):
            await self.supervisor.stop(mapping.uuid, UPDATE_GRACE_SECONDS)
        if restart and mapping.enabled and self.mappings.get(mapping.uuid) is mapping:
            self.supervisor.start(mapping)
        await asyncio.sleep(max(0.0, self.config.esm_transition_seconds - (time.monotonic() - began)))
        async with self._lock:
            if self.mappings.get(mapping.uuid) is not mapping or mapping.state == "Deleting":
                return
            mapping.config["State"] = "Enabled" if mapping.enabled else "Disabled"
            await self._save(mapping)

    async def _delete_later(self, mapping: EventSourceMapping) -> None:
        began = time.monotonic()
        await self.supervisor.stop(mapping.uuid, UPDATE_GRACE_SECONDS)
        await asyncio.sleep(max(0.0, self.config.esm_transition_seconds - (time.monotonic() - began)))
        async with self._lock:
            await self._remove(mapping)

    async def _remove(self, mapping: EventSourceMapping) -> None:
        await self.store.write([Delete(KIND, mapping.uuid)])
        await self.checkpoints.forget(mapping.uuid)
        self.mappings.pop(mapping.uuid, None)

    def _in_background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event source mapping transition failed", exc_info=task.exception())

    # ------------------------------------------------------------ status

    def _report(self, mapping: EventSourceMapping, result: str) -> None:
        """Record a mapping's LastProcessingResult (SQS mappings do not show one)."""
        if mapping.kind is SourceKind.SQS or mapping.config.get("LastProcessingResult") == result:
            return
        mapping.config["LastProcessingResult"] = result
        self._in_background(self._save_current(mapping))

    async def _save_current(self, mapping: EventSourceMapping) -> None:
        """Persist a status change unless the mapping was replaced or is going away."""
        async with self._lock:
            if self.mappings.get(mapping.uuid) is mapping and mapping.state != "Deleting":
                await self._save(mapping)

    # ------------------------------------------------------------ helpers

    async def _check_queue(self, queue_arn: str, ref: FunctionRef) -> None:
        """As Lambda does at create: the queue must exist, and its visibility timeout must
        not be shorter than the function's timeout. An endpoint that cannot be reached is
        not held against the mapping (it reports the problem once it polls)."""
        _, _, _, region, account, name = queue_arn.split(":", 5)
        try:
            url = (await self.aws.call("sqs", region, "get_queue_url", QueueName=name,
                                       QueueOwnerAWSAccountId=account))["QueueUrl"]
            attributes = (await self.aws.call("sqs", region, "get_queue_attributes", QueueUrl=url,
                                              AttributeNames=["VisibilityTimeout"]))["Attributes"]
        except ClientError as error:
            if "NonExistentQueue" in str(error) or "QueueDoesNotExist" in str(error):
                raise InvalidParameterValueException(
                    f"Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                    f"The queue {queue_arn} does not exist.") from None
            log.warning("cannot check queue %s: %s", queue_arn, error)
            return
        except Exception as error:
            log.warning("cannot check queue %s: %s", queue_arn, error)
            return
        _, _, version = self.functions.find_version(ref)
        visibility, timeout = int(attributes.get("VisibilityTimeout", 30)), version.config.get("Timeout", 3)
        if visibility < timeout:
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds")

    def _target(self, ctx: RequestContext, name: str) -> tuple[FunctionRef, str]:
        """The function a FunctionName names, and the FunctionArn the mapping shows
        (qualified when an alias or version is named)."""
        ref = parse_function_ref(ctx, name)
        self.functions.find_version(ref)
        return ref, function_arn(ref.region, ref.account_id, ref.name, ref.qualifier)

    def _find(self, ctx: RequestContext, uuid: str) -> EventSourceMapping:
        mapping = self.mappings.get(uuid)
        if mapping is None or (mapping.account_id, mapping.region) != (ctx.account_id, ctx.region):
            raise ResourceNotFoundException(f"The resource you requested does not exist. (Service: Lambda; "
                                            f"Event source mapping not found: {uuid})")
        return mapping

    @staticmethod
    def _check_idle(mapping: EventSourceMapping, action: str) -> None:
        if mapping.state in TRANSITIONAL_STATES:
            raise ResourceInUseException(
                f"Cannot {action} the event source mapping because it is in use. The event source mapping "
                f"{mapping.uuid} is currently in the {mapping.state} state; try again once it is Enabled or "
                "Disabled.")

    def _check_duplicate(self, mapping: EventSourceMapping) -> None:
        identity = _source_identity(mapping)
        for other in self.mappings.values():
            if other.uuid != mapping.uuid and (other.account_id, other.region) == (mapping.account_id, mapping.region) \
                    and _source_identity(other) == identity and other.function_arn == mapping.function_arn:
                raise ResourceConflictException(
                    f"The event source arn ({identity[0]}) and function ({mapping.function_name}) provided mapping "
                    f"already exists. Please update or delete the existing mapping with UUID {other.uuid}")

    @staticmethod
    def _shown(mapping: EventSourceMapping) -> dict[str, Any]:
        return orjson.loads(orjson.dumps(mapping.config))

    async def _save(self, mapping: EventSourceMapping) -> None:
        await self.store.write([Put(KIND, mapping.uuid, mapping.to_doc())])


def _source_identity(mapping: EventSourceMapping) -> tuple[str, ...]:
    """What makes two mappings read the same source."""
    if mapping.source_arn:
        return (mapping.source_arn, *(mapping.config.get("Topics") or ()), *(mapping.config.get("Queues") or ()))
    servers = (mapping.config.get("SelfManagedEventSource") or {}).get("Endpoints", {}).get(
        "KAFKA_BOOTSTRAP_SERVERS", [])
    return (",".join(sorted(servers)), *(mapping.config.get("Topics") or ()))


def _encode_marker(uuid: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": uuid})).decode()


def _decode_marker(marker: str) -> str:
    try:
        return orjson.loads(base64.urlsafe_b64decode(marker.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidParameterValueException("Invalid pagination marker.") from None

