"""Patterns and FilterCriteria that must be rejected, with the message that says why."""

from __future__ import annotations

import json

import pytest

from lamina.errors import InvalidParameterValueException
from lamina.events.filtering import (
    EventSource,
    compile_filters,
    compile_pattern,
    validate_filter_criteria,
)

# (pattern text, a fragment the message must contain)
INVALID_PATTERNS = [
    # not a JSON object
    ("not json", "the pattern is not valid JSON"),
    ('{"a": [1]} trailing', "the pattern is not valid JSON"),
    ('{"a": [NaN]}', "the pattern is not valid JSON"),
    ('{"a": [Infinity]}', "the pattern is not valid JSON"),
    ("", "the pattern is not valid JSON"),
    ("[1]", "the pattern must be a JSON object, not an array"),
    ('"x"', "the pattern must be a JSON object, not a string"),
    ("null", "the pattern must be a JSON object, not null"),
    # structure
    ("{}", "empty objects are not allowed at the top level"),
    ('{"a": {}}', 'empty objects are not allowed at "a"'),
    ('{"a": "x"}', '"a" must be an object or an array of values at "a", not a string; write ["x"]'),
    ('{"a": {"b": 5}}', '"b" must be an object or an array of values at "a.b", not a number; write [5]'),
    ('{"a": true}', "not a boolean; write [true]"),
    ('{"a": null}', "not null; write [null]"),
    ('{"a": []}', 'empty arrays are not allowed at "a"'),
    ('{"a": [[1]]}', 'found an array at "a"'),
    ('{"a": [{}]}', 'a match expression must have exactly one key, found none at "a"'),
    ('{"a": [{"prefix": "x", "suffix": "y"}]}', 'exactly one key, found "prefix", "suffix" at "a"'),
    ('{"a": [{"prefx": "x"}]}', 'unrecognized match type "prefx" at "a"; known types are prefix, suffix'),
    ('{"a": [{"exactly": "x"}]}', 'unrecognized match type "exactly"'),
    # prefix / suffix / equals-ignore-case
    ('{"a": [{"prefix": 1}]}', '"prefix" must be given a string, not a number at "a"'),
    ('{"a": [{"suffix": null}]}', '"suffix" must be given a string, not null'),
    ('{"a": [{"prefix": {"equals-ignore-case": 1}}]}', '"prefix/equals-ignore-case" must be given a string'),
    ('{"a": [{"prefix": {"foo": "x"}}]}', '"prefix" accepts a string or {"equals-ignore-case": "..."}, found "foo"'),
    ('{"a": [{"suffix": {}}]}', '"suffix" accepts a string or {"equals-ignore-case": "..."}, found nothing'),
    (
        '{"a": [{"suffix": {"equals-ignore-case": "x", "prefix": "y"}}]}',
        'found "equals-ignore-case", "prefix"',
    ),
    ('{"a": [{"equals-ignore-case": ["x"]}]}', '"equals-ignore-case" must be given a string, not an array'),
    # wildcard
    ('{"a": [{"wildcard": "a**b"}]}', 'consecutive wildcard characters at position 2 in wildcard "a**b" at "a"'),
    ('{"a": [{"wildcard": "**"}]}', "consecutive wildcard characters at position 1"),
    (r'{"a": [{"wildcard": "a\\b"}]}', r'invalid escape at position 1 in wildcard "a\b"'),
    (r'{"a": [{"wildcard": "a\\"}]}', "invalid escape at position 1"),
    ('{"a": [{"wildcard": 5}]}', '"wildcard" must be given a string, not a number'),
    # anything-but
    ('{"a": [{"anything-but": []}]}', '"anything-but" needs at least one value at "a"'),
    ('{"a": [{"anything-but": ["a", 1]}]}', '"anything-but" lists must hold only strings or only numbers at "a"'),
    ('{"a": [{"anything-but": [true]}]}', "lists must hold only strings or only numbers"),
    ('{"a": [{"anything-but": [null]}]}', "lists must hold only strings or only numbers"),
    ('{"a": [{"anything-but": true}]}', '"anything-but" takes a string, a number, a list of either'),
    ('{"a": [{"anything-but": null}]}', "found null"),
    ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', 'objects take exactly one of prefix, suffix, equals-ignore-case, wildcard; found "numeric"'),
    ('{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}', 'found "prefix", "suffix"'),
    ('{"a": [{"anything-but": {}}]}', "found nothing"),
    ('{"a": [{"anything-but": {"prefix": ""}}]}', '"anything-but/prefix" does not accept an empty string'),
    ('{"a": [{"anything-but": {"suffix": ["x", ""]}}]}', '"anything-but/suffix" does not accept an empty string'),
    ('{"a": [{"anything-but": {"prefix": 1}}]}', '"anything-but/prefix" must be given a string, not a number'),
    ('{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}', '"anything-but/equals-ignore-case" must be given a string'),
    ('{"a": [{"anything-but": {"wildcard": []}}]}', '"anything-but/wildcard" needs at least one string'),
    ('{"a": [{"anything-but": {"wildcard": "x**"}}]}', "consecutive wildcard characters"),
    ('{"a": [{"anything-but": 1e400}]}', "cannot compare the number 1e400"),
    # numeric
    ('{"a": [{"numeric": "x"}]}', '"numeric" must be a non-empty array such as [">", 0, "<=", 5] at "a", not a string'),
    ('{"a": [{"numeric": []}]}', "not an empty array"),
    ('{"a": [{"numeric": ["!=", 1]}]}', 'unrecognized numeric operator "!=" at "a"; use one of =, <, <=, >, >='),
    ('{"a": [{"numeric": [1, ">"]}]}', "unrecognized numeric operator 1"),
    ('{"a": [{"numeric": [">"]}]}', '">" must be followed by a number'),
    ('{"a": [{"numeric": [">", "1"]}]}', 'the value after ">" must be a number, not a string'),
    ('{"a": [{"numeric": ["=", true]}]}', 'the value after "=" must be a number, not a boolean'),
    ('{"a": [{"numeric": ["=", 1, "<", 5]}]}', "too many elements in numeric expression"),
    ('{"a": [{"numeric": ["<", 1, ">", 0]}]}', 'a range must start with ">" or ">=" and end with "<" or "<="'),
    ('{"a": [{"numeric": [">", 5, "<", 1]}]}', "the lower bound 5 must be less than the upper bound 1"),
    ('{"a": [{"numeric": [">=", 5, "<=", 5]}]}', "the lower bound 5 must be less than the upper bound 5"),
    ('{"a": [{"numeric": [">", 1, ">", 5]}]}', 'after ">" only "<" or "<=" may follow, found ">"'),
    ('{"a": [{"numeric": [">", 1, "<"]}]}', '"<" must be followed by a number'),
    ('{"a": [{"numeric": [">", 1, "<", "5"]}]}', 'the value after "<" must be a number, not a string'),
    ('{"a": [{"numeric": [">", 1, "<", 5, "<", 9]}]}', "too many elements in numeric expression"),
    ('{"a": [{"numeric": [">", 1e400]}]}', "cannot compare the number 1e400"),
    ('{"a": [{"numeric": [">", 0.30000000000000001]}]}', "cannot compare the number 0.30000000000000001"),
    ('{"a": [{"numeric": ["<", 9007199254740993]}]}', "has no exact double"),
    # exists
    ('{"a": [{"exists": "yes"}]}', '"exists" must be true or false, not a string at "a"'),
    ('{"a": [{"exists": null}]}', '"exists" must be true or false, not null'),
    ('{"a": [{"exists": 1}]}', '"exists" must be true or false, not a number'),
    # cidr
    ('{"ip": [{"cidr": "10.0.0.0"}]}', 'invalid CIDR "10.0.0.0": exactly one "/" is required'),
    ('{"ip": [{"cidr": "10.0.0.0/8/8"}]}', 'exactly one "/" is required'),
    ('{"ip": [{"cidr": "10.0.0.0/x"}]}', "the prefix length must be a whole number"),
    ('{"ip": [{"cidr": "10.0.0.0/-1"}]}', "the prefix length must be a whole number"),
    ('{"ip": [{"cidr": "10.0.0.0/33"}]}', 'invalid CIDR "10.0.0.0/33"'),
    ('{"ip": [{"cidr": "::/129"}]}', 'invalid CIDR "::/129"'),
    ('{"ip": [{"cidr": "300.0.0.0/8"}]}', 'invalid CIDR "300.0.0.0/8"'),
    ('{"ip": [{"cidr": "example.com/8"}]}', 'invalid CIDR "example.com/8"'),
    ('{"ip": [{"cidr": 10}]}', '"cidr" must be given a string, not a number at "ip"'),
    # $or
    ('{"$or": {"a": ["x"]}}', '"$or" must be an array of at least 2 objects at "$or"'),
    ('{"$or": [{"a": ["x"]}]}', '"$or" needs at least 2 objects, found 1'),
    ('{"$or": []}', '"$or" needs at least 2 objects, found 0'),
    ('{"$or": [{"a": ["x"]}, "b"]}', '"$or" may only contain objects, found a string at "$or[1]"'),
    ('{"$or": [{"a": ["x"]}, {}]}', 'empty objects are not allowed at "$or[1]"'),
    ('{"x": {"$or": [{"a": ["x"]}, [1]]}}', 'found an array at "x.$or[1]"'),
    ('{"$or": [{"prefix": ["x"]}, {"b": ["y"]}]}', '"prefix" is an operator and cannot be a field name inside "$or"'),
    ('{"$or": [{"a": {"numeric": [1]}}, {"b": ["y"]}]}', '"numeric" is an operator and cannot be a field name'),
    ('{"$or": [{"a": [{"prefx": "x"}]}, {"b": ["y"]}]}', 'unrecognized match type "prefx" at "$or[0].a"'),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID_PATTERNS, ids=[p for p, _ in INVALID_PATTERNS])
def test_invalid_pattern_is_rejected_with_reason(pattern: str, message: str) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        compile_pattern(pattern)
    assert caught.value.message.startswith("Invalid filter pattern definition: ")
    assert message in caught.value.message
    locations = caught.value.message.count(' at "') + caught.value.message.count(" at the top level")
    assert locations <= 1, "the location is named once"


@pytest.mark.parametrize(("pattern", "message"), INVALID_PATTERNS[:12], ids=[p for p, _ in INVALID_PATTERNS[:12]])
def test_invalid_pattern_in_criteria_names_the_filter(pattern: str, message: str) -> None:
    criteria = {"Filters": [{"Pattern": '{"ok": ["x"]}'}, {"Pattern": pattern}]}
    with pytest.raises(InvalidParameterValueException) as caught:
        compile_filters(criteria, EventSource.SQS)
    assert caught.value.message.startswith("Invalid filter pattern definition: Filters[1].Pattern: ")
    assert message in caught.value.message


def test_the_error_is_the_aws_error_type() -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        compile_pattern("{}")
    assert caught.value.code == "InvalidParameterValueException"
    assert caught.value.status == 400


def test_field_named_like_an_operator_is_fine_outside_or() -> None:
    # Only inside "$or" are operator names reserved; elsewhere "prefix" is just a field.
    pattern = compile_pattern('{"prefix": ["x"], "numeric": {"exists": ["y"]}}')
    assert pattern.matches({"prefix": "x", "numeric": {"exists": "y"}})
    assert not pattern.matches({"prefix": "y", "numeric": {"exists": "y"}})


# ---------------------------------------------------------------- limits


def test_pattern_length_limit() -> None:
    padding = "x" * (4096 - len('{"a": [""]}'))
    at_limit = '{"a": ["' + padding + '"]}'
    assert len(at_limit) == 4096
    assert compile_pattern(at_limit).matches({"a": padding})
    over = '{"a": ["' + padding + 'y"]}'
    with pytest.raises(InvalidParameterValueException) as caught:
        validate_filter_criteria({"Filters": [{"Pattern": over}]}, "sqs")
    assert "Filters[0].Pattern: the pattern is 4097 characters long; the maximum is 4096" in caught.value.message


def test_nesting_depth_limit() -> None:
    def nested(levels: int) -> str:
        return '{"a": ' * levels + '["x"]' + "}" * levels

    assert compile_pattern(nested(100)).alternatives
    with pytest.raises(InvalidParameterValueException, match="nests objects deeper than 100 levels"):
        compile_pattern(nested(101))


def test_or_combination_limit() -> None:
    def or_pattern(count: int) -> str:
        fields = {f"k{i}": {"$or": [{"a": ["1"]}, {"b": ["2"]}]} for i in range(count)}
        return json.dumps(fields)

    assert len(compile_pattern(or_pattern(10)).alternatives) == 1024
    with pytest.raises(InvalidParameterValueException, match="more than 1024 alternatives"):
        compile_pattern(or_pattern(11))


def filters(count: int) -> dict:
    return {"Filters": [{"Pattern": json.dumps({"a": [str(i)]})} for i in range(count)]}


def test_filter_count_limit_defaults_to_five() -> None:
    validate_filter_criteria(filters(5), "sqs")
    with pytest.raises(InvalidParameterValueException) as caught:
        validate_filter_criteria(filters(6), "sqs")
    assert caught.value.message == "FilterCriteria has 6 filters; the limit for an event source mapping is 5"


def test_filter_count_limit_is_a_parameter() -> None:
    validate_filter_criteria(filters(10), "sqs", max_filters=10)
    with pytest.raises(InvalidParameterValueException, match="has 11 filters; the limit .* is 10"):
        validate_filter_criteria(filters(11), "sqs", max_filters=10)
    with pytest.raises(InvalidParameterValueException, match="has 2 filters; the limit .* is 1"):
        validate_filter_criteria(filters(2), "sqs", max_filters=1)


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "FilterCriteria must be an object"),
        ({"Filters": {"Pattern": "{}"}}, "FilterCriteria.Filters must be a list"),
        ({"Filters": [{}]}, "Filters[0].Pattern must be a string holding a JSON object"),
        ({"Filters": ["{}"]}, "Filters[0].Pattern must be a string"),
        ({"Filters": [{"Pattern": {"a": ["x"]}}]}, "Filters[0].Pattern must be a string"),
        ({"Filters": [{"Pattern": '{"a": ["x"]}'}, {"Pattern": None}]}, "Filters[1].Pattern must be a string"),
    ],
)
def test_malformed_criteria(criteria: object, message: str) -> None:
    with pytest.raises(InvalidParameterValueException) as caught:
        compile_filters(criteria, "sqs")  # type: ignore[arg-type]
    assert message in caught.value.message


def test_unknown_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="'documentdb' is not a valid EventSource"):
        compile_filters(None, "documentdb")


# ---------------------------------------------------------------- payload pattern format (create time)


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("kinesis", {"data": ["x"]}),
        ("kinesis", {"data": [{"exists": False}]}),
        ("kinesis", {"data": [{"prefix": "{"}]}),
        ("kinesis", {"partitionKey": ["1"], "$or": [{"data": ["x"]}, {"eventName": ["y"]}]}),
        ("dynamodb", {"dynamodb": ["x"]}),
        ("dynamodb", {"dynamodb": [{"exists": True}]}),
    ],
)
def test_streams_reject_a_payload_pattern_that_is_not_an_object(source: str, pattern: dict) -> None:
    criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    with pytest.raises(InvalidParameterValueException) as caught:
        validate_filter_criteria(criteria, source)
    key = "data" if source == "kinesis" else "dynamodb"
    assert f'{source} filters must match "{key}" with a JSON object pattern' in caught.value.message


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        ("kinesis", {"data": {"a": ["x"]}, "partitionKey": ["1"]}),
        ("kinesis", {"partitionKey": [{"prefix": "1"}]}),
        ("dynamodb", {"dynamodb": {"Keys": {"Id": {"N": ["1"]}}}, "eventName": ["INSERT"]}),
        ("sqs", {"body": ["plain text"]}),
        ("sqs", {"body": {"a": ["x"]}}),
        ("kafka", {"value": [{"anything-but": ["error"]}]}),
        ("kafka", {"key": {"a": ["x"]}, "value": ["x"]}),
        ("mq", {"data": ["x"]}),
    ],
)
def test_payload_patterns_other_sources_accept(source: str, pattern: dict) -> None:
    validate_filter_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]}, source)


# ---------------------------------------------------------------- strict AWS ESM compatibility

NOT_DOCUMENTED_FOR_ESM = [
    ({"a": [{"wildcard": "x*"}]}, '"wildcard" at "a"'),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, '"cidr" at "ip"'),
    ({"$or": [{"a": ["1"]}, {"b": ["2"]}]}, '"$or" at "$or"'),
    ({"x": {"$or": [{"a": ["1"]}, {"b": ["2"]}]}}, '"$or" at "x.$or"'),
    ({"a": [{"anything-but": {"prefix": "x"}}]}, '"anything-but" with "prefix" at "a"'),
    ({"a": [{"anything-but": {"suffix": "x"}}]}, '"anything-but" with "suffix"'),
    ({"a": [{"anything-but": {"equals-ignore-case": "x"}}]}, '"anything-but" with "equals-ignore-case"'),
    ({"a": [{"anything-but": {"wildcard": ["x*"]}}]}, '"anything-but" with "wildcard"'),
]

DOCUMENTED_FOR_ESM = [
    {"a": ["x", 1, True, None, ""]},
    {"a": [{"prefix": "x"}], "b": [{"suffix": "y"}], "c": [{"equals-ignore-case": "z"}]},
    {"a": [{"prefix": {"equals-ignore-case": "x"}}, {"suffix": {"equals-ignore-case": "y"}}]},
    {"a": [{"anything-but": ["x", "y"]}], "b": [{"anything-but": 5}]},
    {"a": [{"numeric": [">", 0, "<=", 5]}], "b": [{"exists": False}]},
]


@pytest.mark.parametrize(("pattern", "where"), NOT_DOCUMENTED_FOR_ESM)
def test_strict_mode_rejects_operators_not_documented_for_esm(pattern: dict, where: str) -> None:
    criteria = {"Filters": [{"Pattern": json.dumps(pattern)}]}
    validate_filter_criteria(criteria, "sqs")  # accepted by default
    with pytest.raises(InvalidParameterValueException) as caught:
        validate_filter_criteria(criteria, "sqs", strict_aws_esm=True)
    assert where in caught.value.message
    assert "is not supported by Lambda event source mapping filters" in caught.value.message


@pytest.mark.parametrize("pattern", DOCUMENTED_FOR_ESM)
def test_strict_mode_accepts_documented_operators(pattern: dict) -> None:
    validate_filter_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]}, "sqs", strict_aws_esm=True)


def test_strict_mode_on_compile_pattern() -> None:
    with pytest.raises(InvalidParameterValueException, match='"wildcard"'):
        compile_pattern('{"a": [{"wildcard": "*"}]}', strict_aws_esm=True)
