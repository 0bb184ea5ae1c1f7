"""The value lists of a pattern: `["a", 1, {"prefix": "x"}, {"numeric": [">", 0]}]`.

Each element becomes an `operators` record; every mistake raises `PatternError` with the
rule broken and the field it is in. Lambda's ESM documentation covers a subset of
event-ruler's grammar; `strict_aws_esm` rejects the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import operators as ops
from .errors import PatternError
from .json_numbers import comparable, number_text
from .wildcard import WildcardPattern

NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
ANYTHING_BUT_MODIFIERS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
MATCH_TYPES = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
)


def where(path: tuple[str, ...]) -> str:
    return f' at "{".".join(path)}"' if path else " at the top level"


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class MatchExpressionParser:
    def __init__(self, strict_aws_esm: bool) -> None:
        self.strict = strict_aws_esm

    def reject_in_strict_mode(self, feature: str, path: tuple[str, ...]) -> None:
        if self.strict:
            raise PatternError(
                f"{feature}{where(path)} is not supported by Lambda event source mapping filters "
                "(strict AWS compatibility is on)"
            )

    def value_list(self, values: list[Any], path: tuple[str, ...]) -> tuple[list[ops.Operator], bool]:
        """The operators of a field's value list, and whether it also allows the field to be absent."""
        if not values:
            raise PatternError(f"empty arrays are not allowed{where(path)}")
        operators: list[ops.Operator] = []
        absent = False  # the list holds {"exists": false}
        for value in values:
            if isinstance(value, str):
                operators.append(ops.ExactString(value))
            elif isinstance(value, bool) or value is None:
                operators.append(ops.ExactLiteral(value))
            elif _is_number(value):
                operators.append(ops.ExactNumber(number_text(value)))
            elif isinstance(value, Mapping):
                operator = self._operator(value, path)
                if operator is None:
                    absent = True
                else:
                    operators.append(operator)
            else:
                raise PatternError(
                    "values must be strings, numbers, true, false, null or match expressions such as "
                    f'{{"prefix": "abc"}}; found {json_kind(value)}{where(path)}'
                )
        return operators, absent

    def _operator(self, expression: Mapping[str, Any], path: tuple[str, ...]) -> ops.Operator | None:
        """One `{"operator": argument}`; None stands for `{"exists": false}`."""
        if len(expression) != 1:
            found = ", ".join(f'"{name}"' for name in expression) or "none"
            raise PatternError(f"a match expression must have exactly one key, found {found}{where(path)}")
        ((name, argument),) = expression.items()
        match name:
            case "prefix" | "suffix":
                return self._prefix_or_suffix(name, argument, path)
            case "equals-ignore-case":
                return ops.EqualsIgnoreCase(_string_argument(name, argument, path))
            case "wildcard":
                self.reject_in_strict_mode('"wildcard"', path)
                return ops.Wildcard(_wildcard(argument, path))
            case "anything-but":
                return ops.AnythingBut(self._anything_but(argument, path))
            case "numeric":
                return ops.Numeric(_numeric(argument, path))
            case "exists":
                if not isinstance(argument, bool):
                    raise PatternError(
                        f'"exists" must be true or false, not {json_kind(argument)}{where(path)}'
                    )
                return ops.Exists() if argument else None
            case "cidr":
                self.reject_in_strict_mode('"cidr"', path)
                text = _string_argument(name, argument, path)
                try:
                    return ops.Cidr(ops.IpRange.from_cidr(text))
                except PatternError as exc:
                    raise PatternError(f"{exc}{where(path)}") from None
            case _:
                raise PatternError(
                    f'unrecognized match type "{name}"{where(path)}; known types are {", ".join(MATCH_TYPES)}'
                )

    def _prefix_or_suffix(self, name: str, argument: Any, path: tuple[str, ...]) -> ops.Operator:
        operator = ops.Prefix if name == "prefix" else ops.Suffix
        if isinstance(argument, Mapping):
            if list(argument) != ["equals-ignore-case"]:
                found = ", ".join(f'"{key}"' for key in argument) or "nothing"
                raise PatternError(
                    f'"{name}" accepts a string or {{"equals-ignore-case": "..."}}, found {found}{where(path)}'
                )
            text = _string_argument(f"{name}/equals-ignore-case", argument["equals-ignore-case"], path)
            return operator(text, ignore_case=True)
        return operator(_string_argument(name, argument, path))

    def _anything_but(self, argument: Any, path: tuple[str, ...]) -> ops.Exclusion:
        if isinstance(argument, Mapping):
            return self._anything_but_modified(argument, path)
        values = argument if isinstance(argument, list) else [argument]
        if not values:
            raise PatternError(f'"anything-but" needs at least one value{where(path)}')
        if all(isinstance(value, str) for value in values):
            return ops.ExcludedStrings(frozenset(values))
        if all(_is_number(value) for value in values):
            return ops.ExcludedNumbers(
                frozenset(_comparable(value, "anything-but", path) for value in values)
            )
        if isinstance(argument, list):
            raise PatternError(
                f'"anything-but" lists must hold only strings or only numbers{where(path)}; '
                "mixed types, booleans, null, arrays and objects are not supported"
            )
        raise PatternError(
            f'"anything-but" takes a string, a number, a list of either, or one of '
            f"{{{', '.join(ANYTHING_BUT_MODIFIERS)}}}; found {json_kind(argument)}{where(path)}"
        )

    def _anything_but_modified(self, argument: Mapping[str, Any], path: tuple[str, ...]) -> ops.Exclusion:
        if len(argument) != 1 or next(iter(argument)) not in ANYTHING_BUT_MODIFIERS:
            found = ", ".join(f'"{key}"' for key in argument) or "nothing"
            raise PatternError(
                f'"anything-but" objects take exactly one of {", ".join(ANYTHING_BUT_MODIFIERS)}; '
                f"found {found}{where(path)}"
            )
        ((modifier, value),) = argument.items()
        self.reject_in_strict_mode(f'"anything-but" with "{modifier}"', path)
        label = f"anything-but/{modifier}"
        texts = value if isinstance(value, list) else [value]
        if not texts:
            raise PatternError(f'"{label}" needs at least one string{where(path)}')
        strings = [_string_argument(label, text, path) for text in texts]
        match modifier:
            case "prefix" | "suffix":
                if "" in strings:
                    raise PatternError(f'"{label}" does not accept an empty string{where(path)}')
                if modifier == "prefix":
                    return ops.ExcludedPrefixes(tuple(strings))
                return ops.ExcludedSuffixes(tuple(strings))
            case "equals-ignore-case":
                return ops.ExcludedIgnoringCase(frozenset(text.lower() for text in strings))
            case _:
                return ops.ExcludedWildcards(tuple(_wildcard(text, path) for text in strings))


def short(value: Any) -> str:
    if isinstance(value, str):
        return '"' + (value if len(value) <= 20 else value[:17] + "...") + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return number_text(value) if _is_number(value) else "..."


def _string_argument(name: str, argument: Any, path: tuple[str, ...]) -> str:
    if not isinstance(argument, str):
        raise PatternError(f'"{name}" must be given a string, not {json_kind(argument)}{where(path)}')
    return argument


def _wildcard(argument: Any, path: tuple[str, ...]) -> WildcardPattern:
    text = _string_argument("wildcard", argument, path)
    try:
        return WildcardPattern.parse(text)
    except PatternError as exc:
        raise PatternError(f"{exc}{where(path)}") from None


def _comparable(value: Any, operator: str, path: tuple[str, ...]) -> float:
    if not _is_number(value):
        raise PatternError(
            f'the value after "{operator}" must be a number, not {json_kind(value)}{where(path)}'
        )
    double = comparable(value)
    if double is None:
        raise PatternError(
            f"cannot compare the number {number_text(value)}{where(path)}: numeric matching uses "
            "double precision and this number has no exact double"
        )
    return double


def _numeric(argument: Any, path: tuple[str, ...]) -> ops.NumericRange:
    if not isinstance(argument, list) or not argument:
        raise PatternError(
            f'"numeric" must be a non-empty array such as [">", 0, "<=", 5]{where(path)}, '
            f"not {'an empty array' if argument == [] else json_kind(argument)}"
        )
    operator = argument[0]
    if operator not in NUMERIC_OPERATORS:
        raise PatternError(
            f"unrecognized numeric operator {short(operator)}{where(path)}; use one of {', '.join(NUMERIC_OPERATORS)}"
        )
    if len(argument) < 2:
        raise PatternError(f'"{operator}" must be followed by a number{where(path)}')
    bound = _comparable(argument[1], operator, path)
    inf = float("inf")
    if operator in ("=", "<", "<="):
        if len(argument) > 2:
            raise PatternError(
                f'too many elements in numeric expression{where(path)}: a range must start with ">" or ">=" '
                'and end with "<" or "<=", as in [">", 0, "<=", 5]'
            )
        if operator == "=":
            return ops.NumericRange(bound, True, bound, True)
        return ops.NumericRange(-inf, False, bound, operator == "<=")
    if len(argument) == 2:
        return ops.NumericRange(bound, operator == ">=", inf, False)
    upper = argument[2]
    if upper not in ("<", "<="):
        raise PatternError(
            f'bad numeric range{where(path)}: after "{operator}" only "<" or "<=" may follow, found {short(upper)}'
        )
    if len(argument) != 4:
        raise PatternError(
            f"too many elements in numeric expression{where(path)}"
            if len(argument) > 4
            else f'"{upper}" must be followed by a number{where(path)}'
        )
    top = _comparable(argument[3], upper, path)
    if not bound < top:
        raise PatternError(
            f"bad numeric range{where(path)}: the lower bound {short(argument[1])} must be less than "
            f"the upper bound {short(argument[3])}"
        )
    return ops.NumericRange(bound, operator == ">=", top, upper == "<=")
