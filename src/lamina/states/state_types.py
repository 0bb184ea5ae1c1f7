"""The fields only one state type has: Task's resource and timeouts, Choice's rules, Wait's
delay, Fail's error and cause, Parallel's branches, Map's processor and limits.

`StateTypeParser.parse` runs after the parser has built the state and read what every
state has (paths or JSONata output, Assign, Retry, Catch). Parallel and Map parse their
nested workflows through the `parse_workflow` they are given, so one definition walk
sees every state name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lamina.states import intrinsics, jsonata_query
from lamina.states.choice_rules import parse_choice_rule
from lamina.states.field_checks import FieldChecker, is_int, is_positive_int
from lamina.states.model import (
    ABSENT,
    ChoiceState,
    FailState,
    MapState,
    ParallelState,
    PassState,
    State,
    SucceedState,
    TaskState,
    WaitState,
    Workflow,
)
from lamina.states.tasks import parse_resource
from lamina.states.timestamps import parse_timestamp

# (raw, prefix, key, query language) -> the workflow, registered under `key`
WorkflowParser = Callable[[Any, str, str, str], Workflow | None]


class StateTypeParser:
    def __init__(self, check: FieldChecker, parse_workflow: WorkflowParser) -> None:
        self.check = check
        self.parse_workflow = parse_workflow

    def parse(self, state: State, raw: dict[str, Any], loc: str) -> None:
        getattr(self, f"_{state.type.lower()}")(state, raw, loc)  # _pass, _task, ... _map

    def _pass(self, state: PassState, raw: dict[str, Any], loc: str) -> None:
        if "Result" in raw:
            state.result = raw["Result"]
            if _looks_like_path_template(raw["Result"]):
                self.check.warn(
                    "PASS_RESULT_IS_STATIC",
                    "Result is static: paths and intrinsic functions in it are not evaluated",
                    f"{loc}/Result",
                )

    def _task(self, state: TaskState, raw: dict[str, Any], loc: str) -> None:
        check = self.check
        if "Resource" not in raw:
            check.error("These fields are required: [Resource]", loc)
        elif parse_resource(raw["Resource"]) is None:
            check.error("Value is not a valid resource ARN", f"{loc}/Resource", "INVALID_RESOURCE")
        else:
            state.resource = raw["Resource"]
        for field, attr in (("TimeoutSeconds", "timeout_seconds"), ("HeartbeatSeconds", "heartbeat_seconds")):
            self._number_field(
                state, raw, loc, field, attr, 1, 99999999,
                message=f"The value for the field '{field}' must be a positive integer",
            )
        timeout, heartbeat = state.timeout_seconds, state.heartbeat_seconds
        if is_positive_int(timeout) and is_positive_int(heartbeat) and heartbeat >= timeout:
            check.error("HeartbeatSeconds must be smaller than TimeoutSeconds", f"{loc}/HeartbeatSeconds")
        if "Credentials" in raw:
            state.credentials = raw["Credentials"]

    def _choice(self, state: ChoiceState, raw: dict[str, Any], loc: str) -> None:
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.check.error("The value for the field 'Choices' must be a non-empty array", f"{loc}/Choices")
            return
        for i, rule_raw in enumerate(choices):
            rule = parse_choice_rule(self.check, rule_raw, f"{loc}/Choices/{i}", state.jsonata, top=True)
            if rule is not None:
                state.choices.append(rule)
        if "Default" in raw:
            if not isinstance(raw["Default"], str):
                self.check.error("The value for the field 'Default' must be a string", f"{loc}/Default")
            else:
                state.default = raw["Default"]

    def _wait(self, state: WaitState, raw: dict[str, Any], loc: str) -> None:
        check = self.check
        given = [f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in raw]
        if len(given) != 1:
            check.error(
                "A Wait state must have exactly one of [Seconds, Timestamp, SecondsPath, TimestampPath]", loc
            )
            return
        field = given[0]
        value = raw[field]
        if state.jsonata and jsonata_query.is_expression(value):
            check.check_jsonata(value, f"{loc}/{field}")
        elif field == "Seconds" and not (is_int(value) and value >= 0):
            check.error("The value for the field 'Seconds' must be a non-negative integer", f"{loc}/Seconds")
        elif field == "Timestamp" and parse_timestamp(value) is None:
            check.error("The value for the field 'Timestamp' must be a valid timestamp", f"{loc}/Timestamp")
        elif field.endswith("Path"):
            check.path_value(value, field, f"{loc}/{field}", nullable=False)
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
        check = self.check
        for field in ("Error", "Cause"):
            if field in raw and f"{field}Path" in raw:
                check.error(f"These fields cannot be present at the same time: [{field}, {field}Path]", loc)
            if field in raw:
                value = raw[field]
                if state.jsonata and jsonata_query.is_expression(value):
                    check.check_jsonata(value, f"{loc}/{field}")
                elif not isinstance(value, str):
                    check.error(f"The value for the field '{field}' must be a string", f"{loc}/{field}")
                setattr(state, field.lower(), value)
            path_field = f"{field}Path"
            if path_field in raw:
                value = raw[path_field]
                if intrinsics.is_intrinsic(value):
                    check.check_intrinsic(value, path_field, f"{loc}/{path_field}")
                else:
                    check.path_value(value, path_field, f"{loc}/{path_field}", nullable=False)
                setattr(state, f"{field.lower()}_path", value)

    def _parallel(self, state: ParallelState, raw: dict[str, Any], loc: str) -> None:
        branches = raw.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.check.error(
                "The value for the field 'Branches' must be a non-empty array", f"{loc}/Branches"
            )
            return
        for i, branch in enumerate(branches):
            if isinstance(branch, dict):
                self.check.reject_unknown(branch, {"StartAt", "States", "Comment"}, f"{loc}/Branches/{i}")
            workflow = self.parse_workflow(
                branch, f"{loc}/Branches/{i}", f"{loc}/Branches/{i}", state.query_language
            )
            if workflow is not None:
                state.branches.append(workflow)

    def _map(self, state: MapState, raw: dict[str, Any], loc: str) -> None:
        check = self.check
        for unsupported in ("ItemReader", "ResultWriter"):
            if unsupported in raw:
                check.error(
                    f'The field "{unsupported}" is not supported by lamina: Map states read their items '
                    "from the state input and return results inline",
                    f"{loc}/{unsupported}",
                )
        if "ItemProcessor" in raw and "Iterator" in raw:
            check.error("These fields cannot be present at the same time: [ItemProcessor, Iterator]", loc)
        processor_field = (
            "ItemProcessor" if "ItemProcessor" in raw else "Iterator" if "Iterator" in raw else None
        )
        if processor_field is None:
            check.error("These fields are required: [ItemProcessor]", loc)
        else:
            processor = raw[processor_field]
            where = f"{loc}/{processor_field}"
            if isinstance(processor, dict):
                allowed = {"StartAt", "States", "Comment"} | (
                    {"ProcessorConfig"} if processor_field == "ItemProcessor" else set()
                )
                check.reject_unknown(processor, allowed, where)
                config = processor.get("ProcessorConfig", {})
                if not isinstance(config, dict):
                    check.error(
                        "The value for the field 'ProcessorConfig' must be a JSON object",
                        f"{where}/ProcessorConfig",
                    )
                else:
                    mode = config.get("Mode", "INLINE")
                    if mode not in ("INLINE", "DISTRIBUTED"):
                        check.error(
                            "Value must be one of [INLINE, DISTRIBUTED]", f"{where}/ProcessorConfig/Mode"
                        )
                    state.processor_mode = mode
                    for key in config:
                        if key not in ("Mode", "ExecutionType"):
                            check.error(
                                f'The field "{key}" is not supported for Step Functions',
                                f"{where}/ProcessorConfig",
                            )
            state.processor = self.parse_workflow(processor, where, where, state.query_language)
        if "ItemSelector" in raw and "Parameters" in raw:
            check.error("These fields cannot be present at the same time: [ItemSelector, Parameters]", loc)
        if state.jsonata:
            state.item_selector = check.jsonata_field(raw, "ItemSelector", loc)
            if "Items" in raw:
                items = raw["Items"]
                if jsonata_query.is_expression(items):
                    check.check_jsonata(items, f"{loc}/Items")
                elif not isinstance(items, list):
                    check.error(
                        "The value for the field 'Items' must be a JSON array or a JSONata expression",
                        f"{loc}/Items",
                    )
                state.items = items
        else:
            state.items_path = check.path_field(raw, "ItemsPath", loc, nullable=False)
            selector = check.template_field(raw, "ItemSelector", loc)
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
                check.error(
                    "The value for the field 'ItemBatcher' must be a JSON object", f"{loc}/ItemBatcher"
                )
            else:
                for key in batcher:
                    if key not in ("MaxItemsPerBatch", "BatchInput"):
                        check.error(f'The field "{key}" is not supported by lamina', f"{loc}/ItemBatcher")
                size = batcher.get("MaxItemsPerBatch")
                if size is not None and not is_positive_int(size):
                    check.error(
                        "The value for the field 'MaxItemsPerBatch' must be a positive integer",
                        f"{loc}/ItemBatcher/MaxItemsPerBatch",
                    )
                state.item_batcher = batcher
        if "Label" in raw:
            state.label = raw["Label"]

    def _number_field(
        self,
        state: TaskState | MapState,
        raw: dict[str, Any],
        loc: str,
        field: str,
        attr: str,
        low: int,
        high: int | None,
        integer: bool = True,
        message: str | None = None,
    ) -> None:
        """A Task or Map limit given as a number (or JSONata expression) or as `<field>Path`."""
        check = self.check
        if field in raw and f"{field}Path" in raw:
            check.error(f"These fields cannot be present at the same time: [{field}, {field}Path]", loc)
        if field in raw:
            value = raw[field]
            if state.jsonata and jsonata_query.is_expression(value):
                check.check_jsonata(value, f"{loc}/{field}")
            else:
                ok = (
                    is_int(value)
                    if integer
                    else isinstance(value, (int, float)) and not isinstance(value, bool)
                )
                if not ok or value < low or (high is not None and value > high):
                    bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
                    check.error(
                        message or f"The value for the field '{field}' must be a number {bounds}",
                        f"{loc}/{field}",
                    )
            setattr(state, attr, value)
        if f"{field}Path" in raw:
            setattr(
                state,
                f"{attr}_path",
                check.path_field(raw, f"{field}Path", loc, reference=True, nullable=False),
            )


def _looks_like_path_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.endswith(".$") or _looks_like_path_template(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_looks_like_path_template(v) for v in value)
    return False
