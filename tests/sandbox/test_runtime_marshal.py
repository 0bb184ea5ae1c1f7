"""The Python runtime loop's own JSON conversions give exactly what `json` gives (they skip
only work `json` redoes on every call)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest

from lamina.sandbox.runtimes.catalog import PYTHON_RUNTIME_DIR

sys.path.insert(0, str(PYTHON_RUNTIME_DIR))
from lamina_runtime.marshal import dump_result, load_event, to_json  # noqa: E402

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
