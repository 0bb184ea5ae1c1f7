"""What the runtime puts on the wire to the Runtime API."""

from __future__ import annotations

import base64
import json

from node_runtime_harness import PREFIX


def test_requests_share_one_keep_alive_connection(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async (e) => e.i;"})
    assert [api.invoke({"i": i}).body for i in range(10)] == list(range(10))
    api.wait_for(lambda r: r.method == "GET" and sum(q.method == "GET" for q in api.requests) == 11)
    assert len({r.client_port for r in api.requests}) == 1


def test_request_sequence(api, start_runtime):
    start_runtime(
        {"index.js": "exports.handler = async (e) => { if (e.fail) throw new Error('x'); return 1; };"}
    )
    ok, failed = api.push(), api.push({"fail": True})
    api.result(ok), api.result(failed)
    api.wait_for(lambda r: sum(q.method == "GET" for q in api.requests) == 3)
    assert api.describe() == [
        f"GET {PREFIX}/invocation/next",
        f"POST {PREFIX}/invocation/{ok}/response",
        f"GET {PREFIX}/invocation/next",
        f"POST {PREFIX}/invocation/{failed}/error",
        f"GET {PREFIX}/invocation/next",
    ]


def test_too_large_response_does_not_stop_the_runtime(api, start_runtime):
    runtime = start_runtime(
        {"index.js": "exports.handler = async (e) => e.big ? 'x'.repeat(7 * 1024 * 1024) : 'small';"}
    )
    api.response_status = 413  # RequestEntityTooLarge, as the Runtime API answers above 6 MB
    big = api.invoke({"big": True})
    assert len(big.request.body) > 7 * 1024 * 1024
    api.response_status = 202
    assert api.invoke().body == "small"
    assert runtime.proc.poll() is None


def test_unparsable_event_is_an_invocation_error(api, start_runtime):
    runtime = start_runtime({"index.js": "exports.handler = async () => 'called';"})
    body = api.invoke(raw=b"{not json").body
    assert body["errorType"] == "Runtime.UnmarshalError"
    assert api.invoke({}).body == "called"
    assert runtime.proc.poll() is None


def test_unreachable_runtime_api_exits(start_runtime):
    runtime = start_runtime(
        {"index.js": "exports.handler = async () => 1;"}, env={"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"}
    )
    assert runtime.wait_exit() == 1
    assert "ECONNREFUSED" in runtime.stderr


# --- response streaming ---------------------------------------------------------------------


def _streamed(api, request_id):
    request = api.result(request_id).request
    assert request.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert request.chunked
    return request


def test_streamed_response(api, start_runtime):
    start_runtime(
        {
            "index.mjs": """
        export const handler = awslambda.streamifyResponse(async (event, stream, context) => {
            stream.setContentType('text/plain');
            for (const part of ['a', 'b', context.functionName]) {
                stream.write(part);
                await new Promise((r) => setTimeout(r, 5));
            }
            stream.end();
        });
    """
        }
    )
    request = _streamed(api, api.push())
    assert request.headers["content-type"] == "text/plain"
    assert request.body == b"abmy-function"
    assert request.trailers == {}


def test_streamed_response_default_type_and_implicit_end(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        exports.handler = awslambda.streamifyResponse(async (event, stream) => { stream.write(JSON.stringify(event)); });
    """
        }
    )
    request = _streamed(api, api.push({"k": 1}))
    assert request.headers["content-type"] == "application/octet-stream"
    assert json.loads(request.body) == {"k": 1}


def test_http_response_stream_prelude(api, start_runtime):
    start_runtime(
        {
            "index.mjs": """
        export const handler = awslambda.streamifyResponse(async (event, stream) => {
            stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'x-a': 'b' } });
            stream.end('body');
        });
    """
        }
    )
    request = _streamed(api, api.push())
    assert request.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    prelude, body = request.body.split(b"\0" * 8, 1)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-a": "b"}}
    assert body == b"body"


def test_error_after_streaming_started_goes_in_trailers(api, start_runtime):
    runtime = start_runtime(
        {
            "index.mjs": """
        export const handler = awslambda.streamifyResponse(async (event, stream) => {
            stream.write('partial');
            await new Promise((r) => setTimeout(r, 5));
            throw new RangeError('mid-stream');
        });
    """
        }
    )
    request = _streamed(api, api.push())
    assert request.body == b"partial"
    assert request.trailers["lambda-runtime-function-error-type"] == "RangeError"
    error = json.loads(base64.b64decode(request.trailers["lambda-runtime-function-error-body"]))
    assert (error["errorType"], error["errorMessage"]) == ("RangeError", "mid-stream")
    assert runtime.proc.poll() is None


def test_error_before_streaming_started_is_a_plain_error(api, start_runtime):
    start_runtime(
        {
            "index.mjs": """
        export const handler = awslambda.streamifyResponse(async () => { throw new Error('too early'); });
    """
        }
    )
    result = api.invoke()
    assert result.kind == "error"
    assert "lambda-runtime-function-response-mode" not in result.request.headers
    assert result.body["errorMessage"] == "too early"


def test_streaming_handler_serves_several_invocations(api, start_runtime):
    start_runtime(
        {
            "index.mjs": """
        let n = 0;
        export const handler = awslambda.streamifyResponse(async (event, stream) => { stream.end(String(++n)); });
    """
        }
    )
    assert [_streamed(api, api.push()).body for _ in range(3)] == [b"1", b"2", b"3"]
