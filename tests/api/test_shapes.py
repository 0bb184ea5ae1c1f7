"""Parsing, validating and serialising by the service model."""

from __future__ import annotations

import base64

import orjson
import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel

from lamina.api.shapes import parse_json_request, parse_request, serialize_response
from lamina.errors import InvalidParameterValueException, InvalidRequestContentException, ValidationException

MODEL = ServiceModel(Loader().load_service_model("lambda", "service-2"), service_name="lambda")
CREATE = MODEL.operation_model("CreateFunction")
INVOKE = MODEL.operation_model("Invoke")
LIST = MODEL.operation_model("ListFunctions")
ROLE = "arn:aws:iam::000000000000:role/r"


def create_body(**overrides) -> bytes:
    body = {"FunctionName": "f", "Role": ROLE, "Code": {"ZipFile": base64.b64encode(b"zip").decode()},
            "Runtime": "python3.12", "Handler": "app.handler", **overrides}
    return orjson.dumps(body)


def test_body_members_are_decoded_by_type():
    params = parse_request(CREATE, {}, {}, {}, create_body(MemorySize=256, Publish=True, Unknown="ignored"))
    assert params["Code"]["ZipFile"] == b"zip"
    assert params["MemorySize"] == 256
    assert params["Publish"] is True
    assert "Unknown" not in params


def test_missing_required_members_are_named():
    with pytest.raises(ValidationException) as excinfo:
        parse_request(CREATE, {}, {}, {}, b'{"FunctionName": "f"}')
    assert excinfo.value.message == (
        "2 validation errors detected: Value null at 'role' failed to satisfy constraint: Member must not be null; "
        "Value null at 'code' failed to satisfy constraint: Member must not be null")


@pytest.mark.parametrize("overrides, message", [
    ({"MemorySize": 100000}, "Value '100000' at 'memorySize' failed to satisfy constraint: "
                             "Member must have value less than or equal to 32768"),
    ({"Description": "x" * 257}, "at 'description' failed to satisfy constraint: "
                                 "Member must have length less than or equal to 256"),
    ({"Handler": "has space"}, "Value 'has space' at 'handler' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: [^\\s]+"),
    ({"Architectures": ["sparc"]}, "at 'architectures.1.member' failed to satisfy constraint: "
                                   "Member must satisfy enum value set: [x86_64, arm64]"),
])
def test_constraint_messages(overrides, message):
    with pytest.raises(ValidationException) as excinfo:
        parse_request(CREATE, {}, {}, {}, create_body(**overrides))
    assert message in excinfo.value.message


def test_patterns_match_the_whole_value():
    with pytest.raises(ValidationException):
        parse_request(CREATE, {}, {}, {}, create_body(FunctionName="ok-name but-not-this"))


@pytest.mark.parametrize("overrides", [{"MemorySize": "big"}, {"Publish": "yes"}, {"Code": []},
                                       {"Code": {"ZipFile": "%%%"}}, {"Tags": {"a": 1}}])
def test_wrong_json_types(overrides):
    with pytest.raises(InvalidRequestContentException):
        parse_request(CREATE, {}, {}, {}, create_body(**overrides))


def test_body_must_be_json():
    with pytest.raises(InvalidRequestContentException):
        parse_request(CREATE, {}, {}, {}, b"not json")


def test_uri_header_and_raw_payload():
    params = parse_request(INVOKE, {"FunctionName": "f:$LATEST"}, {"Qualifier": ["$LATEST"]},
                           {"x-amz-invocation-type": "DryRun", "x-amz-log-type": "Tail"}, b'{"a":1}')
    assert params == {"FunctionName": "f:$LATEST", "Qualifier": "$LATEST", "InvocationType": "DryRun",
                      "LogType": "Tail", "Payload": b'{"a":1}'}


def test_header_enum_is_validated():
    with pytest.raises(ValidationException):
        parse_request(INVOKE, {"FunctionName": "f"}, {}, {"x-amz-invocation-type": "Sometimes"}, b"")


def test_query_integers_are_converted_and_bounded():
    assert parse_request(LIST, {}, {"MaxItems": ["5"]}, {}, b"")["MaxItems"] == 5
    with pytest.raises(InvalidParameterValueException):
        parse_request(LIST, {}, {"MaxItems": ["five"]}, {}, b"")
    with pytest.raises(ValidationException):
        parse_request(LIST, {}, {"MaxItems": ["0"]}, {}, b"")


# Integers past 64 bits (orjson cannot render them) and past the model type's own range.
@pytest.mark.parametrize("body, message", [
    (b'"MemorySize": 1000000000000000000000', "Value '1000000000000000000000' at 'memorySize' failed to satisfy "
                                             "constraint: Member must have value less than or equal to 32768"),
    (b'"Timeout": 3000000000', "Value '3000000000' at 'timeout' failed to satisfy constraint: "
                               "Member must have value less than or equal to 2147483647"),
    # Past 64 bits JSON numbers are read as doubles: the value shown is the double's.
    (b'"Timeout": 99999999999999999999', "Value '100000000000000000000' at 'timeout' failed to satisfy constraint: "
                                         "Member must have value less than or equal to 2147483647"),
    (b'"Timeout": -3000000000', "Value '-3000000000' at 'timeout' failed to satisfy constraint: "
                                "Member must have value greater than or equal to 1"),
])
def test_huge_integers_are_range_errors(body, message):
    document = create_body()[:-1] + b"," + body + b"}"
    with pytest.raises(ValidationException) as excinfo:
        parse_request(CREATE, {}, {}, {}, document)
    assert excinfo.value.message == f"1 validation error detected: {message}"


def test_integral_doubles_in_integer_members_are_range_checked():
    with pytest.raises(ValidationException) as excinfo:
        parse_request(CREATE, {}, {}, {}, create_body(MemorySize=1e300))
    assert excinfo.value.message.endswith(
        "...' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 32768")


def test_huge_query_integers_are_range_errors():
    with pytest.raises(ValidationException) as excinfo:
        parse_request(LIST, {}, {"MaxItems": ["99999999999999999999"]}, {}, b"")
    assert excinfo.value.message == (
        "1 validation error detected: Value '99999999999999999999' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000")


@pytest.mark.parametrize("text", ["1_0", " 5", "5.0", "1" * 5000, "0x10"])
def test_query_integers_are_plain_decimals(text):
    with pytest.raises(InvalidParameterValueException):
        parse_request(LIST, {}, {"MaxItems": [text]}, {}, b"")


def test_json_protocol_longs_are_bounded_to_64_bits():
    logs = ServiceModel(Loader().load_service_model("logs", "service-2"), service_name="logs")
    body = b'{"logGroupName": "g", "logStreamName": "s", "startTime": 18446744073709551615}'
    with pytest.raises(ValidationException) as excinfo:
        parse_json_request(logs.operation_model("GetLogEvents"), body)
    assert excinfo.value.message == (
        "1 validation error detected: Value '18446744073709551615' at 'startTime' failed to satisfy constraint: "
        "Member must have value less than or equal to 9223372036854775807")


@pytest.mark.parametrize("value", [b"1e300", b"-1e300", b"18446744073709551615", b'"+99999-01-01T00:00:00Z"',
                                   b'"not a time"'])
def test_timestamps_out_of_range_are_refused(value):
    esm = MODEL.operation_model("CreateEventSourceMapping")
    body = b'{"FunctionName": "f", "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": ' + value + b"}"
    with pytest.raises(InvalidRequestContentException) as excinfo:
        parse_request(esm, {}, {}, {}, body)
    assert excinfo.value.message == "Could not parse request body into json: StartingPositionTimestamp is not a timestamp"


def test_timestamps_in_range_are_seconds():
    esm = MODEL.operation_model("CreateEventSourceMapping")
    body = b'{"FunctionName": "f", "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000.5}'
    assert parse_request(esm, {}, {}, {}, body)["StartingPositionTimestamp"] == 1700000000.5


def test_length_errors_show_lists_of_huge_integers():
    sfn = ServiceModel(Loader().load_service_model("stepfunctions", "service-2"), service_name="stepfunctions")
    # Any message will do: rendering the value must not fail.
    with pytest.raises((ValidationException, InvalidRequestContentException)):
        parse_json_request(sfn.operation_model("ListExecutions"), b'{"maxResults": 1e30}')


def test_serialize_headers_status_and_payload():
    status, headers, body = serialize_response(INVOKE, {"StatusCode": 200, "FunctionError": "Unhandled",
                                                        "ExecutedVersion": "$LATEST", "Payload": b'{"x":1}'})
    assert status == 200
    assert (b"X-Amz-Function-Error", b"Unhandled") in headers
    assert (b"X-Amz-Executed-Version", b"$LATEST") in headers
    assert body == b'{"x":1}'


def test_serialize_json_body_drops_absent_members():
    status, headers, body = serialize_response(MODEL.operation_model("GetFunctionConfiguration"),
                                               {"FunctionName": "f", "Description": None, "MemorySize": 128})
    assert status == 200
    assert orjson.loads(body) == {"FunctionName": "f", "MemorySize": 128}
    assert (b"content-type", b"application/json") in headers
