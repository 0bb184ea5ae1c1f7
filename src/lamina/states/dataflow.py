"""Moving data through a state: JSONPath's InputPath/Parameters/ResultSelector/ResultPath/
OutputPath and payload templates, and JSONata's `{% %}` templates.

Everything here is pure: values in, values out, `StatesError` when Step Functions would
fail the state. Messages follow what Step Functions reports; the interpreter prefixes
them with the state's name and entry event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lamina.states import intrinsics, jsonata_query
from lamina.states.errors import RESULT_PATH_MATCH_FAILURE, RUNTIME, StatesError
from lamina.states.jsonpath import JsonPath, PathNotFound, ResultPathMismatch, compile_path, set_at
from lamina.states.model import ABSENT


def is_integer(value: Any) -> bool:
    """A JSON number usable as a count of seconds or items (`5` or `5.0`, never `true`)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class PathScope:
    """What JSONPath roots resolve to: `$` the data, `$$` the context, `$name` a variable."""

    data: Any
    context: dict[str, Any]
    variables: dict[str, Any]

    def resolve(self, path: JsonPath) -> Any:
        if path.root == "input":
            return path.find(self.data)
        if path.root == "context":
            return path.find(self.context)
        if path.variable not in self.variables:
            raise PathNotFound(path)
        return path.find(self.variables[path.variable])

    def with_data(self, data: Any) -> PathScope:
        return PathScope(data, self.context, self.variables)


def select(path_text: str, scope: PathScope) -> Any:
    """A path's value; a miss fails the state with States.Runtime (`Invalid path ...`)."""
    path = compile_path(path_text)
    try:
        return scope.resolve(path)
    except PathNotFound as e:
        raise StatesError(RUNTIME, f"Invalid path '{path_text}' : {e}") from e


def value_or_path(value: Any, path_text: str | None, scope: PathScope) -> Any:
    """A field given either as a value or as `<Field>Path` (parsed to `path_text`) into the scope."""
    return select(path_text, scope) if path_text else value


def apply_input_path(input_path: Any, scope: PathScope) -> Any:
    if input_path is ABSENT:
        return scope.data
    if input_path is None:
        return {}
    return select(input_path, scope)


def apply_output_path(output_path: Any, scope: PathScope) -> Any:
    return apply_input_path(output_path, scope)


def apply_result_path(result_path: Any, raw_input: Any, result: Any) -> Any:
    """The state input with the result placed at ResultPath (`$` by default, null discards it)."""
    if result_path is ABSENT:
        return result
    if result_path is None:
        return raw_input
    path = compile_path(result_path)
    try:
        return set_at(raw_input, path, result)
    except ResultPathMismatch as e:
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE,
            f'Unable to apply ResultPath "{result_path}" to input "{_text(raw_input)}"',
        ) from e


def apply_template(template: Any, scope: PathScope) -> Any:
    """A payload template: keys ending in `.$` take a path's value or an intrinsic's result."""
    if isinstance(template, list):
        return [apply_template(item, scope) for item in template]
    if not isinstance(template, dict):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$") and isinstance(value, str):
            out[key[:-2]] = evaluate_dollar_field(key, value, scope)
        else:
            out[key] = apply_template(value, scope)
    return out


def evaluate_dollar_field(key: str, value: str, scope: PathScope) -> Any:
    if intrinsics.is_intrinsic(value):
        call = _parse_call(value)

        def resolve(path: JsonPath) -> Any:
            try:
                return scope.resolve(path)
            except PathNotFound as e:
                raise _missing_field(path.text, key, scope) from e

        return intrinsics.evaluate(call, resolve)
    try:
        return scope.resolve(compile_path(value))
    except PathNotFound as e:
        raise _missing_field(value, key, scope) from e


def _missing_field(path_text: str, key: str, scope: PathScope) -> StatesError:
    where = scope.context if path_text.startswith("$$") else scope.data
    return StatesError(
        RUNTIME,
        f"The JSONPath '{path_text}' specified for the field '{key}' could not be found in the input "
        f"'{_text(where)}'",
    )


_CALLS: dict[str, intrinsics.Call] = {}


def _parse_call(text: str) -> intrinsics.Call:
    call = _CALLS.get(text)
    if call is None:
        call = _CALLS[text] = intrinsics.parse_call(text)
    return call


def evaluate_path_or_intrinsic(field: str, value: str, scope: PathScope) -> Any:
    """ErrorPath/CausePath style fields: a path, or an intrinsic function call."""
    if intrinsics.is_intrinsic(value):
        return evaluate_dollar_field(field, value, scope)
    return select(value, scope)


def evaluate_jsonata(value: Any, states: dict[str, Any], variables: dict[str, Any], field: str) -> Any:
    """A JSONata template: `{% %}` strings anywhere inside objects and arrays are evaluated."""
    if isinstance(value, dict):
        return {k: evaluate_jsonata(v, states, variables, f"{field}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_jsonata(v, states, variables, f"{field}/{i}") for i, v in enumerate(value)]
    if jsonata_query.is_expression(value):
        return jsonata_query.evaluate(value, states, variables, field=field)
    return value
