"""`FieldChecker`: the diagnostics of one parse, and the checks for each kind of field.

Every part of the parser reports through one `FieldChecker`, so diagnostics keep the
order the definition is read in. The kinds are the ones many states share: fields a
place does not allow, JSONPaths and reference paths, JSONPath payload templates and
intrinsic calls, `Assign` and JSONata expressions.
"""

from __future__ import annotations

import re
from typing import Any

from lamina.states import intrinsics, jsonata_query
from lamina.states.diagnostics import ERROR, SCHEMA, WARNING, Diagnostic
from lamina.states.jsonpath import JsonPathSyntaxError, compile_path, is_reference_path
from lamina.states.model import ABSENT

_VARIABLE_NAME = re.compile(r"^[^\W\d]\w*$")


class FieldChecker:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def error(self, message: str, location: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(ERROR, code, message, location))

    def warn(self, code: str, message: str, location: str) -> None:
        self.diagnostics.append(Diagnostic(WARNING, code, message, location))

    def reject_unknown(self, raw: dict[str, Any], allowed: set[str], loc: str) -> None:
        for key in raw:
            if key not in allowed:
                self.error(f'The field "{key}" is not supported for Step Functions', loc or "/")

    # -- JSONPaths and payload templates ------------------------------------------------------

    def path_field(
        self, raw: dict[str, Any], field: str, loc: str, reference: bool = False, nullable: bool = True
    ) -> Any:
        if field not in raw:
            return ABSENT
        return self.path_value(raw[field], field, f"{loc}/{field}", reference=reference, nullable=nullable)

    def path_value(
        self, value: Any, field: str, loc: str, reference: bool = False, nullable: bool = True
    ) -> Any:
        if value is None and nullable:
            return None
        ok = isinstance(value, str) and (is_reference_path(value) if reference else valid_path(value))
        if not ok:
            kind = "Reference Path" if reference else "JSONPath"
            self.error(f"The value for the field '{field}' must be a valid {kind}", loc)
        return value

    def template_field(self, raw: dict[str, Any], field: str, loc: str) -> Any:
        if field not in raw:
            return ABSENT
        self.template(raw[field], f"{loc}/{field}")
        return raw[field]

    def template(self, value: Any, loc: str) -> None:
        """Check a JSONPath payload template: every `.$` key holds a path or an intrinsic call."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.template(item, f"{loc}/{i}")
            return
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            if key.endswith(".$"):
                self.dollar_value(key, item, loc)
            else:
                if isinstance(item, str) and (item.startswith("$.") or item.startswith("States.")):
                    self.warn(
                        "NO_DOLLAR",
                        f"The field '{key}' looks like a path or an intrinsic function but "
                        "its name does not end with '.$'",
                        f"{loc}/{key}",
                    )
                self.template(item, f"{loc}/{key}")

    def dollar_value(self, key: str, item: Any, loc: str) -> None:
        message = (
            f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"
        )
        if not isinstance(item, str):
            self.error(message, loc)
        elif intrinsics.is_intrinsic(item):
            self.check_intrinsic(item, key, loc)
        elif not valid_path(item):
            self.error(message, loc)

    def check_intrinsic(self, text: str, field: str, loc: str) -> None:
        try:
            intrinsics.parse_call(text)
        except intrinsics.IntrinsicSyntaxError as e:
            self.error(
                f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function "
                f"call ({e})",
                loc,
            )

    # -- Assign -------------------------------------------------------------------------------

    def assign(self, raw: Any, loc: str, jsonata: bool) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.error("The value for the field 'Assign' must be a JSON object", loc)
            return None
        for key, value in raw.items():
            name = key[:-2] if key.endswith(".$") and not jsonata else key
            if not _VARIABLE_NAME.match(name) or name == "states":
                self.error(f"The variable name '{name}' is not valid", f"{loc}/{key}")
            if jsonata:
                self.jsonata_value(value, f"{loc}/{key}")
            elif key.endswith(".$"):
                self.dollar_value(key, value, loc)
            else:
                self.template(value, f"{loc}/{key}")
        return raw

    # -- JSONata ------------------------------------------------------------------------------

    def jsonata_field(self, raw: dict[str, Any], field: str, loc: str) -> Any:
        if field not in raw:
            return ABSENT
        self.jsonata_value(raw[field], f"{loc}/{field}")
        return raw[field]

    def jsonata_value(self, value: Any, loc: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.jsonata_value(item, f"{loc}/{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_value(item, f"{loc}/{i}")
        elif jsonata_query.is_expression(value):
            self.check_jsonata(value, loc)

    def check_jsonata(self, value: str, loc: str) -> None:
        try:
            jsonata_query.check_syntax(value)
        except jsonata_query.JsonataSyntaxError as e:
            self.error(
                f"The JSONata expression '{jsonata_query.expression_body(value)}' is not valid: {e}", loc
            )


def valid_path(text: str) -> bool:
    try:
        compile_path(text)
    except JsonPathSyntaxError:
        return False
    return True


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value: Any) -> bool:
    return is_int(value) and value > 0
