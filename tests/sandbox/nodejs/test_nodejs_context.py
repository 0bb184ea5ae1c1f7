"""The context object and the per-invocation environment."""

from __future__ import annotations

import json
import time

DUMP_CONTEXT = """
exports.handler = async (event, context) => ({
    ...context,
    remaining: context.getRemainingTimeInMillis(),
    types: {
        memoryLimitInMB: typeof context.memoryLimitInMB,
        getRemainingTimeInMillis: typeof context.getRemainingTimeInMillis,
        succeed: typeof context.succeed, fail: typeof context.fail, done: typeof context.done,
    },
    has: { identity: 'identity' in context && context.identity !== undefined,
           clientContext: 'clientContext' in context && context.clientContext !== undefined },
});
"""

ARN = "arn:aws:lambda:us-east-1:000000000000:function:my-function:live"


def test_context_fields(api, start_runtime):
    start_runtime({"index.js": DUMP_CONTEXT})
    request_id = api.push(arn=ARN)
    ctx = api.result(request_id).body
    assert ctx["awsRequestId"] == request_id
    assert ctx["invokedFunctionArn"] == ARN
    assert ctx["functionName"] == "my-function"
    assert ctx["functionVersion"] == "$LATEST"
    assert ctx["memoryLimitInMB"] == "256"
    assert ctx["logGroupName"] == "/aws/lambda/my-function"
    assert ctx["logStreamName"] == "2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef"
    assert ctx["callbackWaitsForEmptyEventLoop"] is True
    assert ctx["types"] == {
        "memoryLimitInMB": "string",
        "getRemainingTimeInMillis": "function",
        "succeed": "function",
        "fail": "function",
        "done": "function",
    }
    assert ctx["has"] == {"identity": False, "clientContext": False}
    assert "tenantId" not in ctx


def test_client_context_identity_and_tenant(api, start_runtime):
    start_runtime({"index.js": DUMP_CONTEXT})
    client_context = {
        "client": {"installation_id": "i-1", "app_title": "app"},
        "custom": {"k": "v"},
        "env": {"locale": "en"},
    }
    identity = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    ctx = api.invoke(
        client_context=json.dumps(client_context), identity=json.dumps(identity), tenant_id="tenant-7"
    ).body
    assert ctx["clientContext"] == client_context
    assert ctx["identity"] == identity
    assert ctx["tenantId"] == "tenant-7"


def test_remaining_time_comes_from_the_deadline(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async (e, ctx) => ctx.getRemainingTimeInMillis();"})
    far = 10_000_000
    remaining = api.invoke(deadline_ms=int(time.time() * 1000) + far).body
    assert far - 600_000 < remaining <= far  # whatever the machine's speed
    # Past the deadline the value goes negative, as in Lambda's Node.js runtime.
    assert api.invoke(deadline_ms=int(time.time() * 1000) - 5_000).body <= -5_000


def test_remaining_time_is_per_invocation(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        let first;
        exports.handler = async (e, ctx) => { first ??= ctx; return [first.getRemainingTimeInMillis(), ctx.getRemainingTimeInMillis()]; };
    """
        }
    )
    now = int(time.time() * 1000)
    api.invoke(deadline_ms=now + 1_000_000)
    old_ctx, new_ctx = api.invoke(deadline_ms=now - 1_000_000).body
    assert old_ctx > 0 > new_ctx


def test_trace_id_is_set_per_invocation_and_unset_without_one(api, start_runtime):
    start_runtime({"index.js": "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? 'unset';"})
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    assert api.invoke(trace_id=trace).body == trace
    assert api.invoke().body == "unset"
    other = "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=0"
    assert api.invoke(trace_id=other).body == other


def test_callback_wait_flag_is_fresh_each_invocation(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        exports.handler = async (e, ctx) => { const before = ctx.callbackWaitsForEmptyEventLoop;
                                              ctx.callbackWaitsForEmptyEventLoop = false; return before; };
    """
        }
    )
    assert [api.invoke().body for _ in range(2)] == [True, True]


def test_environment_is_the_functions(api, start_runtime):
    start_runtime(
        {
            "index.js": """
        exports.handler = async () => ({ cwd: process.cwd(), root: process.env.LAMBDA_TASK_ROOT,
                                         region: process.env.AWS_REGION, custom: process.env.MY_SETTING });
    """
        },
        env={"MY_SETTING": "on"},
    )
    body = api.invoke().body
    assert body["cwd"] == body["root"]
    assert (body["region"], body["custom"]) == ("us-east-1", "on")
