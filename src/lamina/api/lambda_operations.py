"""Which service method answers each Lambda operation. Operations absent here answer a
clear `UnsupportedOperationException` naming the operation."""

from __future__ import annotations

from lamina.api.lambda_rest import OperationHandler
from lamina.control.functions import FunctionService


def lambda_operations(functions: FunctionService) -> dict[str, OperationHandler]:
    return {
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
        "GetAccountSettings": functions.get_account_settings,
    }
