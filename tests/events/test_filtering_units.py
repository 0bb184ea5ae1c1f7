"""The building blocks on their own: number handling, wildcard parsing, IP parsing, payload decoding."""

from __future__ import annotations

import pytest

from lamina.events.filtering.errors import PatternError
from lamina.events.filtering.json_numbers import JsonFloat, comparable, loads, number_text
from lamina.events.filtering.operators import IpRange, parse_ip
from lamina.events.filtering.sources import SOURCE_FORMATS, EventSource
from lamina.events.filtering.tree import UNREADABLE
from lamina.events.filtering.wildcard import WildcardPattern


@pytest.mark.parametrize(
    ("json_text", "text"),
    [("300", "300"), ("300.0", "300.0"), ("3.0e2", "3.0e2"), ("-0.50", "-0.50"), ("1E+2", "1E+2"), ("-7", "-7")],
)
def test_number_text_is_the_json_text(json_text: str, text: str) -> None:
    assert number_text(loads(json_text)) == text


def test_number_text_of_python_numbers() -> None:
    assert number_text(26) == "26"
    assert number_text(1545084650.987) == "1545084650.987"


def test_json_float_is_a_float() -> None:
    number = loads("[2.50]")[0]
    assert type(number) is JsonFloat
    assert number == 2.5 and number.text == "2.50"


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "{'a': 1}", "[1,]"])
def test_loads_rejects_what_json_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        loads(bad)


@pytest.mark.parametrize(
    ("json_text", "double"),
    [
        ("0", 0.0),
        ("-0.0", -0.0),
        ("0.1", 0.1),
        ("1.50", 1.5),
        ("3.018e2", 301.8),
        ("9007199254740992", 9007199254740992.0),
        ("-9007199254740992", -9007199254740992.0),
        ("1e300", 1e300),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("123456789012345678901234567890", None),
        ("9007199254740993", None),
        ("0.30000000000000001", None),
        ("1e400", None),
        ("-1e400", None),
        ("1" + "0" * 400, None),
    ],
)
def test_comparable_needs_an_exact_double(json_text: str, double: float | None) -> None:
    assert comparable(loads(json_text)) == double


def test_comparable_python_floats_are_exact() -> None:
    assert comparable(0.30000000000000004) == 0.30000000000000004
    assert comparable(float("inf")) is None
    assert comparable(float("nan")) is None


@pytest.mark.parametrize(
    ("source", "matching", "failing"),
    [
        ("*", ["", "a", "**"], []),
        ("a*", ["a", "abc"], ["", "ba"]),
        ("*a", ["a", "ba"], ["ab"]),
        ("a*b*c*d", ["abcd", "a-b-c-d", "abcabcd"], ["abdc", "acbd", "abc"]),
        ("*ab*ab*", ["abab", "xabyabz"], ["ab", "aab"]),
        ("\\*", ["*"], ["", "a", "\\*"]),
        ("\\\\", ["\\"], ["\\\\", ""]),
        ("x\\\\*", ["x\\", "x\\yz"], ["x", "xy"]),
        ("a\\**", ["a*", "a*bc"], ["a", "ab"]),
    ],
)
def test_wildcard_matching(source: str, matching: list[str], failing: list[str]) -> None:
    pattern = WildcardPattern.parse(source)
    assert [value for value in matching if not pattern.matches(value)] == []
    assert [value for value in failing if pattern.matches(value)] == []


def test_wildcard_scan_is_not_exponential() -> None:
    # A regex like a.*a.*a...b would backtrack for ages on this; the segment scan does not.
    pattern = WildcardPattern.parse("a*" * 30 + "b")
    assert not pattern.matches("a" * 5000)
    assert pattern.matches("a" * 5000 + "b")


@pytest.mark.parametrize(
    ("source", "position"),
    [("**", 1), ("a**", 2), ("*a**", 3), ("\\**\\**", None)],
)
def test_wildcard_consecutive_stars(source: str, position: int | None) -> None:
    if position is None:
        WildcardPattern.parse(source)  # escaped stars are not wildcards
        return
    with pytest.raises(PatternError, match=f"consecutive wildcard characters at position {position}"):
        WildcardPattern.parse(source)


@pytest.mark.parametrize(("source", "position"), [("\\a", 0), ("a\\", 1), ("ab\\n", 2), ("\\\\\\", 2)])
def test_wildcard_bad_escapes(source: str, position: int) -> None:
    with pytest.raises(PatternError, match=f"invalid escape at position {position}"):
        WildcardPattern.parse(source)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("10.0.0.1", (4, 0x0A000001)),
        ("::ffff:10.0.0.1", (4, 0x0A000001)),
        ("::1", (6, 1)),
        ("2001:db8::", (6, 0x20010DB8 << 96)),
        ("10.0.0", None),
        ("1.2.3.4.5", None),
        ("localhost", None),
        ("", None),
        ("1" * 50, None),
        ("01.2.3.4", None),
    ],
)
def test_parse_ip(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_ip(text) == parsed


@pytest.mark.parametrize(
    ("cidr", "first", "last"),
    [
        ("10.0.0.0/24", "10.0.0.0", "10.0.0.255"),
        ("10.0.0.77/24", "10.0.0.0", "10.0.0.255"),
        ("10.1.2.3/32", "10.1.2.3", "10.1.2.3"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255"),
        ("2001:db8::/126", "2001:db8::", "2001:db8::3"),
    ],
)
def test_ip_range_bounds(cidr: str, first: str, last: str) -> None:
    ip_range = IpRange.from_cidr(cidr)
    assert (ip_range.version, ip_range.first) == parse_ip(first)
    assert (ip_range.version, ip_range.last) == parse_ip(last)


@pytest.mark.parametrize(
    ("encoded", "must_be_json", "decoded"),
    [
        ("eyJhIjogMX0=", True, {"a": 1}),
        ("eyJhIjogMX0=", False, {"a": 1}),
        ("aGVsbG8=", False, "hello"),
        ("aGVsbG8=", True, UNREADABLE),
        ("NDI=", False, "42"),
        ("//4=", False, UNREADABLE),
        ("not base64!", False, UNREADABLE),
        (None, True, UNREADABLE),
    ],
)
def test_payload_decoding(encoded: str | None, must_be_json: bool, decoded: object) -> None:
    source = EventSource.KINESIS if must_be_json else EventSource.KAFKA
    key = "data" if must_be_json else "value"
    record = {"kinesis": {"data": encoded}} if must_be_json else {"value": encoded}
    view = SOURCE_FORMATS[source].view(record, frozenset({key}))
    assert view[key] == decoded


def test_null_kafka_payload_stays_null() -> None:
    view = SOURCE_FORMATS[EventSource.KAFKA].view({"key": None, "value": "eA=="}, frozenset({"key", "value"}))
    assert view == {"key": None, "value": "x"}
