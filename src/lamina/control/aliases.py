"""Aliases: names pointing at a version, optionally sharing traffic with a second one."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from lamina.context import RequestContext
from lamina.control import function_config as fc
from lamina.control.arns import LATEST, FunctionRef, function_arn, parse_function_ref
from lamina.control.function_model import Alias, Function
from lamina.control.pagination import page
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from lamina.control.functions import FunctionService

def alias_configuration(function: Function, alias: Alias) -> dict[str, Any]:
    shown: dict[str, Any] = {"AliasArn": function.alias_arn(alias.name), "Name": alias.name,
                             "FunctionVersion": alias.function_version, "Description": alias.description,
                             "RevisionId": alias.revision_id}
    if alias.weights:
        shown["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return shown


def route(alias: Alias) -> str:
    """The version one invocation through this alias runs: weighted, per request."""
    for version, weight in alias.weights.items():
        if random.random() < weight:
            return version
    return alias.function_version


def _check_target(function: Function, version: str) -> None:
    if version not in function.versions:
        raise ResourceNotFoundException(
            f"Function not found: {function_arn(function.region, function.account_id, function.name, version)}")


def _check_routing(function: Function, primary: str, weights: dict[str, float]) -> None:
    if not weights:
        return
    if len(weights) > 1:
        raise InvalidParameterValueException("Only one additional version can be configured for an alias.")
    (extra, _), = weights.items()
    _check_target(function, extra)
    if LATEST in (primary, extra):
        raise InvalidParameterValueException(
            "$LATEST is not supported for an alias pointing to more than 1 version")
    if extra == primary:
        raise InvalidParameterValueException(
            "Alias routing config must not include the version the alias points to.")
    first, second = function.versions[primary].config, function.versions[extra].config
    if first.get("Role") != second.get("Role"):
        raise InvalidParameterValueException(
            "All versions of a routing alias must have the same execution role.")
    if first.get("DeadLetterConfig") != second.get("DeadLetterConfig"):
        raise InvalidParameterValueException(
            "All versions of a routing alias must have the same dead-letter queue configuration.")


class AliasService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    def _function(self, ctx: RequestContext, name: str) -> tuple[FunctionRef, Function]:
        ref = parse_function_ref(ctx, name)
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        return ref, self.functions.find(ref)

    @staticmethod
    def _alias(function: Function, name: str) -> Alias:
        alias = function.aliases.get(name)
        if alias is None:
            raise ResourceNotFoundException(f"Alias not found: {function.alias_arn(name)}")
        return alias

    async def create_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self.functions.lock:
            _, function = self._function(ctx, params["FunctionName"])
            name = params["Name"]
            if name in function.aliases:
                raise ResourceConflictException(f"Alias already exists: {function.alias_arn(name)}")
            _check_target(function, params["FunctionVersion"])
            weights = dict((params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
            _check_routing(function, params["FunctionVersion"], weights)
            alias = Alias(name, params["FunctionVersion"], params.get("Description", ""), fc.new_revision_id(),
                          weights)
            function.aliases[name] = alias
            await self.functions.save(function)
        return alias_configuration(function, alias)

    async def get_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, function = self._function(ctx, params["FunctionName"])
        return alias_configuration(function, self._alias(function, params["Name"]))

    async def update_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self.functions.lock:
            _, function = self._function(ctx, params["FunctionName"])
            alias = self._alias(function, params["Name"])
            if params.get("RevisionId") and params["RevisionId"] != alias.revision_id:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
            primary = params.get("FunctionVersion") or alias.function_version
            _check_target(function, primary)
            if params.get("RoutingConfig") is not None:
                weights = dict(params["RoutingConfig"].get("AdditionalVersionWeights") or {})
            else:
                weights = dict(alias.weights)
            _check_routing(function, primary, weights)
            moved = primary != alias.function_version
            alias.function_version = primary
            alias.weights = weights
            if params.get("Description") is not None:
                alias.description = params["Description"]
            alias.revision_id = fc.new_revision_id()
            await self.functions.save(function)
        if moved:
            self.functions.notify(function, alias.name)
        return alias_configuration(function, alias)

    async def delete_alias(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.functions.lock:
            _, function = self._function(ctx, params["FunctionName"])
            self._alias(function, params["Name"])
            del function.aliases[params["Name"]]
            function.policies.pop(params["Name"], None)
            function.provisioned.pop(params["Name"], None)
            function.event_invoke_configs.pop(params["Name"], None)
            await self.functions.save(function)
        self.functions.notify(function, params["Name"])

    async def list_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, function = self._function(ctx, params["FunctionName"])
        aliases = sorted(function.aliases.values(), key=lambda a: a.name)
        if params.get("FunctionVersion"):
            aliases = [a for a in aliases
                       if a.function_version == params["FunctionVersion"] or params["FunctionVersion"] in a.weights]
        shown, marker = page([a.name for a in aliases], aliases, params)
        result: dict[str, Any] = {"Aliases": [alias_configuration(function, a) for a in shown]}
        if marker:
            result["NextMarker"] = marker
        return result
