"""Published versions: immutable snapshots of `$LATEST`'s code and configuration.

Numbers start at 1 and are never reused; publishing when nothing changed since the last
version returns that version instead of making a new one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lamina.context import RequestContext
from lamina.control import function_config as fc
from lamina.control.arns import LATEST, FunctionRef, function_arn, parse_function_ref
from lamina.control.function_model import Deployment, Function, FunctionVersion, aws_timestamp, public_config
from lamina.control.pagination import page
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from lamina.control.functions import FunctionService

# Fields that describe a version rather than what it runs: they never make a new version.
_IDENTITY_FIELDS = ("FunctionArn", "Version", "RevisionId", "LastModified", "Description", "State", "StateReason",
                    "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode")


def _runs_the_same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = lambda c: {k: v for k, v in c.items() if k not in _IDENTITY_FIELDS}  # noqa: E731
    return strip(a) == strip(b)


def published_numbers(function: Function) -> list[int]:
    return sorted(int(k) for k in function.versions if k != LATEST)


def check_publishable(function: Function) -> Deployment:
    latest = function.latest
    if latest.state == "Pending" or latest.updating:
        raise ResourceConflictException(
            "The operation cannot be performed at this time. "
            + ("The function is currently in the following state: Pending" if latest.state == "Pending"
               else f"An update is in progress for resource: {function.arn}"))
    if latest.live is None or latest.state != "Active":
        raise ResourceConflictException(
            f"The operation cannot be performed at this time. The function is currently in the following state: "
            f"{latest.state}")
    return latest.live


def publish(function: Function, description: str | None = None) -> tuple[str, FunctionVersion]:
    """Snapshot what `$LATEST` runs as a new version (or return the last one if nothing changed)."""
    live = check_publishable(function)
    numbers = published_numbers(function)
    if numbers:
        last = function.versions[str(numbers[-1])]
        if last.code.blob == live.code.blob and _runs_the_same(last.config, live.config):
            return str(numbers[-1]), last
    number = str(function.next_version)
    function.next_version += 1
    config = dict(live.config, Version=number, FunctionArn=function_arn(function.region, function.account_id,
                                                                           function.name, number),
                  RevisionId=fc.new_revision_id(), LastModified=aws_timestamp(), State="Active",
                  LastUpdateStatus="Successful")
    if description is not None:
        config["Description"] = description
    version = FunctionVersion(config, live.code, Deployment(config, live.code, live.layers), layers=live.layers)
    function.versions[number] = version
    return number, version


class VersionService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    def _unqualified(self, ctx: RequestContext, name: str) -> FunctionRef:
        ref = parse_function_ref(ctx, name)
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        return ref

    async def publish_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._unqualified(ctx, params["FunctionName"])
        async with self.functions.lock:
            function = self.functions.find(ref)
            latest = function.latest
            if params.get("CodeSha256") and params["CodeSha256"] != latest.config["CodeSha256"]:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                    f"({latest.config['CodeSha256']}). Please try again with the current CodeSHA256.")
            if params.get("RevisionId") and params["RevisionId"] != latest.config["RevisionId"]:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            _, version = publish(function, params.get("Description"))
            await self.functions.save(function)
        return public_config(version.config)

    async def list_versions_by_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = self._unqualified(ctx, params["FunctionName"])
        function = self.functions.find(ref)
        keys = [LATEST] + [str(n) for n in published_numbers(function)]
        shown, marker = page(keys, keys, params)
        result: dict[str, Any] = {"Versions": [_listed(function.versions[k].config) for k in shown]}
        if marker:
            result["NextMarker"] = marker
        return result


def remove_version(function: Function, number: str) -> None:
    """DeleteFunction with a version qualifier; refused while an alias points to the version."""
    if number not in function.versions:
        raise ResourceNotFoundException(
            f"Function not found: {function_arn(function.region, function.account_id, function.name, number)}")
    referencing = sorted(a.name for a in function.aliases.values()
                         if a.function_version == number or number in a.weights)
    if referencing:
        raise ResourceConflictException(
            f"Unable to delete version because the following aliases reference it: [{', '.join(referencing)}]")
    del function.versions[number]
    function.policies.pop(number, None)
    function.provisioned.pop(number, None)
    function.event_invoke_configs.pop(number, None)


def _listed(config: dict[str, Any]) -> dict[str, Any]:
    shown = public_config(config, qualified=True)
    for key in ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                "LastUpdateStatusReasonCode"):
        shown.pop(key, None)
    return shown
