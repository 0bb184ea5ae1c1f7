"""Finding the handler and ending an invocation the ways Lambda's Node.js runtime allows."""

from __future__ import annotations

import pytest
from node_runtime_harness import CALLBACK_RUNTIME

ECHO_CJS = "exports.handler = async (event) => ({ got: event, kind: 'cjs' });"
ECHO_ESM = "export const handler = async (event) => ({ got: event, kind: 'esm' });"


@pytest.mark.parametrize(
    ("files", "handler", "kind"),
    [
        ({"index.js": ECHO_CJS}, "index.handler", "cjs"),
        ({"index.cjs": ECHO_CJS}, "index.handler", "cjs"),
        ({"index.mjs": ECHO_ESM}, "index.handler", "esm"),
        # "type": "module" makes a .js file an ES module
        ({"index.js": ECHO_ESM, "package.json": '{"type": "module"}'}, "index.handler", "esm"),
        ({"src/lib/app.js": ECHO_CJS}, "src/lib/app.handler", "cjs"),
        ({"src/app.mjs": ECHO_ESM}, "src/app.handler", "esm"),
    ],
    ids=["js-commonjs", "cjs", "mjs", "js-type-module", "nested-dir-cjs", "nested-dir-esm"],
)
def test_module_kinds_and_paths(api, start_runtime, files, handler, kind):
    start_runtime(files, handler=handler)
    result = api.invoke({"n": 1})
    assert (result.kind, result.body) == ("response", {"got": {"n": 1}, "kind": kind})


def test_js_is_preferred_over_mjs_and_cjs(api, start_runtime):
    start_runtime(
        {
            "index.js": "exports.handler = async () => 'js';",
            "index.mjs": "export const handler = async () => 'mjs';",
            "index.cjs": "exports.handler = async () => 'cjs';",
        }
    )
    assert api.invoke().body == "js"


def test_nested_export_name(api, start_runtime):
    start_runtime(
        {"index.js": "exports.api = { v1: { get: async () => 'nested' } };"}, handler="index.api.v1.get"
    )
    assert api.invoke().body == "nested"


def test_esm_top_level_await_runs_before_first_event(api, start_runtime):
    start_runtime(
        {
            "index.mjs": """
        const config = await new Promise((resolve) => setTimeout(() => resolve({ ready: true }), 50));
        export const handler = async () => config;
    """
        }
    )
    assert api.invoke().body == {"ready": True}


def test_handler_module_found_through_node_path(api, start_runtime, tmp_path):
    layer = tmp_path / "opt" / "nodejs" / "node_modules"
    (layer / "shared").mkdir(parents=True)
    (layer / "shared" / "index.js").write_text("exports.handler = async () => 'from a layer';")
    start_runtime({}, handler="shared.handler", env={"NODE_PATH": str(layer)})
    assert api.invoke().body == "from a layer"


def test_user_code_requires_packages_through_node_path(api, start_runtime, tmp_path):
    layer = tmp_path / "layer" / "node_modules"
    (layer / "greeter").mkdir(parents=True)
    (layer / "greeter" / "index.js").write_text("exports.greet = (n) => `hello ${n}`;")
    start_runtime(
        {"index.js": "const { greet } = require('greeter'); exports.handler = async (e) => greet(e.name);"},
        env={"NODE_PATH": str(layer)},
    )
    assert api.invoke({"name": "ada"}).body == "hello ada"


def test_async_handler_result_is_json(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async () => ({ a: [1, 'two', null], b: true });"})
    result = api.invoke()
    assert result.request.headers["content-type"] == "application/json"
    assert result.body == {"a": [1, "two", None], "b": True}


def test_returning_undefined_sends_null(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async () => undefined;"})
    result = api.invoke()
    assert (result.kind, result.request.body) == ("response", b"null")


def test_handler_returning_a_plain_promise(api, start_runtime):
    start_runtime(
        {"index.js": "exports.handler = (e) => new Promise((r) => setTimeout(() => r(e.v * 2), 10));"}
    )
    assert api.invoke({"v": 21}).body == 42


def test_event_is_parsed_json_of_any_shape(api, start_runtime):
    start_runtime(
        {"index.js": "exports.handler = async (e) => ({ type: Array.isArray(e) ? 'array' : typeof e, e });"}
    )
    assert api.invoke([1, 2]).body == {"type": "array", "e": [1, 2]}
    assert api.invoke("text").body == {"type": "string", "e": "text"}


def test_unserialisable_result_is_an_error(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async () => { const o = {}; o.self = o; return o; };"})
    result = api.invoke()
    assert result.kind == "error"
    assert result.body["errorType"] == "Runtime.JSONStringifyError"
    assert result.body["errorMessage"] == "Unable to stringify response body"


def test_state_survives_between_invocations(api, start_runtime):
    runtime = start_runtime(
        {
            "index.js": """
        let count = 0;
        globalThis.initRuns = (globalThis.initRuns || 0) + 1;
        exports.handler = async () => ({ count: ++count, initRuns: globalThis.initRuns });
    """
        }
    )
    bodies = [api.invoke().body for _ in range(5)]
    assert bodies == [{"count": n, "initRuns": 1} for n in range(1, 6)]
    assert runtime.proc.poll() is None


# --- callback-style handlers (nodejs22.x and earlier) ---------------------------------------


def test_callback_result(api, start_runtime):
    start_runtime(
        {
            "index.js": "exports.handler = (e, ctx, cb) => { setTimeout(() => cb(null, { sum: e.a + e.b }), 5); };"
        },
        env=CALLBACK_RUNTIME,
    )
    assert api.invoke({"a": 2, "b": 3}).body == {"sum": 5}


def test_callback_error(api, start_runtime):
    start_runtime(
        {"index.js": "exports.handler = (e, ctx, cb) => cb(new TypeError('bad input'));"},
        env=CALLBACK_RUNTIME,
    )
    result = api.invoke()
    assert result.kind == "error"
    assert (result.body["errorType"], result.body["errorMessage"]) == ("TypeError", "bad input")


def test_callback_waits_for_the_event_loop_to_drain(api, start_runtime):
    # The result is serialised when it is sent: a timer that runs first shows in it.
    start_runtime(
        {
            "index.js": """
        exports.handler = (e, ctx, cb) => {
            const result = { timerRan: false };
            cb(null, result);
            setTimeout(() => { result.timerRan = true; }, 20);
        };
    """
        },
        env=CALLBACK_RUNTIME,
    )
    assert api.invoke().body == {"timerRan": True}


def test_callback_does_not_wait_when_told_not_to(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        exports.handler = (e, ctx, cb) => {
            ctx.callbackWaitsForEmptyEventLoop = false;
            const result = { timerRan: false };
            cb(null, result);
            setTimeout(() => { result.timerRan = true; }, 20);
        };
    """
        },
        env=CALLBACK_RUNTIME,
    )
    assert api.invoke().body == {"timerRan": False}


def test_only_the_first_callback_counts(api, start_runtime):
    start_runtime(
        {
            "index.js": "exports.handler = (e, ctx, cb) => { cb(null, 'first'); cb(null, 'second'); cb(new Error('x')); };"
        },
        env=CALLBACK_RUNTIME,
    )
    assert api.invoke().body == "first"
    assert api.invoke().body == "first"  # and nothing leaked into the next invocation


def test_sync_handler_without_callback_sends_null_once_the_loop_drains(api, start_runtime):
    start_runtime({"index.js": "exports.handler = (e, ctx, cb) => 42;"}, env=CALLBACK_RUNTIME)
    result = api.invoke()
    assert (result.kind, result.request.body) == ("response", b"null")


@pytest.mark.parametrize(
    ("call", "kind", "body"),
    [
        ("ctx.succeed(result)", "response", {"timerRan": False}),
        ("ctx.done(null, result)", "response", {"timerRan": False}),
        ("ctx.done(new RangeError('nope'))", "error", ("RangeError", "nope")),
        ("ctx.fail(new Error('failed'))", "error", ("Error", "failed")),
        ("ctx.fail()", "error", ("string", "handled")),
    ],
)
def test_context_methods_end_the_invocation_at_once(api, start_runtime, call, kind, body):
    start_runtime(
        {
            "index.js": f"""
        exports.handler = (e, ctx) => {{
            const result = {{ timerRan: false }};
            {call};
            setTimeout(() => {{ result.timerRan = true; }}, 20);
        }};
    """
        },
        env=CALLBACK_RUNTIME,
    )
    result = api.invoke()
    assert result.kind == kind
    if kind == "response":
        assert result.body == body
    else:
        assert (result.body["errorType"], result.body["errorMessage"]) == body


def test_context_succeed_from_async_handler(api, start_runtime):
    start_runtime(
        {
            "index.js": "exports.handler = async (e, ctx) => { ctx.succeed('early'); await new Promise(() => {}); };"
        }
    )
    assert api.invoke().body == "early"


def test_callback_handlers_are_refused_from_nodejs24(api, start_runtime):
    runtime = start_runtime(
        {"index.js": "exports.handler = async (event, context, callback) => 'never';"},
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"},
    )
    body = api.init_error().json
    assert body["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert body["errorMessage"].startswith(
        "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24."
    )
    assert runtime.wait_exit() != 0


def test_two_argument_handlers_still_work_on_nodejs24(api, start_runtime):
    start_runtime(
        {"index.js": "exports.handler = async (event, context) => context.functionName;"},
        env={"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"},
    )
    assert api.invoke().body == "my-function"
