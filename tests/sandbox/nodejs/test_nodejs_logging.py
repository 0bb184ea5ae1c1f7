"""console.* output in Lambda's text and JSON formats."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

ALL_LEVELS = """
exports.handler = async () => {
    console.trace('t'); console.debug('d'); console.info('i'); console.log('l');
    console.warn('w'); console.error('e'); console.fatal('f');
    return 'ok';
};
"""


def _run(api, start_runtime, code: str, env=None, events=1, handler="index.handler", files=None):
    runtime = start_runtime(files or {"index.js": code}, handler=handler, env=env)
    ids = [api.push() for _ in range(events)]
    for request_id in ids:
        api.result(request_id)
    return ids, runtime.log_lines()


def test_text_line_format(api, start_runtime):
    [rid], lines = _run(
        api, start_runtime, "exports.handler = async (e) => { console.log('hello %s', 'world', { n: 1 }); };"
    )
    [line] = lines
    ts, request_id, level, message = line.split("\t")
    assert ISO.match(ts) and datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert (request_id, level, message) == (rid, "INFO", "hello world { n: 1 }")


def test_text_levels_are_all_printed(api, start_runtime):
    [rid], lines = _run(api, start_runtime, ALL_LEVELS, env={"AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    assert [line.split("\t")[2:] for line in lines] == [
        ["TRACE", "t"],
        ["DEBUG", "d"],
        ["INFO", "i"],
        ["INFO", "l"],
        ["WARN", "w"],
        ["ERROR", "e"],
        ["FATAL", "f"],
    ]


def test_newlines_stay_in_one_record(api, start_runtime):
    _, lines = _run(
        api,
        start_runtime,
        "exports.handler = async () => { console.log('one\\ntwo\\nthree'); console.log('next'); };",
    )
    assert [line.split("\t", 3)[3] for line in lines] == ["one\rtwo\rthree", "next"]


def test_logged_error_keeps_its_stack_in_one_record(api, start_runtime):
    _, lines = _run(
        api, start_runtime, "exports.handler = async () => { console.error(new Error('shown')); };"
    )
    [line] = lines
    message = line.split("\t", 3)[3]
    assert message.startswith("Error: shown\r    at ")


def test_request_id_follows_the_invocation(api, start_runtime):
    code = (
        "console.log('init'); exports.handler = async (e, ctx) => { console.log('in', ctx.awsRequestId); };"
    )
    ids, lines = _run(api, start_runtime, code, events=2)
    assert [line.split("\t")[1] for line in lines] == ["undefined", ids[0], ids[1]]
    assert lines[1].endswith(f"in {ids[0]}") and lines[2].endswith(f"in {ids[1]}")


def test_json_format(api, start_runtime):
    code = "console.log('init'); exports.handler = async () => { console.info('hi %d', 5, { a: 'b' }); };"
    [rid], lines = _run(api, start_runtime, code, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    init, record = (json.loads(line) for line in lines)
    assert list(record) == ["timestamp", "level", "requestId", "message"]
    assert ISO.match(record["timestamp"])
    assert (record["level"], record["requestId"], record["message"]) == ("INFO", rid, "hi 5 { a: 'b' }")
    assert init == {"timestamp": init["timestamp"], "level": "INFO", "message": "init"}  # no request id yet


def test_json_multiline_message_is_one_line(api, start_runtime):
    _, lines = _run(
        api,
        start_runtime,
        "exports.handler = async () => { console.log('a\\nb'); };",
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    [line] = lines
    assert json.loads(line)["message"] == "a\nb"


def test_json_error_fields(api, start_runtime):
    code = "exports.handler = async () => { console.error('failed:', new TypeError('bad type')); };"
    _, lines = _run(api, start_runtime, code, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    record = json.loads(lines[0])
    assert record["level"] == "ERROR"
    assert record["message"].startswith("failed: TypeError: bad type")
    assert (record["errorType"], record["errorMessage"]) == ("TypeError", "bad type")
    assert record["stackTrace"][0] == "TypeError: bad type"


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (None, ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL"]),
        ("TRACE", ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL"]),
        ("DEBUG", ["DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL"]),
        ("INFO", ["INFO", "INFO", "WARN", "ERROR", "FATAL"]),
        ("warn", ["WARN", "ERROR", "FATAL"]),
        ("ERROR", ["ERROR", "FATAL"]),
        ("FATAL", ["FATAL"]),
    ],
)
def test_json_level_filtering(api, start_runtime, level, shown):
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON"} | ({"AWS_LAMBDA_LOG_LEVEL": level} if level else {})
    _, lines = _run(api, start_runtime, ALL_LEVELS, env=env)
    assert [json.loads(line)["level"] for line in lines] == shown


def test_json_invoke_error_record(api, start_runtime):
    [rid], lines = _run(
        api,
        start_runtime,
        "exports.handler = async () => { throw new RangeError('out'); };",
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    [record] = (json.loads(line) for line in lines)
    assert {k: record[k] for k in ("level", "requestId", "message", "errorType", "errorMessage")} == {
        "level": "ERROR",
        "requestId": rid,
        "message": "Invoke Error",
        "errorType": "RangeError",
        "errorMessage": "out",
    }
    assert record["stackTrace"][0] == "RangeError: out"


def test_other_console_methods_use_the_format(api, start_runtime):
    code = "exports.handler = async () => { console.assert(false, 'asserted'); console.count('c'); console.table([1]); };"
    _, lines = _run(api, start_runtime, code)
    levels_and_messages = [line.split("\t", 3)[2:] for line in lines]
    assert levels_and_messages[0] == ["WARN", "Assertion failed: asserted"]
    assert levels_and_messages[1] == ["INFO", "c: 1"]
    assert levels_and_messages[2][0] == "INFO" and "\r" in levels_and_messages[2][1]  # a table is one record
