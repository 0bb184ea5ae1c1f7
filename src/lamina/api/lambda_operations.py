"""Which service method answers each Lambda operation. Operations absent here answer a
clear `UnsupportedOperationException` naming the operation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.api.lambda_rest import OperationHandler
from lamina.context import RequestContext
from lamina.control.aliases import AliasService
from lamina.control.concurrency import ConcurrencyService
from lamina.control.event_invoke_configs import EventInvokeConfigService
from lamina.control.functions import FunctionService
from lamina.control.layers import LayerService
from lamina.control.policies import PolicyService
from lamina.control.versions import VersionService
from lamina.events.service import EventSourceMappingService
from lamina.invoke.service import InvokeService


def lambda_operations(functions: FunctionService, invoke: InvokeService, versions: VersionService,
                      aliases: AliasService, layers: LayerService, policies: PolicyService,
                      concurrency: ConcurrencyService,
                      event_invoke_configs: EventInvokeConfigService,
                      event_source_mappings: EventSourceMappingService | None = None
                      ) -> dict[str, OperationHandler]:
    operations: dict[str, OperationHandler] = {
        "Invoke": invoke.invoke,
        "InvokeAsync": invoke.invoke_async,
        "PutFunctionEventInvokeConfig": event_invoke_configs.put_function_event_invoke_config,
        "UpdateFunctionEventInvokeConfig": event_invoke_configs.update_function_event_invoke_config,
        "GetFunctionEventInvokeConfig": event_invoke_configs.get_function_event_invoke_config,
        "DeleteFunctionEventInvokeConfig": event_invoke_configs.delete_function_event_invoke_config,
        "ListFunctionEventInvokeConfigs": event_invoke_configs.list_function_event_invoke_configs,
        "CreateFunction": functions.create_function,
        "GetFunction": functions.get_function,
        "GetFunctionConfiguration": functions.get_function_configuration,
        "ListFunctions": functions.list_functions,
        "UpdateFunctionCode": functions.update_function_code,
        "UpdateFunctionConfiguration": functions.update_function_configuration,
        "DeleteFunction": functions.delete_function,
        "TagResource": functions.tag_resource,
        "UntagResource": functions.untag_resource,
        "ListTags": functions.list_tags,
        "GetAccountSettings": concurrency.get_account_settings,
        "PublishVersion": versions.publish_version,
        "ListVersionsByFunction": versions.list_versions_by_function,
        "CreateAlias": aliases.create_alias,
        "GetAlias": aliases.get_alias,
        "UpdateAlias": aliases.update_alias,
        "DeleteAlias": aliases.delete_alias,
        "ListAliases": aliases.list_aliases,
        "PublishLayerVersion": layers.publish_layer_version,
        "GetLayerVersion": layers.get_layer_version,
        "GetLayerVersionByArn": layers.get_layer_version_by_arn,
        "DeleteLayerVersion": layers.delete_layer_version,
        "ListLayers": layers.list_layers,
        "ListLayerVersions": layers.list_layer_versions,
        "AddLayerVersionPermission": layers.add_layer_version_permission,
        "GetLayerVersionPolicy": layers.get_layer_version_policy,
        "RemoveLayerVersionPermission": layers.remove_layer_version_permission,
        "AddPermission": policies.add_permission,
        "RemovePermission": policies.remove_permission,
        "GetPolicy": policies.get_policy,
        "PutFunctionConcurrency": concurrency.put_function_concurrency,
        "GetFunctionConcurrency": concurrency.get_function_concurrency,
        "DeleteFunctionConcurrency": concurrency.delete_function_concurrency,
        "PutProvisionedConcurrencyConfig": concurrency.put_provisioned_concurrency_config,
        "GetProvisionedConcurrencyConfig": concurrency.get_provisioned_concurrency_config,
        "DeleteProvisionedConcurrencyConfig": concurrency.delete_provisioned_concurrency_config,
        "ListProvisionedConcurrencyConfigs": concurrency.list_provisioned_concurrency_configs,
    }
    if event_source_mappings is not None:
        operations.update({
            "TagResource": _by_resource(event_source_mappings, event_source_mappings.tag_resource,
                                        functions.tag_resource),
            "UntagResource": _by_resource(event_source_mappings, event_source_mappings.untag_resource,
                                          functions.untag_resource),
            "ListTags": _by_resource(event_source_mappings, event_source_mappings.list_tags, functions.list_tags),
            "CreateEventSourceMapping": event_source_mappings.create_event_source_mapping,
            "GetEventSourceMapping": event_source_mappings.get_event_source_mapping,
            "UpdateEventSourceMapping": event_source_mappings.update_event_source_mapping,
            "DeleteEventSourceMapping": event_source_mappings.delete_event_source_mapping,
            "ListEventSourceMappings": event_source_mappings.list_event_source_mappings,
        })
    return operations


def _by_resource(mappings: EventSourceMappingService, mapping_handler: OperationHandler,
                 function_handler: OperationHandler) -> OperationHandler:
    """Tagging calls name either a function or an event source mapping."""
    async def handler(ctx: RequestContext, params: dict[str, Any]) -> Mapping[str, Any] | None:
        owner = mapping_handler if mappings.owns(params["Resource"]) else function_handler
        return await owner(ctx, params)

    return handler
