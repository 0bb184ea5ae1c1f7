"""Asynchronous invocation settings per function and qualifier: retries, maximum event
age, and where records of successes and failures go."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from lamina.context import RequestContext
from lamina.control.arns import LATEST, function_arn, parse_function_ref
from lamina.control.function_model import Function
from lamina.control.pagination import page
from lamina.errors import InvalidParameterValueException, ResourceNotFoundException

if TYPE_CHECKING:
    from lamina.control.functions import FunctionService

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 21_600
_DESTINATION = re.compile(r"arn:aws[a-zA-Z-]*:(sqs|sns|lambda|events|s3):")


def destination_service(arn: str) -> str | None:
    match = _DESTINATION.match(arn)
    return match[1] if match else None


def _check_destinations(config: dict[str, Any] | None) -> None:
    for condition in ("OnSuccess", "OnFailure"):
        arn = ((config or {}).get(condition) or {}).get("Destination")
        if not arn:
            continue
        service = destination_service(arn)
        valid = service in ("sqs", "sns", "lambda", "events") or (service == "s3" and condition == "OnFailure")
        if service == "sqs" and arn.endswith(".fifo") or service == "sns" and arn.endswith(".fifo"):
            valid = False
        if service == "events" and ":event-bus/" not in arn:
            valid = False
        if service == "lambda" and ":function:" not in arn:
            valid = False
        if not valid:
            raise InvalidParameterValueException(
                f"The provided destination config DestinationConfig.{condition}.Destination is invalid: {arn}")


def effective_config(function: Function, qualifier: str) -> dict[str, Any]:
    """The settings an asynchronous invocation of `qualifier` runs with, defaults filled in."""
    config = function.event_invoke_configs.get(qualifier) or {}
    return {"MaximumRetryAttempts": config.get("MaximumRetryAttempts", DEFAULT_RETRIES),
            "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE),
            "DestinationConfig": config.get("DestinationConfig") or {}}


class EventInvokeConfigService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    def _target(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[Function, str]:
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        function = self.functions.find(ref)
        qualifier = ref.qualifier or LATEST
        if qualifier not in function.versions and qualifier not in function.aliases:
            raise ResourceNotFoundException(
                f"Function not found: {function_arn(function.region, function.account_id, function.name, qualifier)}")
        return function, qualifier

    @staticmethod
    def _shape(function: Function, qualifier: str, config: dict[str, Any]) -> dict[str, Any]:
        shown = {"FunctionArn": function_arn(function.region, function.account_id, function.name, qualifier),
                 **config}
        shown.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})
        return shown

    async def _store(self, ctx: RequestContext, params: dict[str, Any], merge: bool) -> dict[str, Any]:
        async with self.functions.lock:
            function, qualifier = self._target(ctx, params)
            current = function.event_invoke_configs.get(qualifier)
            if merge and current is None:
                raise ResourceNotFoundException(
                    f"The function {function_arn(function.region, function.account_id, function.name, qualifier)} "
                    "doesn't have an EventInvokeConfig")
            config: dict[str, Any] = dict(current or {}) if merge else {}
            for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if params.get(member) is not None:
                    config[member] = params[member]
            if params.get("DestinationConfig") is not None:
                destinations = dict(config.get("DestinationConfig") or {}) if merge else {}
                for condition in ("OnSuccess", "OnFailure"):
                    if condition in params["DestinationConfig"]:
                        destinations[condition] = dict(params["DestinationConfig"][condition] or {})
                config["DestinationConfig"] = destinations
            _check_destinations(config.get("DestinationConfig"))
            config["LastModified"] = time.time()
            function.event_invoke_configs[qualifier] = config
            await self.functions.save(function)
        return self._shape(function, qualifier, config)

    async def put_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._store(ctx, params, merge=False)

    async def update_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]
                                                  ) -> dict[str, Any]:
        return await self._store(ctx, params, merge=True)

    async def get_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._target(ctx, params)
        config = function.event_invoke_configs.get(qualifier)
        if config is None:
            raise ResourceNotFoundException(
                f"The function {function_arn(function.region, function.account_id, function.name, qualifier)} "
                "doesn't have an EventInvokeConfig")
        return self._shape(function, qualifier, config)

    async def delete_function_event_invoke_config(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.functions.lock:
            function, qualifier = self._target(ctx, params)
            if function.event_invoke_configs.pop(qualifier, None) is None:
                raise ResourceNotFoundException(
                    f"The function {function_arn(function.region, function.account_id, function.name, qualifier)} "
                    "doesn't have an EventInvokeConfig")
            await self.functions.save(function)

    async def list_function_event_invoke_configs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_ref(ctx, params["FunctionName"])
        function = self.functions.find(ref)
        qualifiers = sorted(function.event_invoke_configs)
        shown, marker = page(qualifiers, qualifiers, params)
        result: dict[str, Any] = {"FunctionEventInvokeConfigs": [
            self._shape(function, q, function.event_invoke_configs[q]) for q in shown]}
        if marker:
            result["NextMarker"] = marker
        return result
