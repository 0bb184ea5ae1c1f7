"""Which body limit and which AWS error a request head gets."""

from __future__ import annotations

from lamina.api.request_limits import json_service_limit, lambda_limit


def test_invoke_limits_follow_the_invocation_type():
    sync = lambda_limit("Invoke", {})
    assert sync.max_bytes == 6_291_455
    assert sync.error(7_000_000).message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert lambda_limit("Invoke", {"x-amz-invocation-type": "DryRun"}) is sync
    event = lambda_limit("Invoke", {"x-amz-invocation-type": "Event"})
    assert event.max_bytes == 1_048_576
    assert event.error(2_000_000).message == (
        "2000000 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
    assert event.error(1).code == "RequestEntityTooLargeException" and event.error(1).status == 413


def test_other_lambda_operations_take_a_base64_zip():
    limit = lambda_limit("CreateFunction", {})
    assert limit.max_bytes == 69_905_066
    assert limit.error(70_000_000).message == (
        "Request must be smaller than 69905067 bytes for the CreateFunction operation")


def test_json_services_by_target():
    assert json_service_limit("AWSStepFunctions.StartExecution").error(2 << 20).message == (
        "Request must be smaller than 1048576 bytes for the StartExecution operation")
    assert json_service_limit("Logs_20140328.PutLogEvents").max_bytes > 6 << 20
