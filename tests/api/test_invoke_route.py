"""Which Invoke requests the fast path takes, and that it reads them as the generic parser does."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from lamina.api.invoke_route import InvokeRoute
from lamina.api.routing import Router
from lamina.api.shapes import parse_request
from lamina.server import load_service_model

MODEL = load_service_model("lambda")
INVOKE = MODEL.operation_model("Invoke")
ROUTER = Router(MODEL)
ROUTE = InvokeRoute(INVOKE, handler=None)  # type: ignore[arg-type]  # only matched here
ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"

TAKEN = [
    ("/2015-03-31/functions/f/invocations", "", {}),
    ("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations", "", {}),
    (f"/2015-03-31/functions/{ARN}:live/invocations", "", {}),
    ("/2015-03-31/functions/000000000000%3Afunction%3Af/invocations", "Qualifier=%24LATEST", {}),
    ("/2015-03-31/functions/f%3A%24LATEST/invocations", "Qualifier=$LATEST", {}),
    ("/2015-03-31/functions/" + "n" * 64 + "/invocations", "Qualifier=" + "q" * 128, {}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-invocation-type": "Event", "x-amz-log-type": "Tail",
                                                 "x-amz-client-context": "anything", "content-type": "x/y"}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-invocation-type": "DryRun", "x-amz-log-type": "None"}),
]

LEFT = [
    ("/2015-03-31/functions/f.g/invocations", "", {}),  # valid by the model, not a plain name
    ("/2015-03-31/functions/" + "n" * 65 + "/invocations", "", {}),
    ("/2015-03-31/functions/f%2Fg/invocations", "", {}),
    ("/2015-03-31/functions//invocations", "", {}),
    ("/2015-03-31/functions/f/invocations/", "", {}),
    ("/2015-03-31/functions/arn%3Aaws-cn%3Alambda%3Acn-north-1%3A000000000000%3Afunction%3Af/invocations", "", {}),
    ("/2015-03-31/functions/f/invocations", "Qualifier=", {}),
    ("/2015-03-31/functions/f/invocations", "Qualifier=a+b", {}),
    ("/2015-03-31/functions/f/invocations", "Qualifier=l%69ve", {}),
    ("/2015-03-31/functions/f/invocations", "Qualifier=1&Qualifier=2", {}),
    ("/2015-03-31/functions/f/invocations", "Other=1", {}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-invocation-type": "event"}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-invocation-type": ""}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-log-type": "Bogus"}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-tenant-id": "t"}),
    ("/2015-03-31/functions/f/invocations", "", {"x-amz-durable-execution-name": "d"}),
]


@pytest.mark.parametrize("path, query, headers", TAKEN)
def test_plain_invokes_are_read_as_the_generic_parser_reads_them(path, query, headers):
    params = ROUTE.match("POST", path, query, headers)
    assert params is not None
    operation, labels = ROUTER.match("POST", path, parse_qs(query, keep_blank_values=True))
    assert operation.name == "Invoke"
    assert parse_request(operation, labels, parse_qs(query, keep_blank_values=True), headers, b"") == params


@pytest.mark.parametrize("path, query, headers", LEFT)
def test_anything_else_is_left_to_the_generic_path(path, query, headers):
    assert ROUTE.match("POST", path, query, headers) is None


def test_only_post_is_taken():
    assert ROUTE.match("GET", "/2015-03-31/functions/f/invocations", "", {}) is None
    assert ROUTE.match("POST", "/2015-03-31/functions/f/configuration", "", {}) is None
