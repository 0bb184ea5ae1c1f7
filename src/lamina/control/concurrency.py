"""Concurrency settings: the account limit, reserved concurrency per function, and
provisioned concurrency per version or alias.

This module owns the rules and the stored settings; the invoke path enforces them with
O(1) counters (`invoke/limits.py`), told of every change through `listeners`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lamina.config import Config
from lamina.context import RequestContext
from lamina.control.arns import LATEST, function_arn, parse_function_ref
from lamina.control.function_model import Function, ProvisionedConfig, aws_timestamp
from lamina.control.packages import TOTAL_CODE_SIZE_LIMIT, UNZIPPED_LIMIT, ZIPPED_LIMIT
from lamina.control.pagination import page
from lamina.errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
)

if TYPE_CHECKING:
    from lamina.control.functions import FunctionService

UNRESERVED_MINIMUM = 100

# Called with the function whose reserved or provisioned concurrency changed.
ConcurrencyListener = Callable[[Function], None]


class ConcurrencyService:
    def __init__(self, config: Config, functions: FunctionService) -> None:
        self.limit = config.concurrency_limit
        # AWS keeps 100 unreserved; an installation configured below that keeps all of it.
        self.unreserved_minimum = min(UNRESERVED_MINIMUM, self.limit)
        self.functions = functions
        self.listeners: list[ConcurrencyListener] = []

    def reserved_total(self, account_id: str, region: str, excluding: Function | None = None) -> int:
        return sum(f.reserved_concurrency or 0 for f in self.functions.functions.values()
                   if (f.account_id, f.region) == (account_id, region) and f is not excluding)

    def unreserved(self, account_id: str, region: str) -> int:
        return self.limit - self.reserved_total(account_id, region)

    def _changed(self, function: Function) -> None:
        for listener in self.listeners:
            listener(function)

    def _function(self, ctx: RequestContext, name: str) -> Function:
        ref = parse_function_ref(ctx, name)
        if ref.qualifier:
            raise InvalidParameterValueException("Unqualified function name required: remove the qualifier.")
        return self.functions.find(ref)

    async def get_account_settings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE_LIMIT, "CodeSizeUnzipped": UNZIPPED_LIMIT,
                             "CodeSizeZipped": ZIPPED_LIMIT, "ConcurrentExecutions": self.limit,
                             "UnreservedConcurrentExecutions": self.unreserved(ctx.account_id, ctx.region)},
            "AccountUsage": {"TotalCodeSize": self.functions.code_storage(ctx.account_id, ctx.region),
                             "FunctionCount": self.functions.function_count(ctx.account_id, ctx.region)},
        }

    # ------------------------------------------------------------ reserved

    async def put_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        reserved = params["ReservedConcurrentExecutions"]
        async with self.functions.lock:
            function = self._function(ctx, params["FunctionName"])
            others = self.reserved_total(function.account_id, function.region, excluding=function)
            if self.limit - others - reserved < self.unreserved_minimum:
                raise InvalidParameterValueException(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{self.unreserved_minimum}].")
            provisioned = sum(c.requested for c in function.provisioned.values())
            if reserved < provisioned:
                raise InvalidParameterValueException(
                    f"ReservedConcurrentExecutions {reserved} should not be lower than function's total "
                    f"provisioned concurrency [{provisioned}].")
            function.reserved_concurrency = reserved
            await self.functions.save(function)
        self._changed(function)
        return {"ReservedConcurrentExecutions": reserved}

    async def get_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function = self._function(ctx, params["FunctionName"])
        if function.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": function.reserved_concurrency}

    async def delete_function_concurrency(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.functions.lock:
            function = self._function(ctx, params["FunctionName"])
            function.reserved_concurrency = None
            await self.functions.save(function)
        self._changed(function)

    # ------------------------------------------------------------ provisioned

    def _qualified(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[Function, str]:
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        function = self.functions.find(ref)
        qualifier = ref.qualifier
        if not qualifier or qualifier == LATEST:
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        if qualifier not in function.versions and qualifier not in function.aliases:
            raise ProvisionedConcurrencyConfigNotFoundException(
                f"Function not found: {function_arn(function.region, function.account_id, function.name, qualifier)}")
        return function, qualifier

    def version_of(self, function: Function, qualifier: str) -> str:
        alias = function.aliases.get(qualifier)
        return alias.function_version if alias else qualifier

    def _shape(self, function: Function, qualifier: str, config: ProvisionedConfig, listed: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": config.requested,
            "AvailableProvisionedConcurrentExecutions": config.allocated,
            "AllocatedProvisionedConcurrentExecutions": config.allocated,
            "Status": config.status, "LastModified": config.last_modified,
        }
        if config.reason:
            shown["StatusReason"] = config.reason
        if listed:
            shown["FunctionArn"] = function_arn(function.region, function.account_id, function.name, qualifier)
        return shown

    async def put_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        requested = params["ProvisionedConcurrentExecutions"]
        async with self.functions.lock:
            function, qualifier = self._qualified(ctx, params)
            alias = function.aliases.get(qualifier)
            if alias and alias.weights:
                raise InvalidParameterValueException(
                    "Alias with weights can not be used with Provisioned Concurrency")
            version = self.version_of(function, qualifier)
            for other in function.provisioned:
                if other != qualifier and self.version_of(function, other) == version:
                    raise ResourceConflictException(
                        f"Alias or version {other} already has provisioned concurrency for version {version}.")
            others = sum(c.requested for q, c in function.provisioned.items() if q != qualifier)
            if function.reserved_concurrency is not None and others + requested > function.reserved_concurrency:
                raise InvalidParameterValueException(
                    "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                    f"for function [{function.reserved_concurrency}].")
            if function.reserved_concurrency is None and \
                    self.unreserved(function.account_id, function.region) - others - requested < self.unreserved_minimum:
                raise InvalidParameterValueException(
                    "Requested Provisioned Concurrency would decrease account's UnreservedConcurrentExecution "
                    f"below its minimum value of [{self.unreserved_minimum}].")
            config = ProvisionedConfig(requested, aws_timestamp())
            function.provisioned[qualifier] = config
            await self.functions.save(function)
        self._changed(function)
        return self._shape(function, qualifier, config, listed=False)

    async def get_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._qualified(ctx, params)
        config = function.provisioned.get(qualifier)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundException("No Provisioned Concurrency Config found for this function")
        return self._shape(function, qualifier, config, listed=False)

    async def delete_provisioned_concurrency_config(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.functions.lock:
            function, qualifier = self._qualified(ctx, params)
            if function.provisioned.pop(qualifier, None) is None:
                raise ProvisionedConcurrencyConfigNotFoundException(
                    "No Provisioned Concurrency Config found for this function")
            await self.functions.save(function)
        self._changed(function)

    async def list_provisioned_concurrency_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function = self._function(ctx, params["FunctionName"])
        qualifiers = sorted(function.provisioned)
        shown, marker = page(qualifiers, qualifiers, params)
        result: dict[str, Any] = {"ProvisionedConcurrencyConfigs": [
            self._shape(function, q, function.provisioned[q], listed=True) for q in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def record_allocation(self, function: Function, qualifier: str, config: ProvisionedConfig,
                                status: str, allocated: int, reason: str | None = None) -> None:
        """The invoke side reports how many environments it keeps ready."""
        async with self.functions.lock:
            if function.provisioned.get(qualifier) is not config:
                return
            config.status, config.allocated, config.reason = status, allocated, reason
            await self.functions.save(function)
