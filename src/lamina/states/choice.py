"""Choice rules: the comparison operators, And/Or/Not, and JSONata Conditions.

A comparison between values of different kinds is simply false (a string is never
NumericEquals anything). A Variable path that selects nothing fails the state with
States.Runtime, except under IsPresent, which exists to ask exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lamina.states import jsonata_query
from lamina.states.dataflow import PathScope, select
from lamina.states.errors import QUERY_EVALUATION_ERROR, RUNTIME, StatesError
from lamina.states.jsonpath import PathNotFound, compile_path
from lamina.states.model import ChoiceRule
from lamina.states.timestamps import parse_timestamp

_MISSING = object()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == "Equals":
        return bool(left == right)
    if op == "LessThan":
        return bool(left < right)
    if op == "GreaterThan":
        return bool(left > right)
    if op == "LessThanEquals":
        return bool(left <= right)
    return bool(left >= right)  # GreaterThanEquals


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """StringMatches: `*` matches any run of characters; `\\*` and `\\\\` are literal."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def compare(operator: str, value: Any, operand: Any) -> bool:
    """Apply a comparison operator (without the Path suffix) to the variable's value."""
    if operator == "IsNull":
        return (value is None) == operand
    if operator == "IsPresent":
        return (value is not _MISSING) == operand
    if operator == "IsNumeric":
        return _is_number(value) == operand
    if operator == "IsString":
        return isinstance(value, str) == operand
    if operator == "IsBoolean":
        return isinstance(value, bool) == operand
    if operator == "IsTimestamp":
        return (parse_timestamp(value) is not None) == operand
    if operator == "StringMatches":
        return (
            isinstance(value, str)
            and isinstance(operand, str)
            and _wildcard(operand).fullmatch(value) is not None
        )
    if operator == "BooleanEquals":
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    kind, op = _split(operator)
    if kind == "String":
        return isinstance(value, str) and isinstance(operand, str) and _ordered(op, value, operand)
    if kind == "Numeric":
        return _is_number(value) and _is_number(operand) and _ordered(op, value, operand)
    left, right = parse_timestamp(value), parse_timestamp(operand)
    return left is not None and right is not None and _ordered(op, left, right)


def _split(operator: str) -> tuple[str, str]:
    for kind in ("String", "Numeric", "Timestamp"):
        if operator.startswith(kind):
            return kind, operator[len(kind) :]
    raise ValueError(operator)


def evaluate_rule(rule: ChoiceRule, scope: PathScope) -> bool:
    """A JSONPath choice rule against the state's effective input."""
    if rule.combinator == "And":
        return all(evaluate_rule(child, scope) for child in rule.children)
    if rule.combinator == "Or":
        return any(evaluate_rule(child, scope) for child in rule.children)
    if rule.combinator == "Not":
        return not evaluate_rule(rule.children[0], scope)
    assert rule.variable is not None and rule.operator is not None
    try:
        value = scope.resolve(compile_path(rule.variable))
    except PathNotFound:
        if rule.operator != "IsPresent":
            raise StatesError(
                RUNTIME,
                f"Invalid path '{rule.variable}': The choice state's condition path references an invalid value.",
            ) from None
        value = _MISSING
    operator, operand = rule.operator, rule.operand
    if operator.endswith("Path"):
        operator = operator[: -len("Path")]
        operand = select(operand, scope)
    return compare(operator, value, operand)


def evaluate_condition(rule: ChoiceRule, evaluate: Callable[[str, str], Any], field: str) -> bool:
    """A JSONata rule's Condition; it must come out a boolean."""
    condition = rule.condition
    result = evaluate(condition, field) if jsonata_query.is_expression(condition) else condition
    if not isinstance(result, bool):
        raise StatesError(
            QUERY_EVALUATION_ERROR,
            f"The Condition '{condition}' specified for the field '{field}' returned a non-boolean value",
        )
    return result
