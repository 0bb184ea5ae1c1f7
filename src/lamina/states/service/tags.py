"""Tags of state machines and activities: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from typing import Any

from lamina.context import RequestContext
from lamina.states.errors import API_ERRORS
from lamina.states.service.arns import ACTIVITY, STATE_MACHINE, parse_arn
from lamina.states.service.registry import Activity, MachineResource, Registry

ResourceNotFound = API_ERRORS["ResourceNotFound"]
TooManyTags = API_ERRORS["TooManyTags"]
ValidationException = API_ERRORS["ValidationException"]

MAX_TAGS = 50


def tag_dict(arn: str, tags: list[dict[str, Any]] | None, current: dict[str, str] | None = None) -> dict[str, str]:
    # The model leaves `key` optional in a Tag; the service requires it.
    missing = [f"Value null at 'tags.{i}.member.key' failed to satisfy constraint: Member must not be null"
               for i, tag in enumerate(tags or [], 1) if "key" not in tag]
    if missing:
        count = len(missing)
        raise ValidationException(f"{count} validation error{'s' if count > 1 else ''} detected: "
                                  + "; ".join(missing))
    merged = dict(current or {})
    for tag in tags or []:
        merged[tag["key"]] = tag.get("value", "")
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"Too many tags: a resource can have at most {MAX_TAGS} tags", resourceName=arn)
    return merged


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


class TagsApi:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _resource(self, ctx: RequestContext, arn: str) -> MachineResource | Activity:
        parsed = parse_arn(arn, STATE_MACHINE, ACTIVITY)
        table = self.registry.machines if parsed.kind == STATE_MACHINE else self.registry.activities
        resource = table.get(arn) if parsed.visible_to(ctx) else None
        if resource is None:
            raise ResourceNotFound(f"Resource not found: '{arn}'", resourceName=arn)
        return resource

    async def _save(self, resource: MachineResource | Activity) -> None:
        if isinstance(resource, MachineResource):
            await self.registry.save_machine(resource)
        else:
            await self.registry.save_activity(resource)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._resource(ctx, params["resourceArn"])
        resource.tags = tag_dict(resource.arn, params["tags"], resource.tags)
        await self._save(resource)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._resource(ctx, params["resourceArn"])
        for key in params["tagKeys"]:
            resource.tags.pop(key, None)
        await self._save(resource)
        return {}

    async def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": tag_list(self._resource(ctx, params["resourceArn"]).tags)}
