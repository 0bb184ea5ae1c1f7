"""Parsing a state's `Retry` and `Catch` arrays into `Retrier`s and `Catcher`s.

Both share `ErrorEquals` (a non-empty list of names; `States.ALL` alone and last).
Catchers follow the state's query language: `ResultPath` for JSONPath, `Output` for
JSONata. Applying them at run time is `retry`'s and the interpreter's job.
"""

from __future__ import annotations

from typing import Any

from lamina.states.field_checks import FieldChecker, is_int, is_positive_int
from lamina.states.model import Catcher, Retrier


def parse_retriers(check: FieldChecker, raw: Any, loc: str) -> list[Retrier]:
    if not isinstance(raw, list):
        check.error("The value for the field 'Retry' must be an array", loc)
        return []
    out = []
    for i, r in enumerate(raw):
        where = f"{loc}/{i}"
        if not isinstance(r, dict):
            check.error("A retrier must be a JSON object", where)
            continue
        check.reject_unknown(
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
        retrier = Retrier(_error_equals(check, r, where, i == len(raw) - 1))
        if "IntervalSeconds" in r:
            if not is_positive_int(r["IntervalSeconds"]) or r["IntervalSeconds"] > 99999999:
                check.error(
                    "The value for the field 'IntervalSeconds' must be a positive integer",
                    f"{where}/IntervalSeconds",
                )
            retrier.interval_seconds = r["IntervalSeconds"]
        if "MaxAttempts" in r:
            if not is_int(r["MaxAttempts"]) or not 0 <= r["MaxAttempts"] <= 99999999:
                check.error(
                    "The value for the field 'MaxAttempts' must be a non-negative integer",
                    f"{where}/MaxAttempts",
                )
            retrier.max_attempts = r["MaxAttempts"]
        if "BackoffRate" in r:
            rate = r["BackoffRate"]
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 1.0:
                check.error(
                    "The value for the field 'BackoffRate' must be a number not less than 1.0",
                    f"{where}/BackoffRate",
                )
            retrier.backoff_rate = rate
        if "MaxDelaySeconds" in r:
            if not is_positive_int(r["MaxDelaySeconds"]) or r["MaxDelaySeconds"] > 31622400:
                check.error(
                    "The value for the field 'MaxDelaySeconds' must be a positive integer",
                    f"{where}/MaxDelaySeconds",
                )
            retrier.max_delay_seconds = r["MaxDelaySeconds"]
        if "JitterStrategy" in r:
            if r["JitterStrategy"] not in ("FULL", "NONE"):
                check.error("Value must be one of [FULL, NONE]", f"{where}/JitterStrategy")
            retrier.jitter_strategy = r["JitterStrategy"]
        out.append(retrier)
    return out


def parse_catchers(check: FieldChecker, raw: Any, loc: str, jsonata: bool) -> list[Catcher]:
    if not isinstance(raw, list):
        check.error("The value for the field 'Catch' must be an array", loc)
        return []
    out = []
    for i, c in enumerate(raw):
        where = f"{loc}/{i}"
        if not isinstance(c, dict):
            check.error("A catcher must be a JSON object", where)
            continue
        allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | ({"Output"} if jsonata else {"ResultPath"})
        check.reject_unknown(c, allowed, where)
        errors = _error_equals(check, c, where, i == len(raw) - 1)
        if not isinstance(c.get("Next"), str):
            check.error("These fields are required: [Next]", where)
        catcher = Catcher(errors, c.get("Next") if isinstance(c.get("Next"), str) else "")
        if jsonata:
            catcher.output = check.jsonata_field(c, "Output", where)
        else:
            catcher.result_path = check.path_field(c, "ResultPath", where, reference=True)
        if "Assign" in c:
            catcher.assign = check.assign(c["Assign"], f"{where}/Assign", jsonata)
        out.append(catcher)
    return out


def _error_equals(check: FieldChecker, raw: dict[str, Any], loc: str, last: bool) -> list[str]:
    errors = raw.get("ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        check.error(
            "The value for the field 'ErrorEquals' must be a non-empty array of strings",
            f"{loc}/ErrorEquals",
        )
        return []
    if "States.ALL" in errors and (len(errors) > 1 or not last):
        check.error(
            "States.ALL must appear alone in ErrorEquals, and only in the last retrier or catcher",
            f"{loc}/ErrorEquals",
        )
    return errors
