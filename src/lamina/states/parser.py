"""Definition text to typed states, collecting every problem as a `Diagnostic`.

The parser checks each state's fields (known for its type and query language, of the
right kind, paths and expressions that compile); `validation` adds the checks that need
the whole graph (targets, reachability, a terminal state) and turns errors into the
`InvalidDefinition` AWS answers with.

This module is the entry point (`parse`, `load_definition`) and the walk over the
definition: the machine, its workflows and what every state has. The rest lives in
`diagnostics`, `allowed_fields` (the tables), `field_checks` (kinds of field),
`state_types` (each type's own fields), `choice_rules` and `retry_catch`.
"""

from __future__ import annotations

import json
from typing import Any

from lamina.states import jsonata_query, jsondoc
from lamina.states.allowed_fields import ALLOWED_FIELDS, COMMON_FIELDS, COMPARISON_OPERATORS, TERMINAL_TYPES
from lamina.states.diagnostics import ERROR, SCHEMA, WARNING, Diagnostic
from lamina.states.field_checks import FieldChecker, is_positive_int
from lamina.states.model import (
    ABSENT,
    JSONATA,
    JSONPATH,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    Workflow,
)
from lamina.states.retry_catch import parse_catchers, parse_retriers
from lamina.states.state_types import StateTypeParser

__all__ = [
    "COMPARISON_OPERATORS",
    "ERROR",
    "SCHEMA",
    "WARNING",
    "Diagnostic",
    "load_definition",
    "parse",
]

_STATE_NAME_MAX = 80


class _Object(dict):  # type: ignore[type-arg]
    """A JSON object that remembers keys it saw twice (json.loads keeps only the last)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def load_definition(text: Any) -> tuple[Any, list[Diagnostic]]:
    if not isinstance(text, str) or not text.strip():
        return None, [Diagnostic(ERROR, "MISSING_DESCRIPTION", "Received a null or empty workflow input.")]
    try:
        return jsondoc.loads(text, object_pairs_hook=_object_pairs), []
    except json.JSONDecodeError as e:
        message = f"{e.msg} at line {e.lineno}, column {e.colno}"
        return None, [Diagnostic(ERROR, "INVALID_JSON_DESCRIPTION", message)]


def parse(text: str) -> tuple[StateMachine | None, list[Diagnostic]]:
    """The parsed machine (None when it has errors) and every diagnostic found."""
    raw, diagnostics = load_definition(text)
    if diagnostics:
        return None, diagnostics
    builder = _Builder()
    machine = builder.machine(raw, text)
    if any(d.severity == ERROR for d in builder.check.diagnostics):
        return None, builder.check.diagnostics
    return machine, builder.check.diagnostics


class _Builder:
    def __init__(self) -> None:
        self.check = FieldChecker()
        self.types = StateTypeParser(self.check, self.workflow)
        self.workflows: dict[str, Workflow] = {}
        self.seen_names: set[str] = set()

    # -- machine and workflows ---------------------------------------------------------

    def machine(self, raw: Any, text: str) -> StateMachine | None:
        check = self.check
        if not isinstance(raw, dict):
            check.error("The definition must be a JSON object", "/")
            return None
        check.reject_unknown(
            raw, {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}, ""
        )
        language = raw.get("QueryLanguage", JSONPATH)
        if language not in (JSONPATH, JSONATA):
            check.error("Value must be one of [JSONPath, JSONata]", "/QueryLanguage")
            language = JSONPATH
        timeout = raw.get("TimeoutSeconds")
        if timeout is not None and not is_positive_int(timeout):
            check.error(
                "The value for the field 'TimeoutSeconds' must be a positive integer", "/TimeoutSeconds"
            )
        if "Version" in raw and raw["Version"] != "1.0":
            check.error("The value for the field 'Version' must be \"1.0\"", "/Version")
        root = self.workflow(raw, "", "/", language)
        if root is None:
            return None
        return StateMachine(
            text, root, self.workflows, timeout if is_positive_int(timeout) else None, raw.get("Comment")
        )

    def workflow(self, raw: Any, prefix: str, key: str, language: str) -> Workflow | None:
        check = self.check
        where = prefix or "/"
        if not isinstance(raw, dict):
            check.error("The value must be a JSON object", where)
            return None
        missing = [f for f in ("StartAt", "States") if f not in raw]
        if missing:
            check.error(f"These fields are required: [{', '.join(missing)}]", where)
            return None
        start_at, states_raw = raw["StartAt"], raw["States"]
        if not isinstance(start_at, str):
            check.error("The value for the field 'StartAt' must be a string", f"{prefix}/StartAt")
        if not isinstance(states_raw, dict) or not states_raw:
            check.error(
                "The value for the field 'States' must be a non-empty JSON object", f"{prefix}/States"
            )
            return None
        for name in getattr(states_raw, "duplicates", []):
            check.error(f"Duplicate State name: {name}", f"{prefix}/States/{name}", "DUPLICATE_STATE_NAME")
        states: dict[str, State] = {}
        for name, state_raw in states_raw.items():
            location = f"{prefix}/States/{name}"
            if name in self.seen_names:
                check.error(f"Duplicate State name: {name}", location, "DUPLICATE_STATE_NAME")
            self.seen_names.add(name)
            if not name or len(name) > _STATE_NAME_MAX:
                check.error(
                    f"State name must be 1 to {_STATE_NAME_MAX} characters long: {name}",
                    location,
                    "INVALID_STATE_NAME",
                )
            state = self.state(name, state_raw, location, language)
            if state is not None:
                states[name] = state
        workflow = Workflow(key, start_at if isinstance(start_at, str) else "", states, language)
        self.workflows[key] = workflow
        return workflow

    # -- states ----------------------------------------------------------------------------

    def state(self, name: str, raw: Any, loc: str, inherited: str) -> State | None:
        """The state with what every type has; `StateTypeParser` reads the rest."""
        check = self.check
        if not isinstance(raw, dict):
            check.error("The value must be a JSON object", loc)
            return None
        if "Type" not in raw:
            check.error("These fields are required: [Type]", loc)
            return None
        kind = raw["Type"]
        if not isinstance(kind, str) or kind not in ALLOWED_FIELDS:
            check.error("Value is not a valid state type", f"{loc}/Type")
            return None
        language = raw.get("QueryLanguage", inherited)
        if not isinstance(language, str) or language not in (JSONPATH, JSONATA):
            check.error("Value must be one of [JSONPath, JSONata]", f"{loc}/QueryLanguage")
            return None
        if inherited == JSONATA and language == JSONPATH:
            check.error(
                "A state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
                f"{loc}/QueryLanguage",
            )
            return None
        allowed = ALLOWED_FIELDS[kind][language] | COMMON_FIELDS
        other = JSONATA if language == JSONPATH else JSONPATH
        for key in raw:
            if key in allowed:
                continue
            if key in ALLOWED_FIELDS[kind][other]:
                check.error(f'The field "{key}" is not supported for {language} states', loc)
            else:
                check.error(f'The field "{key}" is not supported for Step Functions', loc)
        cls = {
            "Pass": PassState,
            "Task": TaskState,
            "Choice": ChoiceState,
            "Wait": WaitState,
            "Succeed": SucceedState,
            "Fail": FailState,
            "Parallel": ParallelState,
            "Map": MapState,
        }[kind]
        state = cls(name=name, type=kind, query_language=language, location=loc, comment=raw.get("Comment"))
        if kind not in TERMINAL_TYPES:
            self._transition(state, raw, loc)
        jsonata = language == JSONATA
        if jsonata:
            state.output = check.jsonata_field(raw, "Output", loc)
            if kind in ("Task", "Parallel"):
                state.arguments = check.jsonata_field(raw, "Arguments", loc)
                if (
                    state.arguments is not ABSENT
                    and not isinstance(state.arguments, dict)
                    and not jsonata_query.is_expression(state.arguments)
                ):
                    check.error(
                        "The value for the field 'Arguments' must be a JSON object or a JSONata expression",
                        f"{loc}/Arguments",
                    )
        else:
            state.input_path = check.path_field(raw, "InputPath", loc)
            state.output_path = check.path_field(raw, "OutputPath", loc)
            if kind in ("Pass", "Task", "Parallel", "Map"):
                state.result_path = check.path_field(raw, "ResultPath", loc, reference=True)
                state.parameters = check.template_field(raw, "Parameters", loc)
            if kind in ("Task", "Parallel", "Map"):
                state.result_selector = check.template_field(raw, "ResultSelector", loc)
        if "Assign" in raw:
            state.assign = check.assign(raw["Assign"], f"{loc}/Assign", jsonata)
        if "Retry" in raw:
            state.retry = parse_retriers(check, raw["Retry"], f"{loc}/Retry")
        if "Catch" in raw:
            state.catch = parse_catchers(check, raw["Catch"], f"{loc}/Catch", jsonata)
        self.types.parse(state, raw, loc)
        return state

    def _transition(self, state: State, raw: dict[str, Any], loc: str) -> None:
        check = self.check
        has_next, end = "Next" in raw, raw.get("End")
        if has_next and end is True:
            check.error("These fields cannot be present at the same time: [Next, End]", loc)
        elif not has_next and end is not True:
            check.error("This state must have either a 'Next' or an 'End' field that is true", loc)
        if has_next and not isinstance(raw["Next"], str):
            check.error("The value for the field 'Next' must be a string", f"{loc}/Next")
        if "End" in raw and not isinstance(end, bool):
            check.error("The value for the field 'End' must be a boolean", f"{loc}/End")
        state.next = raw["Next"] if isinstance(raw.get("Next"), str) else None
        state.end = end is True
