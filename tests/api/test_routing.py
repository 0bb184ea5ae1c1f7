"""Routing every Lambda operation by method and path template."""

from __future__ import annotations

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel

from lamina.api.routing import Router
from lamina.errors import UnknownOperationException

MODEL = ServiceModel(Loader().load_service_model("lambda", "service-2"), service_name="lambda")
ROUTER = Router(MODEL)


def _example_path(template: str) -> tuple[str, dict[str, list[str]]]:
    path, _, query = template.partition("?")
    for name in ("FunctionName", "Name", "UUID", "LayerName", "VersionNumber", "StatementId", "Resource",
                 "CodeSigningConfigArn", "CapacityProviderName", "DurableExecutionArn", "CallbackId", "ResourceArn"):
        path = path.replace(f"{{{name}}}", "x1").replace(f"{{{name}+}}", "x1")
    params = dict(p.split("=") for p in query.split("&") if p)
    return path, {k: [v] for k, v in params.items()}


@pytest.mark.parametrize("name", MODEL.operation_names)
def test_every_operation_routes_to_itself(name):
    operation = MODEL.operation_model(name)
    path, query = _example_path(operation.http["requestUri"])
    found, _ = ROUTER.match(operation.http["method"], path, query)
    assert found.name == name


def test_labels_are_percent_decoded():
    operation, labels = ROUTER.match(
        "GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello/configuration",
        {"Qualifier": ["%24LATEST"]})
    assert operation.name == "GetFunctionConfiguration"
    assert labels == {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:hello"}


def test_literal_query_selects_the_operation():
    assert ROUTER.match("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"List": ["ALL"]})[0].name == \
        "ListProvisionedConcurrencyConfigs"
    assert ROUTER.match("GET", "/2019-09-30/functions/f/provisioned-concurrency", {"Qualifier": ["1"]})[0].name == \
        "GetProvisionedConcurrencyConfig"
    assert ROUTER.match("GET", "/2018-10-31/layers", {"find": ["LayerVersion"], "Arn": ["a"]})[0].name == \
        "GetLayerVersionByArn"
    assert ROUTER.match("GET", "/2018-10-31/layers", {})[0].name == "ListLayers"


def test_same_path_different_methods():
    path = "/2019-09-25/functions/f/event-invoke-config"
    assert ROUTER.match("PUT", path, {})[0].name == "PutFunctionEventInvokeConfig"
    assert ROUTER.match("POST", path, {})[0].name == "UpdateFunctionEventInvokeConfig"


@pytest.mark.parametrize("method, path", [("GET", "/2015-03-31/nope"), ("PATCH", "/2015-03-31/functions"),
                                          ("GET", "/2015-03-31/functions/a/b/c/d")])
def test_unknown_routes(method, path):
    with pytest.raises(UnknownOperationException):
        ROUTER.match(method, path, {})
