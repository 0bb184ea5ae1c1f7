"""Numbers no model type holds get the API's 400, never a 500 (issue 10, item 5)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from helpers import PYTHON_HELLO, ROLE


def error_of(call, **params) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    response = excinfo.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_create_function_with_a_memory_size_past_64_bits(raw_client, lam):
    assert error_of(raw_client.create_function, FunctionName="huge", Runtime="python3.11", Role=ROLE,
                    Handler="app.handler", Code={"ZipFile": PYTHON_HELLO}, MemorySize=10**21) == (
        400, "ValidationException",
        "1 validation error detected: Value '1000000000000000000000' at 'memorySize' failed to satisfy constraint: "
        "Member must have value less than or equal to 32768")
    assert "Traceback" not in lam.log_path.read_text()


def test_list_functions_with_max_items_past_64_bits(raw_client, lam):
    assert error_of(raw_client.list_functions, MaxItems=99999999999999999999) == (
        400, "ValidationException",
        "1 validation error detected: Value '99999999999999999999' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000")


def test_json_protocols_bound_longs_and_integers(lam):
    logs = lam.client("logs", validate=False)
    status, code, message = error_of(logs.get_log_events, logGroupName="g", logStreamName="s",
                                     startTime=2**64 - 1)
    assert (status, code) == (400, "ValidationException")
    assert message.endswith("at 'startTime' failed to satisfy constraint: "
                            "Member must have value less than or equal to 9223372036854775807")
    states = lam.client("stepfunctions", validate=False)
    status, code, message = error_of(states.list_state_machines, maxResults=10**30)
    assert (status, code) == (400, "ValidationException")
    assert "at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000" in message
    assert "Traceback" not in lam.log_path.read_text()
