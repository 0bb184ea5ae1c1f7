"""The tables the parser checks definitions against.

Which fields each state type may carry in each query language (a field of the other
language gets its own message), which types never transition, and the comparison
operators of a JSONPath Choice rule. Data only, so the rules can be read at a glance.
"""

from __future__ import annotations

from lamina.states.model import JSONATA, JSONPATH

COMMON_FIELDS = {"Type", "Comment", "QueryLanguage"}
TRANSITION_FIELDS = {"Next", "End"}
# Fields each state type may carry, by query language.
ALLOWED_FIELDS: dict[str, dict[str, set[str]]] = {
    "Pass": {
        JSONPATH: {"InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign"}
        | TRANSITION_FIELDS,
        JSONATA: {"Output", "Assign"} | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
        JSONATA: {"Seconds", "Timestamp", "Output", "Assign"} | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
        JSONATA: {"Arguments", "Output", "Assign", "Branches", "Retry", "Catch"} | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
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
        | TRANSITION_FIELDS,
    },
}
TERMINAL_TYPES = {"Choice", "Succeed", "Fail"}  # these never take Next/End

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
