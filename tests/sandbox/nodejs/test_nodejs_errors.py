"""Errors as the caller and the platform see them: init errors, invocation errors, crashes."""

from __future__ import annotations

import pytest
from node_runtime_harness import CALLBACK_RUNTIME, PREFIX


def _only_keys(body: dict) -> list[str]:
    return sorted(body)


# --- invocation errors --------------------------------------------------------------------


def test_thrown_error_body_shape(api, start_runtime):
    runtime = start_runtime({"index.js": "exports.handler = async () => { throw new Error('boom'); };"})
    result = api.invoke()
    assert result.kind == "error"
    body = result.body
    assert _only_keys(body) == ["errorMessage", "errorType", "trace"]
    assert (body["errorType"], body["errorMessage"]) == ("Error", "boom")
    assert body["trace"][0] == "Error: boom"
    assert any("index.js" in line for line in body["trace"][1:])
    assert result.request.headers["content-type"] == "application/json"
    # An error does not end the environment: the runtime goes on to the next event.
    assert api.invoke().kind == "error"
    assert runtime.proc.poll() is None


def test_error_type_is_the_error_name(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        class PaymentDeclined extends Error { constructor(m) { super(m); this.name = 'PaymentDeclined'; } }
        exports.handler = async (e) => { if (e.kind === 'custom') throw new PaymentDeclined('card expired'); null.x; };
    """
        }
    )
    custom = api.invoke({"kind": "custom"}).body
    assert (custom["errorType"], custom["errorMessage"]) == ("PaymentDeclined", "card expired")
    builtin = api.invoke({"kind": "builtin"}).body
    assert builtin["errorType"] == "TypeError"
    assert builtin["errorMessage"].startswith("Cannot read properties of null")


def test_synchronous_throw_from_a_non_async_handler(api, start_runtime):
    start_runtime({"index.js": "exports.handler = () => { throw new RangeError('sync'); };"})
    body = api.invoke().body
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "sync")


@pytest.mark.parametrize(
    ("thrown", "error_type", "message"),
    [
        ("'just a string'", "string", "just a string"),
        ("42", "number", "42"),
        ("{ code: 7 }", "object", "[object Object]"),
    ],
)
def test_thrown_non_errors_are_reported_by_type(api, start_runtime, thrown, error_type, message):
    start_runtime({"index.js": f"exports.handler = async () => {{ throw {thrown}; }};"})
    assert api.invoke().body == {"errorType": error_type, "errorMessage": message, "trace": []}


def test_invocation_error_is_logged(api, start_runtime):
    runtime = start_runtime({"index.js": "exports.handler = async () => { throw new Error('logged'); };"})
    request_id = api.push()
    api.result(request_id)
    line = next(line for line in runtime.log_lines() if "Invoke Error" in line)
    ts, rid, level, message = line.split("\t", 3)
    assert (rid, level) == (request_id, "ERROR")
    assert message.startswith(
        'Invoke Error \t{"errorType":"Error","errorMessage":"logged","stack":["Error: logged"'
    )


# --- init errors ----------------------------------------------------------------------------


def _init_error(api, runtime):
    request = api.init_error()
    code = runtime.wait_exit()
    return request, code


def test_missing_module(api, start_runtime):
    runtime = start_runtime({"other.js": ""}, handler="index.handler")
    request, code = _init_error(api, runtime)
    assert request.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    body = request.json
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Error: Cannot find module 'index'")
    assert body["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'index'")
    assert code != 0
    assert not [r for r in api.requests if r.path.endswith("/next")], (
        "init failed: the runtime must not ask for events"
    )


def test_missing_module_in_a_nested_path(api, start_runtime):
    runtime = start_runtime({"src/other.js": ""}, handler="src/app.handler")
    request, _ = _init_error(api, runtime)
    assert request.json["errorMessage"].startswith("Error: Cannot find module 'app'")


def test_missing_dependency_of_the_handler_module(api, start_runtime):
    runtime = start_runtime(
        {"index.js": "require('left-pad-that-is-not-there'); exports.handler = async () => 1;"}
    )
    request, _ = _init_error(api, runtime)
    assert request.json["errorType"] == "Runtime.ImportModuleError"
    assert request.json["errorMessage"].startswith("Error: Cannot find module 'left-pad-that-is-not-there'")


def test_missing_import_of_an_es_module(api, start_runtime):
    runtime = start_runtime(
        {"index.mjs": "import x from 'not-installed-anywhere'; export const handler = async () => x;"}
    )
    request, _ = _init_error(api, runtime)
    assert request.json["errorType"] == "Runtime.ImportModuleError"
    assert "not-installed-anywhere" in request.json["errorMessage"]


@pytest.mark.parametrize(
    ("files", "handler", "message"),
    [
        (
            {"index.js": "exports.other = async () => 1;"},
            "index.handler",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.mjs": "export const other = 1;"},
            "index.handler",
            "index.handler is undefined or not exported",
        ),
        ({"src/app.js": "exports.a = {};"}, "src/app.a.b", "src/app.a.b is undefined or not exported"),
        (
            {"index.js": "exports.handler = 'not callable';"},
            "index.handler",
            "index.handler is not a function",
        ),
    ],
    ids=["cjs", "esm", "nested", "not-a-function"],
)
def test_handler_not_found(api, start_runtime, files, handler, message):
    runtime = start_runtime(files, handler=handler)
    request, code = _init_error(api, runtime)
    assert request.headers["lambda-runtime-function-error-type"] == "Runtime.HandlerNotFound"
    assert (request.json["errorType"], request.json["errorMessage"]) == ("Runtime.HandlerNotFound", message)
    assert code != 0


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"index.js": "exports.handler = async () => {;\n  return 1\n}}"}, "index.handler"),
        ({"index.mjs": "export const handler = async () => { return 1 }}"}, "index.handler"),
        ({"index.js": "import x from 'y';\nexports.handler = 1; }"}, "index.handler"),
    ],
    ids=["cjs", "esm", "mixed"],
)
def test_syntax_error(api, start_runtime, files, handler):
    runtime = start_runtime(files, handler=handler)
    request, code = _init_error(api, runtime)
    body = request.json
    assert request.headers["lambda-runtime-function-error-type"] == "Runtime.UserCodeSyntaxError"
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("SyntaxError: ")
    assert body["trace"][0] == f"Runtime.UserCodeSyntaxError: {body['errorMessage']}"
    assert code != 0


@pytest.mark.parametrize("handler", ["index", "index.", ".handler", "", "../escape/index.handler"])
def test_malformed_handler_name(api, start_runtime, handler):
    runtime = start_runtime({"index.js": "exports.handler = async () => 1;"}, handler=handler)
    request, code = _init_error(api, runtime)
    assert request.headers["lambda-runtime-function-error-type"] == "Runtime.MalformedHandlerName"
    assert request.json["errorType"] == "Runtime.MalformedHandlerName"
    assert request.json["errorMessage"].startswith("Bad handler")
    assert code != 0


def test_error_thrown_while_loading_keeps_its_type(api, start_runtime):
    runtime = start_runtime({"index.js": "throw new TypeError('config missing'); exports.handler = () => 1;"})
    request, code = _init_error(api, runtime)
    assert (request.json["errorType"], request.json["errorMessage"]) == ("TypeError", "config missing")
    assert request.json["trace"][0] == "TypeError: config missing"
    assert code == 129


def test_init_error_is_logged_as_an_uncaught_exception(api, start_runtime):
    runtime = start_runtime({}, handler="index.handler")
    _init_error(api, runtime)
    [line] = [line for line in runtime.log_lines() if "Uncaught Exception" in line]
    _, request_id, level, message = line.split("\t", 3)
    assert (request_id, level) == ("undefined", "ERROR")  # no invocation yet, as on Lambda
    assert message.startswith('Uncaught Exception \t{"errorType":"Runtime.ImportModuleError"')


# --- crashes --------------------------------------------------------------------------------


def test_uncaught_exception_during_an_invocation(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": """
        exports.handler = () => new Promise(() => { setTimeout(() => { throw new Error('escaped'); }, 5); });
    """
        }
    )
    result = api.invoke()
    assert result.kind == "error"
    assert (result.body["errorType"], result.body["errorMessage"]) == ("Error", "escaped")
    assert result.body["trace"][0] == "Error: escaped"
    assert runtime.wait_exit() == 129


def test_unhandled_rejection_during_an_invocation(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": """
        exports.handler = async () => { Promise.reject(new Error('nobody caught me')); await new Promise(() => {}); };
    """
        }
    )
    result = api.invoke()
    body = result.body
    assert result.kind == "error"
    assert (body["errorType"], body["errorMessage"]) == (
        "Runtime.UnhandledPromiseRejection",
        "Error: nobody caught me",
    )
    assert body["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: nobody caught me"
    assert runtime.wait_exit() == 128


def test_unhandled_rejection_with_a_non_error_reason(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": "exports.handler = async () => { Promise.reject('plain'); await new Promise(() => {}); };"
        }
    )
    body = api.invoke().body
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.UnhandledPromiseRejection", "plain")
    assert runtime.wait_exit() == 128


def test_unhandled_rejection_is_logged_with_its_reason(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": "exports.handler = async () => { Promise.reject(new Error('why')); await new Promise(() => {}); };"
        }
    )
    api.invoke()
    runtime.wait_exit()
    [line] = [line for line in runtime.log_lines() if "Unhandled Promise Rejection" in line]
    message = line.split("\t", 3)[3]
    assert message.startswith(
        'Unhandled Promise Rejection \t{"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: why"'
    )
    assert '"reason":{"errorType":"Error","errorMessage":"why"' in message


def test_crash_during_init_goes_to_init_error(api, start_runtime):
    runtime = start_runtime(
        {
            "index.mjs": """
        setTimeout(() => { throw new Error('timer during init'); }, 5);
        await new Promise((resolve) => setTimeout(resolve, 60_000));
        export const handler = async () => 1;
    """
        }
    )
    request, code = _init_error(api, runtime)
    assert (request.json["errorType"], request.json["errorMessage"]) == ("Error", "timer during init")
    assert code == 129


def test_crash_between_invocations_just_exits(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": """
        exports.handler = (e, ctx, cb) => {
            ctx.callbackWaitsForEmptyEventLoop = false;
            setTimeout(() => { throw new Error('late'); }, 50);
            cb(null, 'answered');
        };
    """
        },
        env=CALLBACK_RUNTIME,
    )
    request_id = api.push()
    assert api.result(request_id).body == "answered"
    assert runtime.wait_exit() == 129
    # The answered invocation is not reported a second time.
    assert [r.path for r in api.requests if r.method == "POST"] == [
        f"{PREFIX}/invocation/{request_id}/response"
    ]
