"""The Python runtime loop's own JSON conversions give exactly what `json` gives (they skip
only work `json` redoes on every call)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest

from lamina.sandbox.runtimes.catalog import PYTHON_RUNTIME_DIR

sys.path.insert(0, str(PYTHON_RUNTIME_DIR))
from lamina_runtime.marshal import dump_result, load_event, loads, to_json  # noqa: E402

sys.path.remove(str(PYTHON_RUNTIME_DIR))


@pytest.mark.parametrize("payload", [
    b"{}", b'{"a": [1, 2.5, "\xc3\xa9"]}', b"[1]", b"[", b"{\x00", b'"text"', b"3", b"",
    b"\xef\xbb\xbf{}", "{}".encode("utf-16"), "[1]".encode("utf-16-le"), b"{\xff}", b'{"a": "\xed\xa0\x80"}',
])
def test_events_parse_as_json_loads_parses_them(payload: bytes) -> None:
    def outcome(parse):
        try:
            return "ok", parse(payload)
        except ValueError as error:
            return type(error).__name__, str(error)

    assert outcome(load_event) == outcome(json.loads)


def test_results_encode_as_to_json_encodes_them_also_after_failures() -> None:
    circular: list[object] = []
    circular.append(circular)
    values = [{"ok": True}, [1, "é", None, 2.5], {"price": Decimal("1.10"), 1: [Decimal("NaN")]}, "text", 3,
              {"nested": {"deep": [{"x": 1}]}}]
    for value in values:
        assert dump_result(value) == to_json(value)
    for bad in (circular, {"obj": object()}, [1, {2: circular}]):
        with pytest.raises((TypeError, ValueError)) as raised:
            dump_result(bad)
        with pytest.raises(type(raised.value)) as expected:
            to_json(bad)
        assert str(raised.value) == str(expected.value)
        for value in values:  # the reused encoder kept nothing of the failure
            assert dump_result(value) == to_json(value)


def test_a_result_that_failed_to_encode_encodes_once_fixed() -> None:
    result: list[object] = [{"k": 1}, object()]
    with pytest.raises(TypeError):
        dump_result(result)
    result.pop()
    assert dump_result(result) == '[{"k": 1}]'


@pytest.mark.parametrize("text", [
    "{}", " \t\n{\"a\": [1, 2.5e3, -0, true, null]}\r\n", "[NaN, Infinity, -Infinity]", '"\\ud800"', "1 2", "{} x",
    "", "   ", "[1,]", '{"a" 1}', '"unterminated', "\ufeff{}", "[" * 100 + "]" * 100, "tru", '{"a": "\\x"}',
    '{"a": 1, "a": 2}', "12345678901234567890", "1.5e999",
])
def test_text_parses_as_json_loads_parses_it(text: str) -> None:
    # The runtime parses without importing json; what does not parse gets json's own error.
    def outcome(parse):
        try:
            return "ok", repr(parse(text))
        except ValueError as error:
            return type(error).__name__, str(error)

    assert outcome(loads) == outcome(json.loads)


def test_results_encode_as_json_dumps_encodes_them() -> None:
    ensure_ascii = sys.version_info < (3, 12)
    for value in ({"ok": True, "n": [1, 2.5, float("nan"), float("inf"), None]}, "żółw ✓\n", {1: "a", None: 2.0},
                  [{"nested": {"deep": ["\u2028", "\x00"]}}], 10**30, True, {"k": (1, 2)}):
        assert to_json(value) == json.dumps(value, ensure_ascii=ensure_ascii)
        assert dump_result(value) == json.dumps(value, ensure_ascii=ensure_ascii)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        to_json({1, 2})
