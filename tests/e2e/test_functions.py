"""The function lifecycle API through boto3, as a user drives it."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests
from botocore.exceptions import ClientError, WaiterError

from helpers import PYTHON_HELLO, ROLE, create_python_function, make_zip


def error_of(excinfo) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_create_function_returns_aws_shaped_configuration(client):
    created = client.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE,
                                     Handler="app.handler", Code={"ZipFile": PYTHON_HELLO})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["ResponseMetadata"]["RequestId"]
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:hello"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(PYTHON_HELLO).digest()).decode()
    assert created["CodeSize"] == len(PYTHON_HELLO)
    assert created["Version"] == "$LATEST"
    assert (created["MemorySize"], created["Timeout"], created["EphemeralStorage"]) == (128, 3, {"Size": 512})
    assert created["Architectures"] == ["x86_64"]
    assert created["PackageType"] == "Zip"
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/hello"}
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["LastModified"].endswith("+0000")
    client.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 0.1})
    configuration = client.get_function_configuration(FunctionName="hello")
    assert configuration["State"] == "Active"
    assert configuration["LastUpdateStatus"] == "Successful"
    assert "StateReason" not in configuration


def test_get_function_code_location_downloads_the_exact_zip(client):
    create_python_function(client, Tags={"team": "core"})
    function = client.get_function(FunctionName="hello")
    assert function["Code"]["RepositoryType"] == "S3"
    assert requests.get(function["Code"]["Location"], timeout=10).content == PYTHON_HELLO
    assert function["Tags"] == {"team": "core"}
    assert function["Configuration"]["FunctionName"] == "hello"


def test_code_location_refuses_a_tampered_signature(client):
    create_python_function(client)
    location = client.get_function(FunctionName="hello")["Code"]["Location"]
    tampered = location[:-4] + ("0000" if not location.endswith("0000") else "1111")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_function_can_be_named_by_arn_partial_arn_and_latest_qualifier(client):
    create_python_function(client)
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    for name in (arn, "000000000000:function:hello", "hello:$LATEST", f"{arn}:$LATEST"):
        assert client.get_function_configuration(FunctionName=name)["FunctionName"] == "hello"
    qualified = client.get_function(FunctionName="hello", Qualifier="$LATEST")["Configuration"]
    assert qualified["FunctionArn"] == f"{arn}:$LATEST"


def test_missing_function_is_resource_not_found(client):
    with pytest.raises(ClientError) as excinfo:
        client.get_function(FunctionName="nope")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert "arn:aws:lambda:us-east-1:000000000000:function:nope" in message
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_function(FunctionName="nope")


def test_duplicate_name_conflicts(client):
    create_python_function(client)
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, wait=False)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


@pytest.mark.parametrize("extra, fragment", [
    ({"MemorySize": 64}, "Member must have value greater than or equal to 128"),
    ({"MemorySize": 20480}, "Member must have value less than or equal to 10240"),
    ({"Timeout": 901}, "Member must have value less than or equal to 900"),
    ({"Timeout": 0}, "Member must have value greater than or equal to 1"),
    ({"EphemeralStorage": {"Size": 100}}, "at 'ephemeralStorage.size'"),
    ({"FunctionName": "bad name!"}, "Member must satisfy regular expression pattern"),
    ({"FunctionName": "x" * 65}, "Invalid function name"),
    ({"Runtime": "cobol85"}, "Member must satisfy enum value set"),
    ({"Role": "not-a-role"}, "at 'role' failed to satisfy constraint"),
])
def test_validation_errors(raw_client, extra, fragment):
    client = raw_client
    params = {"FunctionName": "hello", "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
              "Code": {"ZipFile": PYTHON_HELLO}, **extra}
    with pytest.raises(ClientError) as excinfo:
        client.create_function(**params)
    code, status, message = error_of(excinfo)
    assert status == 400
    assert code in ("ValidationException", "InvalidParameterValueException")
    assert fragment in message
    assert client.list_functions()["Functions"] == []


def test_validation_message_counts_every_problem(raw_client):
    client = raw_client
    with pytest.raises(ClientError) as excinfo:
        client.create_function(FunctionName="hello", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": PYTHON_HELLO}, MemorySize=1, Timeout=0)
    code, _, message = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("2 validation errors detected: ")


@pytest.mark.parametrize("variables, fragment", [
    ({"AWS_REGION": "x"}, "Reserved keys used in this request: AWS_REGION"),
    ({"BIG": "x" * 5000}, "exceeded the 4KB limit"),
])
def test_environment_rules(client, variables, fragment):
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, wait=False, Environment={"Variables": variables})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert fragment in message


def test_environment_variable_names_follow_the_model(raw_client):
    client = raw_client
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, wait=False, Environment={"Variables": {"1bad": "x"}})
    assert error_of(excinfo)[0] == "ValidationException"


def test_invalid_zip_is_refused(client):
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, zip_bytes=b"this is not a zip", wait=False)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "Could not unzip uploaded file" in message


def test_zip_escaping_its_root_is_refused(client):
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, zip_bytes=make_zip({"../evil.py": "x = 1"}), wait=False)
    assert error_of(excinfo)[0] == "InvalidParameterValueException"


def test_unzipped_size_limit(client):
    bomb = make_zip({"zeros.bin": b"\0" * (262_144_000 + 1)})
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, zip_bytes=bomb, wait=False)
    code, _, message = error_of(excinfo)
    assert code == "InvalidParameterValueException"
    assert "Unzipped size must be smaller than 262144000 bytes" in message


def test_deprecated_runtime_cannot_be_created(client):
    with pytest.raises(ClientError) as excinfo:
        create_python_function(client, wait=False, Runtime="python3.8")
    code, _, message = error_of(excinfo)
    assert code == "InvalidParameterValueException"
    assert "python3.8 is no longer supported" in message


def test_runtime_missing_on_this_machine_fails_the_function(client):
    client.create_function(FunctionName="future", Runtime="java25", Role=ROLE, Handler="a.B::handle",
                           Code={"ZipFile": PYTHON_HELLO})
    with pytest.raises(WaiterError):
        client.get_waiter("function_active_v2").wait(FunctionName="future",
                                                     WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    configuration = client.get_function_configuration(FunctionName="future")
    assert configuration["State"] == "Failed"
    assert configuration["StateReasonCode"] == "InvalidRuntime"
    assert "java25" in configuration["StateReason"]
    assert "python3.11" in configuration["StateReason"]


def test_list_functions_paginates(client):
    names = [f"fn-{i:03d}" for i in range(60)]
    for name in names:
        create_python_function(client, name, wait=False)
    first = client.list_functions(MaxItems=7)
    assert [f["FunctionName"] for f in first["Functions"]] == names[:7]
    assert "NextMarker" in first
    assert "State" not in first["Functions"][0]
    default_page = client.list_functions()
    assert len(default_page["Functions"]) == 50
    listed = [f["FunctionName"] for page in client.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 13}) for f in page["Functions"]]
    assert listed == names


def test_update_function_code_changes_sha_and_revision(client):
    created = create_python_function(client)
    new_zip = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    updated = client.update_function_code(FunctionName="hello", ZipFile=new_zip)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert updated["RevisionId"] != created["RevisionId"]
    client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 0.1})
    function = client.get_function(FunctionName="hello")
    assert function["Configuration"]["LastUpdateStatus"] == "Successful"
    assert requests.get(function["Code"]["Location"], timeout=10).content == new_zip


def test_update_function_code_dry_run_changes_nothing(client):
    created = create_python_function(client)
    new_zip = make_zip({"app.py": "x = 1\n"})
    preview = client.update_function_code(FunctionName="hello", ZipFile=new_zip, DryRun=True)
    assert preview["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert client.get_function_configuration(FunctionName="hello")["CodeSha256"] == created["CodeSha256"]


def test_update_function_configuration(client):
    create_python_function(client)
    updated = client.update_function_configuration(
        FunctionName="hello", MemorySize=512, Timeout=30, Description="d",
        Environment={"Variables": {"APP_MODE": "1"}}, LoggingConfig={"LogFormat": "JSON"})
    assert (updated["MemorySize"], updated["Timeout"], updated["Description"]) == (512, 30, "d")
    assert updated["Environment"] == {"Variables": {"APP_MODE": "1"}}
    assert updated["LoggingConfig"]["LogFormat"] == "JSON"
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 0.1})
    configuration = client.get_function_configuration(FunctionName="hello")
    assert configuration["MemorySize"] == 512
    assert configuration["Handler"] == "app.handler"


def test_revision_id_guards_updates(client):
    created = create_python_function(client)
    with pytest.raises(ClientError) as excinfo:
        client.update_function_configuration(FunctionName="hello", Timeout=10, RevisionId="wrong")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    updated = client.update_function_configuration(FunctionName="hello", Timeout=10,
                                                   RevisionId=created["RevisionId"])
    assert updated["Timeout"] == 10


def test_update_while_in_progress_conflicts(client):
    create_python_function(client)
    client.update_function_configuration(FunctionName="hello", Timeout=10)
    statuses = []
    for _ in range(3):
        try:
            client.update_function_configuration(FunctionName="hello", Timeout=11)
            statuses.append("accepted")
            break
        except ClientError as e:
            statuses.append(e.response["Error"]["Code"])
            assert "An update is in progress" in e.response["Error"]["Message"]
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
            client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 0.1})
    assert statuses[-1] == "accepted"


def test_update_to_an_unavailable_runtime_fails_the_update_not_the_function(client):
    create_python_function(client)
    client.update_function_configuration(FunctionName="hello", Runtime="ruby3.4")
    with pytest.raises(WaiterError):
        client.get_waiter("function_updated_v2").wait(FunctionName="hello",
                                                      WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    configuration = client.get_function_configuration(FunctionName="hello")
    assert configuration["State"] == "Active"
    assert configuration["LastUpdateStatus"] == "Failed"
    assert configuration["LastUpdateStatusReasonCode"] == "InvalidRuntime"


def test_delete_function(client):
    create_python_function(client)
    deleted = client.delete_function(FunctionName="hello")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="hello")
    create_python_function(client)  # the name is free again


def test_tags(client):
    arn = create_python_function(client)["FunctionArn"]
    client.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    assert client.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2"}
    client.untag_resource(Resource=arn, TagKeys=["a"])
    assert client.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as excinfo:
        client.tag_resource(Resource=arn, Tags={"aws:x": "1"})
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as excinfo:
        client.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(50)})
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as excinfo:
        client.list_tags(Resource=f"{arn}:$LATEST")
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_tags(Resource=arn.replace("hello", "nope"))


def test_account_settings(client):
    create_python_function(client, "one", wait=False)
    create_python_function(client, "two", wait=False)
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52_428_800
    assert settings["AccountUsage"]["FunctionCount"] == 2
    assert settings["AccountUsage"]["TotalCodeSize"] == 2 * len(PYTHON_HELLO)


def test_unimplemented_operation_names_itself(client):
    with pytest.raises(ClientError) as excinfo:
        client.list_code_signing_configs()
    code, status, message = error_of(excinfo)
    assert status == 501
    assert "ListCodeSigningConfigs" in message


def test_unknown_path_answers_json_error(lam):
    response = requests.get(f"{lam.endpoint}/2015-03-31/nothing-here", timeout=10)
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert response.headers["x-amzn-RequestId"]
    assert "message" in response.json()


def test_malformed_json_body(lam):
    response = requests.post(f"{lam.endpoint}/2015-03-31/functions", data=b"{not json", timeout=10)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"


def test_wrong_json_type(lam):
    response = requests.post(f"{lam.endpoint}/2015-03-31/functions", timeout=10,
                             json={"FunctionName": "x", "Role": ROLE, "Code": {}, "MemorySize": "lots"})
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"


def test_no_content_responses_carry_no_body(lam):
    """A 204 with a body would corrupt the next response on a kept-alive connection."""
    client = lam.client()
    create_python_function(client, "gone", wait=False)
    import http.client
    connection = http.client.HTTPConnection("127.0.0.1", lam.port)
    connection.request("DELETE", "/2015-03-31/functions/gone")
    response = connection.getresponse()
    assert response.status in (200, 204)
    response.read()
    connection.request("GET", "/2015-03-31/functions")
    followup = connection.getresponse()
    assert followup.status == 200
    assert followup.read() == b'{"Functions":[]}'


def test_unused_code_packages_are_removed_after_a_stream_of_updates(client, lam):
    """The clean-up of unused packages runs off the request path, once for a burst of updates."""
    blobs = lam.data_dir / "blobs"
    create_python_function(client, "churn", zip_bytes=make_zip({"app.py": "def handler(e, c):\n    return 0\n"}))
    for n in range(1, 21):
        client.get_waiter("function_updated_v2").wait(FunctionName="churn", WaiterConfig={"Delay": 0.1})
        client.update_function_code(FunctionName="churn",
                                    ZipFile=make_zip({"app.py": f"def handler(e, c):\n    return {n}\n"}))
    client.get_waiter("function_updated_v2").wait(FunctionName="churn", WaiterConfig={"Delay": 0.1})
    assert client.invoke(FunctionName="churn")["Payload"].read() == b"20"
    deadline = time.time() + 15
    while time.time() < deadline and len(list(blobs.iterdir())) != 1:
        time.sleep(0.2)
    [kept] = list(blobs.iterdir())  # only the package the function runs
    client.delete_function(FunctionName="churn")
    deadline = time.time() + 15
    while time.time() < deadline and kept.exists():
        time.sleep(0.2)
    assert not kept.exists()
