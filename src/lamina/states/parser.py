"""Definition text to typed states, collecting every problem as a `Diagnostic`.

The parser checks each state's fields (known for its type and query language, of the
right kind, paths and expressions that compile); `validation` adds the checks that need
the whole graph (targets, reachability, a terminal state) and turns errors into the
`InvalidDefinition` AWS answers with.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lamina.states import intrinsics, jsonata_query
from lamina.states.jsonpath import JsonPathSyntaxError, compile_path, is_reference_path
from lamina.states.model import (
    ABSENT,
    JSONATA,
    JSONPATH,
    Catcher,
    ChoiceRule,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
    Workflow,
)
from lamina.states.tasks import parse_resource
from lamina.states.timestamps import parse_timestamp

ERROR = "ERROR"
WARNING = "WARNING"

SCHEMA = "SCHEMA_VALIDATION_FAILED"


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    location: str | None = None

    def to_api(self) -> dict[str, str]:
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out

    def text(self) -> str:
        return f"{self.code}: {self.message}" + (f" at {self.location}" if self.location is not None else "")


_COMMON = {"Type", "Comment", "QueryLanguage"}
_TRANSITION = {"Next", "End"}
# Fields each state type may carry, by query language.
_FIELDS: dict[str, dict[str, set[str]]] = {
    "Pass": {
        JSONPATH: {"InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign"} | _TRANSITION,
        JSONATA: {"Output", "Assign"} | _TRANSITION,
    },
    "Task": {
        JSONPATH: {
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Resource",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        }
        | _TRANSITION,
        JSONATA: {
            "Arguments",
            "Output",
            "Assign",
            "Resource",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
        }
        | _TRANSITION,
    },
    "Choice": {
        JSONPATH: {"Choices", "Default", "InputPath", "OutputPath", "Assign"},
        JSONATA: {"Choices", "Default", "Output", "Assign"},
    },
    "Wait": {
        JSONPATH: {
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        }
        | _TRANSITION,
        JSONATA: {"Seconds", "Timestamp", "Output", "Assign"} | _TRANSITION,
    },
    "Succeed": {JSONPATH: {"InputPath", "OutputPath"}, JSONATA: {"Output"}},
    "Fail": {JSONPATH: {"Error", "Cause", "ErrorPath", "CausePath"}, JSONATA: {"Error", "Cause"}},
    "Parallel": {
        JSONPATH: {
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Branches",
            "Retry",
            "Catch",
            "Assign",
        }
        | _TRANSITION,
        JSONATA: {"Arguments", "Output", "Assign", "Branches", "Retry", "Catch"} | _TRANSITION,
    },
    "Map": {
        JSONPATH: {
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "ItemsPath",
            "ItemSelector",
            "Iterator",
            "ItemProcessor",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ResultWriter",
            "ItemBatcher",
            "Label",
            "Retry",
            "Catch",
            "Assign",
        }
        | _TRANSITION,
        JSONATA: {
            "Items",
            "ItemSelector",
            "ItemProcessor",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "ItemReader",
            "ResultWriter",
            "ItemBatcher",
            "Label",
            "Output",
            "Assign",
            "Retry",
            "Catch",
        }
        | _TRANSITION,
    },
}
_TERMINAL_TYPES = {"Choice", "Succeed", "Fail"}  # these never take Next/End

_STRING_OPS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
_NUMERIC_OPS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
_TIMESTAMP_OPS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
_TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
COMPARISON_OPERATORS: tuple[str, ...] = (
    *_STRING_OPS,
    *(op + "Path" for op in _STRING_OPS),
    "StringMatches",
    *_NUMERIC_OPS,
    *(op + "Path" for op in _NUMERIC_OPS),
    "BooleanEquals",
    "BooleanEqualsPath",
    *_TIMESTAMP_OPS,
    *(op + "Path" for op in _TIMESTAMP_OPS),
    *_TYPE_TESTS,
)
_VARIABLE_NAME = re.compile(r"^[^\W\d]\w*$")
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
        return json.loads(text, object_pairs_hook=_object_pairs), []
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
    if any(d.severity == ERROR for d in builder.diagnostics):
        return None, builder.diagnostics
    return machine, builder.diagnostics


class _Builder:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.workflows: dict[str, Workflow] = {}
        self.seen_names: set[str] = set()

    def error(self, message: str, location: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(ERROR, code, message, location))

    def warn(self, code: str, message: str, location: str) -> None:
        self.diagnostics.append(Diagnostic(WARNING, code, message, location))

    # -- machine and workflows ---------------------------------------------------------

    def machine(self, raw: Any, text: str) -> StateMachine | None:
        if not isinstance(raw, dict):
            self.error("The definition must be a JSON object", "/")
            return None
        self._unknown(raw, {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"}, "")
        language = raw.get("QueryLanguage", JSONPATH)
        if language not in (JSONPATH, JSONATA):
            self.error("Value must be one of [JSONPath, JSONata]", "/QueryLanguage")
            language = JSONPATH
        timeout = raw.get("TimeoutSeconds")
        if timeout is not None and not _positive_int(timeout):
            self.error(
                "The value for the field 'TimeoutSeconds' must be a positive integer", "/TimeoutSeconds"
            )
        if "Version" in raw and raw["Version"] != "1.0":
            self.error("The value for the field 'Version' must be \"1.0\"", "/Version")
        root = self.workflow(raw, "", "/", language)
        if root is None:
            return None
        return StateMachine(
            text, root, self.workflows, timeout if _positive_int(timeout) else None, raw.get("Comment")
        )

    def workflow(self, raw: Any, prefix: str, key: str, language: str) -> Workflow | None:
        where = prefix or "/"
        if not isinstance(raw, dict):
            self.error("The value must be a JSON object", where)
            return None
        missing = [f for f in ("StartAt", "States") if f not in raw]
        if missing:
            self.error(f"These fields are required: [{', '.join(missing)}]", where)
            return None
        start_at, states_raw = raw["StartAt"], raw["States"]
        if not isinstance(start_at, str):
            self.error("The value for the field 'StartAt' must be a string", f"{prefix}/StartAt")
        if not isinstance(states_raw, dict) or not states_raw:
            self.error("The value for the field 'States' must be a non-empty JSON object", f"{prefix}/States")
            return None
        for name in getattr(states_raw, "duplicates", []):
            self.error(f"Duplicate State name: {name}", f"{prefix}/States/{name}", "DUPLICATE_STATE_NAME")
        states: dict[str, State] = {}
        for name, state_raw in states_raw.items():
            location = f"{prefix}/States/{name}"
            if name in self.seen_names:
                self.error(f"Duplicate State name: {name}", location, "DUPLICATE_STATE_NAME")
            self.seen_names.add(name)
            if not name or len(name) > _STATE_NAME_MAX:
                self.error(
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
        if not isinstance(raw, dict):
            self.error("The value must be a JSON object", loc)
            return None
        if "Type" not in raw:
            self.error("These fields are required: [Type]", loc)
            return None
        kind = raw["Type"]
        if kind not in _FIELDS:
            self.error("Value is not a valid state type", f"{loc}/Type")
            return None
        language = raw.get("QueryLanguage", inherited)
        if language not in (JSONPATH, JSONATA):
            self.error("Value must be one of [JSONPath, JSONata]", f"{loc}/QueryLanguage")
            return None
        if inherited == JSONATA and language == JSONPATH:
            self.error(
                "A state cannot use JSONPath when the state machine's QueryLanguage is JSONata",
                f"{loc}/QueryLanguage",
            )
            return None
        allowed = _FIELDS[kind][language] | _COMMON
        other = JSONATA if language == JSONPATH else JSONPATH
        for key in raw:
            if key in allowed:
                continue
            if key in _FIELDS[kind][other]:
                self.error(f'The field "{key}" is not supported for {language} states', loc)
            else:
                self.error(f'The field "{key}" is not supported for Step Functions', loc)
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
        if kind not in _TERMINAL_TYPES:
            self._transition(state, raw, loc)
        jsonata = language == JSONATA
        if jsonata:
            state.output = self._jsonata_field(raw, "Output", loc)
            if kind in ("Task", "Parallel"):
                state.arguments = self._jsonata_field(raw, "Arguments", loc)
                if (
                    state.arguments is not ABSENT
                    and not isinstance(state.arguments, dict)
                    and not jsonata_query.is_expression(state.arguments)
                ):
                    self.error(
                        "The value for the field 'Arguments' must be a JSON object or a JSONata expression",
                        f"{loc}/Arguments",
                    )
        else:
            state.input_path = self._path_field(raw, "InputPath", loc)
            state.output_path = self._path_field(raw, "OutputPath", loc)
            if kind in ("Pass", "Task", "Parallel", "Map"):
                state.result_path = self._path_field(raw, "ResultPath", loc, reference=True)
                state.parameters = self._template_field(raw, "Parameters", loc)
            if kind in ("Task", "Parallel", "Map"):
                state.result_selector = self._template_field(raw, "ResultSelector", loc)
        if "Assign" in raw:
            state.assign = self._assign(raw["Assign"], f"{loc}/Assign", jsonata)
        if "Retry" in raw:
            state.retry = self._retriers(raw["Retry"], f"{loc}/Retry")
        if "Catch" in raw:
            state.catch = self._catchers(raw["Catch"], f"{loc}/Catch", jsonata)
        getattr(self, f"_{kind.lower()}")(state, raw, loc)
        return state

    def _transition(self, state: State, raw: dict[str, Any], loc: str) -> None:
        has_next, end = "Next" in raw, raw.get("End")
        if has_next and end is True:
            self.error("These fields cannot be present at the same time: [Next, End]", loc)
        elif not has_next and end is not True:
            self.error("This state must have either a 'Next' or an 'End' field that is true", loc)
        if has_next and not isinstance(raw["Next"], str):
            self.error("The value for the field 'Next' must be a string", f"{loc}/Next")
        if "End" in raw and not isinstance(end, bool):
            self.error("The value for the field 'End' must be a boolean", f"{loc}/End")
        state.next = raw["Next"] if isinstance(raw.get("Next"), str) else None
        state.end = end is True

    def _pass(self, state: PassState, raw: dict[str, Any], loc: str) -> None:
        if "Result" in raw:
            state.result = raw["Result"]
            if _looks_like_path_template(raw["Result"]):
                self.warn(
                    "PASS_RESULT_IS_STATIC",
                    "Result is static: paths and intrinsic functions in it are not evaluated",
                    f"{loc}/Result",
                )

    def _task(self, state: TaskState, raw: dict[str, Any], loc: str) -> None:
        if "Resource" not in raw:
            self.error("These fields are required: [Resource]", loc)
        elif parse_resource(raw["Resource"]) is None:
            self.error("Value is not a valid resource ARN", f"{loc}/Resource", "INVALID_RESOURCE")
        else:
            state.resource = raw["Resource"]
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            attr = "timeout_seconds" if field == "TimeoutSeconds" else "heartbeat_seconds"
            if field in raw and f"{field}Path" in raw:
                self.error(f"These fields cannot be present at the same time: [{field}, {field}Path]", loc)
            if field in raw:
                value = raw[field]
                if state.jsonata and jsonata_query.is_expression(value):
                    self._check_jsonata(value, f"{loc}/{field}")
                elif not _positive_int(value) or value > 99999999:
                    self.error(
                        f"The value for the field '{field}' must be a positive integer", f"{loc}/{field}"
                    )
                setattr(state, attr, value)
            if f"{field}Path" in raw:
                setattr(
                    state,
                    f"{attr}_path",
                    self._path_field(raw, f"{field}Path", loc, reference=True, nullable=False),
                )
        timeout, heartbeat = state.timeout_seconds, state.heartbeat_seconds
        if _positive_int(timeout) and _positive_int(heartbeat) and heartbeat >= timeout:
            self.error("HeartbeatSeconds must be smaller than TimeoutSeconds", f"{loc}/HeartbeatSeconds")
        if "Credentials" in raw:
            state.credentials = raw["Credentials"]

    def _choice(self, state: ChoiceState, raw: dict[str, Any], loc: str) -> None:
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.error("The value for the field 'Choices' must be a non-empty array", f"{loc}/Choices")
            return
        for i, rule_raw in enumerate(choices):
            rule = self._rule(rule_raw, f"{loc}/Choices/{i}", state.jsonata, top=True)
            if rule is not None:
                state.choices.append(rule)
        if "Default" in raw:
            if not isinstance(raw["Default"], str):
                self.error("The value for the field 'Default' must be a string", f"{loc}/Default")
            else:
                state.default = raw["Default"]

    def _rule(self, raw: Any, loc: str, jsonata: bool, top: bool) -> ChoiceRule | None:
        if not isinstance(raw, dict):
            self.error("A choice rule must be a JSON object", loc)
            return None
        rule = ChoiceRule()
        allowed = {"Comment"} | ({"Next", "Assign"} if top else set())
        if jsonata:
            allowed |= {"Condition"} | ({"Output"} if top else set())
        else:
            allowed |= {"Variable", "And", "Or", "Not", *COMPARISON_OPERATORS}
        for key in raw:
            if key not in allowed:
                self.error(f'The field "{key}" is not supported for Step Functions', loc)
        if top:
            if not isinstance(raw.get("Next"), str):
                self.error("These fields are required: [Next]", loc)
            rule.next = raw.get("Next") if isinstance(raw.get("Next"), str) else None
            if "Assign" in raw:
                rule.assign = self._assign(raw["Assign"], f"{loc}/Assign", jsonata)
        if jsonata:
            if "Condition" not in raw:
                self.error("These fields are required: [Condition]", loc)
            else:
                rule.condition = raw["Condition"]
                if jsonata_query.is_expression(rule.condition):
                    self._check_jsonata(rule.condition, f"{loc}/Condition")
                elif not isinstance(rule.condition, bool):
                    self.error(
                        "The value for the field 'Condition' must be a JSONata expression or a boolean",
                        f"{loc}/Condition",
                    )
            if "Output" in raw:
                rule.output = self._jsonata_field(raw, "Output", loc)
            return rule
        operators = [k for k in raw if k in ("And", "Or", "Not") or k in COMPARISON_OPERATORS]
        if len(operators) != 1:
            self.error("A choice rule must have exactly one comparison operator or And/Or/Not", loc)
            return None
        op = operators[0]
        value = raw[op]
        if op in ("And", "Or"):
            rule.combinator = op
            if not isinstance(value, list) or not value:
                self.error(f"The value for the field '{op}' must be a non-empty array", f"{loc}/{op}")
                return None
            if "Variable" in raw:
                self.error('The field "Variable" is not supported for Step Functions', loc)
            for i, child in enumerate(value):
                child_rule = self._rule(child, f"{loc}/{op}/{i}", jsonata, top=False)
                if child_rule is not None:
                    rule.children.append(child_rule)
            return rule
        if op == "Not":
            rule.combinator = op
            if "Variable" in raw:
                self.error('The field "Variable" is not supported for Step Functions', loc)
            child_rule = self._rule(value, f"{loc}/Not", jsonata, top=False)
            if child_rule is not None:
                rule.children.append(child_rule)
            return rule
        if "Variable" not in raw:
            self.error("These fields are required: [Variable]", loc)
            return None
        rule.variable = self._path_value(raw["Variable"], "Variable", f"{loc}/Variable", nullable=False)
        rule.operator, rule.operand = op, value
        self._check_operand(op, value, f"{loc}/{op}")
        return rule

    def _check_operand(self, op: str, value: Any, loc: str) -> None:
        if op.endswith("Path"):
            self._path_value(value, op, loc, nullable=False)
        elif op.startswith("String"):
            if not isinstance(value, str):
                self.error(f"The value for the field '{op}' must be a string", loc)
        elif op.startswith("Numeric"):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.error(f"The value for the field '{op}' must be a number", loc)
        elif op.startswith("Timestamp"):
            if parse_timestamp(value) is None:
                self.error(f"The value for the field '{op}' must be a valid timestamp", loc)
        elif not isinstance(value, bool):  # BooleanEquals and the Is* tests
            self.error(f"The value for the field '{op}' must be a boolean", loc)

    def _wait(self, state: WaitState, raw: dict[str, Any], loc: str) -> None:
        given = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in raw]
        if len(given) != 1:
            self.error(
                "A Wait state must have exactly one of [Seconds, Timestamp, SecondsPath, TimestampPath]", loc
            )
            return
        field = given[0]
        value = raw[field]
        if state.jsonata and jsonata_query.is_expression(value):
            self._check_jsonata(value, f"{loc}/{field}")
        elif field == "Seconds" and not (_int(value) and value >= 0):
            self.error("The value for the field 'Seconds' must be a non-negative integer", f"{loc}/Seconds")
        elif field == "Timestamp" and parse_timestamp(value) is None:
            self.error("The value for the field 'Timestamp' must be a valid timestamp", f"{loc}/Timestamp")
        elif field.endswith("Path"):
            self._path_value(value, field, f"{loc}/{field}", nullable=False)
        attr = {
            "Seconds": "seconds",
            "Timestamp": "timestamp",
            "SecondsPath": "seconds_path",
            "TimestampPath": "timestamp_path",
        }[field]
        setattr(state, attr, value)

    def _succeed(self, state: SucceedState, raw: dict[str, Any], loc: str) -> None:
        pass

    def _fail(self, state: FailState, raw: dict[str, Any], loc: str) -> None:
        for field in ("Error", "Cause"):
            if field in raw and f"{field}Path" in raw:
                self.error(f"These fields cannot be present at the same time: [{field}, {field}Path]", loc)
            if field in raw:
                value = raw[field]
                if state.jsonata and jsonata_query.is_expression(value):
                    self._check_jsonata(value, f"{loc}/{field}")
                elif not isinstance(value, str):
                    self.error(f"The value for the field '{field}' must be a string", f"{loc}/{field}")
                setattr(state, field.lower(), value)
            path_field = f"{field}Path"
            if path_field in raw:
                value = raw[path_field]
                if intrinsics.is_intrinsic(value):
                    self._check_intrinsic(value, path_field, f"{loc}/{path_field}")
                else:
                    self._path_value(value, path_field, f"{loc}/{path_field}", nullable=False)
                setattr(state, f"{field.lower()}_path", value)

    def _parallel(self, state: ParallelState, raw: dict[str, Any], loc: str) -> None:
        branches = raw.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.error("The value for the field 'Branches' must be a non-empty array", f"{loc}/Branches")
            return
        for i, branch in enumerate(branches):
            if isinstance(branch, dict):
                self._unknown(branch, {"StartAt", "States", "Comment"}, f"{loc}/Branches/{i}")
            workflow = self.workflow(
                branch, f"{loc}/Branches/{i}", f"{loc}/Branches/{i}", state.query_language
            )
            if workflow is not None:
                state.branches.append(workflow)

    def _map(self, state: MapState, raw: dict[str, Any], loc: str) -> None:
        for unsupported in ("ItemReader", "ResultWriter"):
            if unsupported in raw:
                self.error(
                    f'The field "{unsupported}" is not supported by lamina: Map states read their items '
                    "from the state input and return results inline",
                    f"{loc}/{unsupported}",
                )
        if "ItemProcessor" in raw and "Iterator" in raw:
            self.error("These fields cannot be present at the same time: [ItemProcessor, Iterator]", loc)
        processor_field = (
            "ItemProcessor" if "ItemProcessor" in raw else "Iterator" if "Iterator" in raw else None
        )
        if processor_field is None:
            self.error("These fields are required: [ItemProcessor]", loc)
        else:
            processor = raw[processor_field]
            where = f"{loc}/{processor_field}"
            if isinstance(processor, dict):
                allowed = {"StartAt", "States", "Comment"} | (
                    {"ProcessorConfig"} if processor_field == "ItemProcessor" else set()
                )
                self._unknown(processor, allowed, where)
                config = processor.get("ProcessorConfig", {})
                if not isinstance(config, dict):
                    self.error(
                        "The value for the field 'ProcessorConfig' must be a JSON object",
                        f"{where}/ProcessorConfig",
                    )
                else:
                    mode = config.get("Mode", "INLINE")
                    if mode not in ("INLINE", "DISTRIBUTED"):
                        self.error(
                            "Value must be one of [INLINE, DISTRIBUTED]", f"{where}/ProcessorConfig/Mode"
                        )
                    state.processor_mode = mode
                    for key in config:
                        if key not in ("Mode", "ExecutionType"):
                            self.error(
                                f'The field "{key}" is not supported for Step Functions',
                                f"{where}/ProcessorConfig",
                            )
            state.processor = self.workflow(processor, where, where, state.query_language)
        if "ItemSelector" in raw and "Parameters" in raw:
            self.error("These fields cannot be present at the same time: [ItemSelector, Parameters]", loc)
        if state.jsonata:
            state.item_selector = self._jsonata_field(raw, "ItemSelector", loc)
            if "Items" in raw:
                items = raw["Items"]
                if jsonata_query.is_expression(items):
                    self._check_jsonata(items, f"{loc}/Items")
                elif not isinstance(items, list):
                    self.error(
                        "The value for the field 'Items' must be a JSON array or a JSONata expression",
                        f"{loc}/Items",
                    )
                state.items = items
        else:
            state.items_path = self._path_field(raw, "ItemsPath", loc, nullable=False)
            selector = self._template_field(raw, "ItemSelector", loc)
            state.item_selector = selector if selector is not ABSENT else state.parameters
            state.parameters = ABSENT  # in a Map, Parameters is the legacy name of ItemSelector
        self._number_field(state, raw, loc, "MaxConcurrency", "max_concurrency", 0, None)
        self._number_field(state, raw, loc, "ToleratedFailureCount", "tolerated_failure_count", 0, None)
        self._number_field(
            state,
            raw,
            loc,
            "ToleratedFailurePercentage",
            "tolerated_failure_percentage",
            0,
            100,
            integer=False,
        )
        if "ItemBatcher" in raw:
            batcher = raw["ItemBatcher"]
            if not isinstance(batcher, dict):
                self.error(
                    "The value for the field 'ItemBatcher' must be a JSON object", f"{loc}/ItemBatcher"
                )
            else:
                for key in batcher:
                    if key not in ("MaxItemsPerBatch", "BatchInput"):
                        self.error(f'The field "{key}" is not supported by lamina', f"{loc}/ItemBatcher")
                size = batcher.get("MaxItemsPerBatch")
                if size is not None and not _positive_int(size):
                    self.error(
                        "The value for the field 'MaxItemsPerBatch' must be a positive integer",
                        f"{loc}/ItemBatcher/MaxItemsPerBatch",
                    )
                state.item_batcher = batcher
        if "Label" in raw:
            state.label = raw["Label"]

    def _number_field(
        self,
        state: MapState,
        raw: dict[str, Any],
        loc: str,
        field: str,
        attr: str,
        low: int,
        high: int | None,
        integer: bool = True,
    ) -> None:
        if field in raw and f"{field}Path" in raw:
            self.error(f"These fields cannot be present at the same time: [{field}, {field}Path]", loc)
        if field in raw:
            value = raw[field]
            if state.jsonata and jsonata_query.is_expression(value):
                self._check_jsonata(value, f"{loc}/{field}")
            else:
                ok = (
                    _int(value)
                    if integer
                    else isinstance(value, (int, float)) and not isinstance(value, bool)
                )
                if not ok or value < low or (high is not None and value > high):
                    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
                    self.error(
                        f"The value for the field '{field}' must be a number {bounds}", f"{loc}/{field}"
                    )
            setattr(state, attr, value)
        if f"{field}Path" in raw:
            setattr(
                state,
                f"{attr}_path",
                self._path_field(raw, f"{field}Path", loc, reference=True, nullable=False),
            )

    # -- Retry and Catch ----------------------------------------------------------------------

    def _error_equals(self, raw: dict[str, Any], loc: str, last: bool) -> list[str]:
        errors = raw.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            self.error(
                "The value for the field 'ErrorEquals' must be a non-empty array of strings",
                f"{loc}/ErrorEquals",
            )
            return []
        if "States.ALL" in errors and (len(errors) > 1 or not last):
            self.error(
                "States.ALL must appear alone in ErrorEquals, and only in the last retrier or catcher",
                f"{loc}/ErrorEquals",
            )
        return errors

    def _retriers(self, raw: Any, loc: str) -> list[Retrier]:
        if not isinstance(raw, list):
            self.error("The value for the field 'Retry' must be an array", loc)
            return []
        out = []
        for i, r in enumerate(raw):
            where = f"{loc}/{i}"
            if not isinstance(r, dict):
                self.error("A retrier must be a JSON object", where)
                continue
            self._unknown(
                r,
                {
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                },
                where,
            )
            retrier = Retrier(self._error_equals(r, where, i == len(raw) - 1))
            if "IntervalSeconds" in r:
                if not _positive_int(r["IntervalSeconds"]) or r["IntervalSeconds"] > 99999999:
                    self.error(
                        "The value for the field 'IntervalSeconds' must be a positive integer",
                        f"{where}/IntervalSeconds",
                    )
                retrier.interval_seconds = r["IntervalSeconds"]
            if "MaxAttempts" in r:
                if not _int(r["MaxAttempts"]) or not 0 <= r["MaxAttempts"] <= 99999999:
                    self.error(
                        "The value for the field 'MaxAttempts' must be a non-negative integer",
                        f"{where}/MaxAttempts",
                    )
                retrier.max_attempts = r["MaxAttempts"]
            if "BackoffRate" in r:
                rate = r["BackoffRate"]
                if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 1.0:
                    self.error(
                        "The value for the field 'BackoffRate' must be a number not less than 1.0",
                        f"{where}/BackoffRate",
                    )
                retrier.backoff_rate = rate
            if "MaxDelaySeconds" in r:
                if not _positive_int(r["MaxDelaySeconds"]) or r["MaxDelaySeconds"] > 31622400:
                    self.error(
                        "The value for the field 'MaxDelaySeconds' must be a positive integer",
                        f"{where}/MaxDelaySeconds",
                    )
                retrier.max_delay_seconds = r["MaxDelaySeconds"]
            if "JitterStrategy" in r:
                if r["JitterStrategy"] not in ("FULL", "NONE"):
                    self.error("Value must be one of [FULL, NONE]", f"{where}/JitterStrategy")
                retrier.jitter_strategy = r["JitterStrategy"]
            out.append(retrier)
        return out

    def _catchers(self, raw: Any, loc: str, jsonata: bool) -> list[Catcher]:
        if not isinstance(raw, list):
            self.error("The value for the field 'Catch' must be an array", loc)
            return []
        out = []
        for i, c in enumerate(raw):
            where = f"{loc}/{i}"
            if not isinstance(c, dict):
                self.error("A catcher must be a JSON object", where)
                continue
            allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | (
                {"Output"} if jsonata else {"ResultPath"}
            )
            self._unknown(c, allowed, where)
            errors = self._error_equals(c, where, i == len(raw) - 1)
            if not isinstance(c.get("Next"), str):
                self.error("These fields are required: [Next]", where)
            catcher = Catcher(errors, c.get("Next") if isinstance(c.get("Next"), str) else "")
            if jsonata:
                catcher.output = self._jsonata_field(c, "Output", where)
            else:
                catcher.result_path = self._path_field(c, "ResultPath", where, reference=True)
            if "Assign" in c:
                catcher.assign = self._assign(c["Assign"], f"{where}/Assign", jsonata)
            out.append(catcher)
        return out

    # -- field kinds --------------------------------------------------------------------------

    def _unknown(self, raw: dict[str, Any], allowed: set[str], loc: str) -> None:
        for key in raw:
            if key not in allowed:
                self.error(f'The field "{key}" is not supported for Step Functions', loc or "/")

    def _path_field(
        self, raw: dict[str, Any], field: str, loc: str, reference: bool = False, nullable: bool = True
    ) -> Any:
        if field not in raw:
            return ABSENT
        return self._path_value(raw[field], field, f"{loc}/{field}", reference=reference, nullable=nullable)

    def _path_value(
        self, value: Any, field: str, loc: str, reference: bool = False, nullable: bool = True
    ) -> Any:
        if value is None and nullable:
            return None
        ok = isinstance(value, str) and (is_reference_path(value) if reference else _valid_path(value))
        if not ok:
            kind = "Reference Path" if reference else "JSONPath"
            self.error(f"The value for the field '{field}' must be a valid {kind}", loc)
        return value

    def _template_field(self, raw: dict[str, Any], field: str, loc: str) -> Any:
        if field not in raw:
            return ABSENT
        self._template(raw[field], f"{loc}/{field}")
        return raw[field]

    def _template(self, value: Any, loc: str) -> None:
        """Check a JSONPath payload template: every `.$` key holds a path or an intrinsic call."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self._template(item, f"{loc}/{i}")
            return
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            if key.endswith(".$"):
                self._dollar_value(key, item, loc)
            else:
                if isinstance(item, str) and (item.startswith("$.") or item.startswith("States.")):
                    self.warn(
                        "NO_DOLLAR",
                        f"The field '{key}' looks like a path or an intrinsic function but "
                        "its name does not end with '.$'",
                        f"{loc}/{key}",
                    )
                self._template(item, f"{loc}/{key}")

    def _dollar_value(self, key: str, item: Any, loc: str) -> None:
        message = (
            f"The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"
        )
        if not isinstance(item, str):
            self.error(message, loc)
        elif intrinsics.is_intrinsic(item):
            self._check_intrinsic(item, key, loc)
        elif not _valid_path(item):
            self.error(message, loc)

    def _check_intrinsic(self, text: str, field: str, loc: str) -> None:
        try:
            intrinsics.parse_call(text)
        except intrinsics.IntrinsicSyntaxError as e:
            self.error(
                f"The value for the field '{field}' must be a valid JSONPath or a valid intrinsic function "
                f"call ({e})",
                loc,
            )

    def _assign(self, raw: Any, loc: str, jsonata: bool) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.error("The value for the field 'Assign' must be a JSON object", loc)
            return None
        for key, value in raw.items():
            name = key[:-2] if key.endswith(".$") and not jsonata else key
            if not _VARIABLE_NAME.match(name) or name == "states":
                self.error(f"The variable name '{name}' is not valid", f"{loc}/{key}")
            if jsonata:
                self._jsonata_value(value, f"{loc}/{key}")
            elif key.endswith(".$"):
                self._dollar_value(key, value, loc)
            else:
                self._template(value, f"{loc}/{key}")
        return raw

    def _jsonata_field(self, raw: dict[str, Any], field: str, loc: str) -> Any:
        if field not in raw:
            return ABSENT
        self._jsonata_value(raw[field], f"{loc}/{field}")
        return raw[field]

    def _jsonata_value(self, value: Any, loc: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._jsonata_value(item, f"{loc}/{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._jsonata_value(item, f"{loc}/{i}")
        elif jsonata_query.is_expression(value):
            self._check_jsonata(value, loc)

    def _check_jsonata(self, value: str, loc: str) -> None:
        try:
            jsonata_query.check_syntax(value)
        except jsonata_query.JsonataSyntaxError as e:
            self.error(
                f"The JSONata expression '{jsonata_query.expression_body(value)}' is not valid: {e}", loc
            )


def _valid_path(text: str) -> bool:
    try:
        compile_path(text)
    except JsonPathSyntaxError:
        return False
    return True


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any) -> bool:
    return _int(value) and value > 0


def _looks_like_path_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.endswith(".$") or _looks_like_path_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_looks_like_path_template(v) for v in value)
    return False
