"""lamina's managed Python runtime, on every python3.X found: the handler contract, the
context object, the environment, sys.path, logs and errors as a Lambda user sees them."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import NEWEST_PYTHON, PYTHONS, Harness, arn, body, log_text

INSPECT = """
    import json, os, sys

    def handler(event, context):
        remaining = context.get_remaining_time_in_millis()
        return {
            "event": event,
            "python": "%d.%d" % sys.version_info[:2],
            "context": {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": remaining,
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client_context": None if context.client_context is None else {
                    "installation_id": context.client_context.client.installation_id,
                    "custom": context.client_context.custom, "env": context.client_context.env},
            },
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "sys_path": sys.path,
            "uid": os.getuid(),
        }
"""


@pytest.mark.parametrize("runtime", PYTHONS)
def test_handler_sees_event_context_and_environment(sandbox: Harness, runtime: str) -> None:
    spec = sandbox.function({"app.py": INSPECT}, runtime=runtime, memory_mb=256, timeout_s=7,
                            environment={"GREETING": "hello", "AWS_REGION": "eu-west-9", "TZ": ":Europe/Paris"},
                            platform_environment={"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9600",
                                                  "AWS_ACCESS_KEY_ID": "AKIDLAMINA"})
    result = sandbox.invoke(spec, {"x": [1, 2]})
    assert result.error_type is None, result.payload
    out = body(result)
    version = runtime.removeprefix("python")
    assert out["python"] == version
    assert out["event"] == {"x": [1, 2]}
    context = out["context"]
    assert context["function_name"] == spec.function_name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn(spec.function_name)
    assert context["memory_limit_in_mb"] == "256"
    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert context["log_group_name"] == f"/aws/lambda/{spec.function_name}"
    assert context["log_stream_name"] == result.log_stream
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", result.log_stream)
    assert 0 < context["remaining"] <= 7000
    assert context["identity"] == [None, None]
    assert context["client_context"] is None

    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == spec.function_name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{spec.function_name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == result.log_stream
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"  # reserved: the user's value loses
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":Europe/Paris"  # not reserved: the function's value wins
    assert env["LANG"] == "en_US.UTF-8"
    assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert env["LD_LIBRARY_PATH"].startswith("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:")
    assert env["PYTHONPATH"] == "/var/runtime"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["GREETING"] == "hello"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == "http://127.0.0.1:9600"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIDLAMINA"
    assert not [name for name in env if name.startswith("_LAMINA")]
    assert "AWS_LAMBDA_LOG_FORMAT" not in env

    assert out["cwd"] == "/var/task"
    assert out["sys_path"][:5] == ["/var/task", f"/opt/python/lib/python{version}/site-packages", "/opt/python",
                                   f"/var/lang/lib/python{version}/site-packages", "/var/runtime"]
    assert out["uid"] == 64000


def test_client_context_cognito_identity_and_trace_id(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import os
        def handler(event, context):
            cc = context.client_context
            if cc is None:
                return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
            return {"client": [cc.client.installation_id, cc.client.app_title], "custom": cc.custom, "env": cc.env,
                    "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                    "trace": os.environ.get("_X_AMZN_TRACE_ID")}
    """})
    client_context = json.dumps({"client": {"installation_id": "inst-1", "app_title": "app"},
                                 "custom": {"k": "v"}, "env": {"platform": "linux"}})
    cognito = json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    result = sandbox.invoke(spec, client_context=client_context, cognito_identity=cognito,
                            trace_id="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    assert body(result) == {"client": ["inst-1", "app"], "custom": {"k": "v"}, "env": {"platform": "linux"},
                            "identity": ["id-1", "pool-1"],
                            "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    # Without a trace header the runtime unsets the variable again.
    assert body(sandbox.invoke(spec)) == {"trace": None}


def test_print_and_logging_in_text_format(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import logging, sys
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        print("during init")
        def handler(event, context):
            print("plain print", end="")
            print(" continued")
            sys.stderr.write("to stderr\\n")
            logger.info("two\\nlines")
            logger.debug("not shown")
            return "done"
    """})
    result = sandbox.invoke(spec)
    assert body(result) == "done"
    assert [line.message for line in result.init_log][1:] == ["during init"]
    lines = [line.message for line in result.log]
    assert lines[:2] == ["plain print continued", "to stderr"]
    assert len(lines) == 3
    assert re.fullmatch(r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\ttwo\rlines", lines[2])
    assert lines[2].split("\t")[2] != ""
    assert all(line.timestamp_ms > 0 for line in result.log)


@pytest.mark.parametrize("runtime", PYTHONS)
def test_the_root_logger_is_set_up_however_logging_is_first_imported(sandbox: Harness, runtime: str) -> None:
    # The runtime sets the root logger up when `logging` is first imported; a library
    # importing it (here `logging.handlers`) finds it set up just the same, and what the
    # import system shows afterwards is what it shows for any module.
    spec = sandbox.function({"app.py": """
        import sys
        BEFORE = "logging" in sys.modules
        from logging.handlers import MemoryHandler
        import logging
        logging.basicConfig(level=logging.DEBUG)  # a no-op on Lambda: the root logger has a handler
        root = logging.getLogger()
        SEEN = {"before": BEFORE, "handlers": len(root.handlers), "level": root.level,
                "loader": type(logging.__loader__).__name__, "spec_loader": type(logging.__spec__.loader).__name__,
                "finders": [type(f).__name__ for f in sys.meta_path if "lamina" in type(f).__module__]}
        def handler(event, context):
            logging.getLogger("app").warning("from %s", "handler")
            logging.getLogger("app").info("not shown")
            return SEEN
    """}, runtime=runtime)
    result = sandbox.invoke(spec)
    assert body(result) == {"before": False, "handlers": 1, "level": 30, "loader": "SourceFileLoader",
                            "spec_loader": "SourceFileLoader", "finders": ["StdlibFirst"]}
    [line] = [line.message for line in result.log]
    assert re.fullmatch(r"\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t[0-9a-f-]{36}\tfrom handler", line)


@pytest.mark.parametrize("runtime", PYTHONS)
def test_the_runtime_imports_only_what_a_function_uses(sandbox: Harness, runtime: str) -> None:
    # What the runtime loop needs before the handler runs is loaded; what only some
    # functions use (logging, decimal, tracebacks, typing, socket, json) waits for them, unless
    # the interpreter's own start (site, .pth files) loads it anyway.
    spec = sandbox.function({"app.py": """
        import sys
        OPTIONAL = ("logging", "decimal", "traceback", "typing", "socket", "threading", "datetime", "importlib.util",
                    "json", "re", "enum")
        LOADED = [name for name in OPTIONAL if name in sys.modules]
        def handler(event, context):
            import subprocess
            from decimal import Decimal
            if event.get("fail"):
                raise ValueError("bad")
            bare = subprocess.run([sys.executable, "-c", "import sys; print(*sys.modules)"], capture_output=True,
                                  text=True, check=True).stdout.split()
            return {"added": [name for name in LOADED if name not in bare], "price": Decimal("1.50")}
    """}, runtime=runtime)
    assert body(sandbox.invoke(spec)) == {"added": [], "price": 1.5}
    failed = sandbox.invoke(spec, {"fail": True})
    assert failed.error_type == "ValueError"
    assert body(failed)["stackTrace"][0].startswith('  File "/var/task/app.py", line ')


@pytest.mark.parametrize("runtime", PYTHONS)
def test_bundled_files_do_not_shadow_the_standard_modules_the_runtime_defers(sandbox: Harness, runtime: str) -> None:
    # A stray enum.py (enum34) or typing.py (the backport) in the bundle never replaced the
    # standard modules, which the runtime used to import first; other names still resolve
    # from /var/task first, as sys.path says.
    stray = "raise ImportError('the bundled copy was imported')\n"
    spec = sandbox.function({
        "enum.py": stray, "typing.py": stray, "json/__init__.py": stray, "logging.py": stray, "colorsys.py": "",
        "app.py": """
            import colorsys, enum, json, logging, re, typing
            def handler(event, context):
                return {module.__name__: module.__file__.startswith("/var/lang/lib/python")
                        for module in (enum, json, logging, re, typing, colorsys)}
        """}, runtime=runtime)
    result = sandbox.invoke(spec)
    assert result.error_type is None, result.payload
    assert body(result) == {"enum": True, "json": True, "logging": True, "re": True, "typing": True, "colorsys": False}


@pytest.mark.parametrize("runtime", PYTHONS)
def test_logging_in_json_format_with_level(sandbox: Harness, runtime: str) -> None:
    spec = sandbox.function({"app.py": """
        import logging
        logger = logging.getLogger("mine")
        def handler(event, context):
            logger.debug("hidden")
            logger.warning("careful", extra={"order": 7})
            try:
                1 / 0
            except ZeroDivisionError:
                logger.exception("failed")
            return context.aws_request_id
    """}, runtime=runtime, log_format="JSON", application_log_level="WARN")
    result = sandbox.invoke(spec)
    request_id = body(result)
    records = [json.loads(line.message) for line in result.log]
    assert [r["message"] for r in records] == ["careful", "failed"]
    warning, error = records
    assert warning["level"] == "WARNING" and warning["logger"] == "mine" and warning["order"] == 7
    assert warning["requestId"] == request_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", warning["timestamp"])
    assert error["errorType"] == "ZeroDivisionError" and error["errorMessage"] == "division by zero"
    assert error["stackTrace"] and error["location"].startswith("/var/task/app.py:handler:")


@pytest.mark.parametrize("runtime", PYTHONS)
def test_handler_exception(sandbox: Harness, runtime: str) -> None:
    spec = sandbox.function({"app.py": """
        def helper():
            raise ValueError("boom")

        def handler(event, context):
            helper()
    """}, runtime=runtime)
    result = sandbox.invoke(spec)
    assert result.error_type == "ValueError" and result.status == "error"
    error = body(result)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "boom" and error["errorType"] == "ValueError"
    assert re.fullmatch(r"[0-9a-f-]{36}", error["requestId"])
    # format_list entries, starting in the function (3.13 adds caret lines under the code)
    assert [entry.splitlines()[:2] for entry in error["stackTrace"]] == [
        ['  File "/var/task/app.py", line 5, in handler', "    helper()"],
        ['  File "/var/task/app.py", line 2, in helper', '    raise ValueError("boom")'],
    ]
    (record,) = [line.message for line in result.log]
    assert record.startswith("[ERROR] ValueError: boom\rTraceback (most recent call last):\r")
    assert "\u00a0\u00a0File \"/var/task/app.py\", line 5, in handler\r" in record
    # A function error does not reset the environment.
    assert sandbox.invoke(spec).log_stream == result.log_stream


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"app.py": "x = 1\n"}, "missing.handler", "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'missing'"),
    ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'app'"),
    ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': "),
    ({"app.py": "x = 1\n"}, "nodot", "Runtime.MalformedHandlerName", "Bad handler 'nodot': "),
    ({"app.py": "import nosuchdependency\n"}, "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'nosuchdependency'"),
])
def test_init_errors(sandbox: Harness, files: dict[str, str], handler: str, error_type: str, message: str) -> None:
    spec = sandbox.function(files, handler=handler)
    result = sandbox.invoke(spec)
    assert result.error_type == error_type and result.status == "error"
    error = body(result)
    assert error["errorType"] == error_type and error["errorMessage"].startswith(message)
    assert error["requestId"] == ""
    assert result.init_duration_ms is None
    messages = log_text(result)
    assert messages[0].startswith("INIT_START Runtime Version: python:")
    reports = [m for m in messages if m.startswith("INIT_REPORT")]
    assert len(reports) == 2
    assert re.fullmatch(rf"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: {error_type}",
                        reports[0])
    assert re.fullmatch(rf"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: invoke\tStatus: error\tError Type: {error_type}",
                        reports[1])
    assert sum(m.startswith(f"[ERROR] {error_type}: {message}") for m in messages) == 2


def test_handler_in_a_subdirectory_module_path(sandbox: Harness) -> None:
    spec = sandbox.function({"src/pkg/mod.py": "def go(event, context):\n    return 'deep'\n"},
                            handler="src/pkg/mod.go")
    assert body(sandbox.invoke(spec)) == "deep"


def test_results_are_encoded_like_lambda(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        from decimal import Decimal
        def handler(event, context):
            kind = event["kind"]
            if kind == "bytes":
                return b"\\x00raw"
            if kind == "decimal":
                return {"price": Decimal("10.10"), "n": [Decimal("1e3")]}
            if kind == "unicode":
                return {"text": "żółw ✓"}
            if kind == "set":
                return {1, 2}
            return None
    """})
    raw = sandbox.invoke(spec, {"kind": "bytes"})
    assert raw.payload == b"\x00raw" and raw.content_type == "application/unknown"
    assert sandbox.invoke(spec, {"kind": "decimal"}).payload == b'{"price": 10.10, "n": [1E+3]}'
    unicode = sandbox.invoke(spec, {"kind": "unicode"}).payload
    newer = tuple(map(int, NEWEST_PYTHON.removeprefix("python").split("."))) >= (3, 12)
    expected = '{"text": "żółw ✓"}'.encode() if newer else b'{"text": "\\u017c\\u00f3\\u0142w \\u2713"}'
    assert unicode == expected
    assert sandbox.invoke(spec, {"kind": "none"}).payload == b"null"
    marshal = sandbox.invoke(spec, {"kind": "set"})
    assert marshal.error_type == "Runtime.MarshalError"
    assert body(marshal)["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"


def test_non_json_event_is_an_unmarshal_error_and_other_types_pass_raw(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": "def handler(event, context):\n    return repr(event)\n"})
    bad = sandbox.invoke(spec, payload=b"{not json")
    assert bad.error_type == "Runtime.UnmarshalError"
    assert body(bad)["errorMessage"].startswith("Unable to unmarshal input: ")
    assert body(sandbox.invoke(spec, payload=b"abc", content_type="text/plain")) == "b'abc'"


def test_boto3_is_importable_without_bundling_it(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import boto3, botocore, importlib.metadata
        def handler(event, context):
            client = boto3.client("lambda", region_name="us-east-1")
            return {"boto3": boto3.__file__, "version": importlib.metadata.version("boto3"),
                    "endpoint": client.meta.endpoint_url}
    """}, platform_environment={"AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9600"})
    result = sandbox.invoke(spec)
    assert result.error_type is None, result.payload
    out = body(result)
    assert out["boto3"] == "/var/runtime/boto3/__init__.py"
    assert out["version"]
    assert out["endpoint"] == "http://127.0.0.1:9600"


def test_exec_wrapper_and_python_variables_start_a_fresh_interpreter(sandbox: Harness) -> None:
    spec = sandbox.function({
        "app.py": "import os, sys\ndef handler(e, c):\n    return [os.environ.get('WRAPPED'), sys.flags.optimize]\n",
        "wrapper": "#!/bin/sh\nexport WRAPPED=yes\nexec \"$@\"\n",
    }, executable=("wrapper",), environment={"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper", "PYTHONOPTIMIZE": "1"})
    assert body(sandbox.invoke(spec)) == ["yes", 1]


def test_layers_are_merged_into_opt_in_order(sandbox: Harness) -> None:
    spec = sandbox.function(
        {"app.py": """
            import shared, os
            def handler(event, context):
                return [shared.ORIGIN, open("/opt/only-first.txt").read(), sorted(os.listdir("/opt"))]
        """},
        layers=[{"python/shared.py": "ORIGIN = 'first'\n", "only-first.txt": "1"},
                {"python/shared.py": "ORIGIN = 'second'\n"}])
    assert body(sandbox.invoke(spec)) == ["second", "1", ["only-first.txt", "python"]]
