"""Parsing one rule of a Choice state into a `ChoiceRule`.

A JSONPath rule is a comparison (`Variable`, one operator and its operand) or an
`And`/`Or`/`Not` of nested rules; a JSONata rule is a `Condition`. Only top-level rules
carry `Next`, `Assign` and (JSONata) `Output`. Evaluating rules is `choice`'s job.
"""

from __future__ import annotations

from typing import Any

from lamina.states import jsonata_query
from lamina.states.allowed_fields import COMPARISON_OPERATORS
from lamina.states.field_checks import FieldChecker
from lamina.states.model import ChoiceRule
from lamina.states.timestamps import parse_timestamp


def parse_choice_rule(check: FieldChecker, raw: Any, loc: str, jsonata: bool, top: bool) -> ChoiceRule | None:
    if not isinstance(raw, dict):
        check.error("A choice rule must be a JSON object", loc)
        return None
    rule = ChoiceRule()
    allowed = {"Comment"} | ({"Next", "Assign"} if top else set())
    if jsonata:
        allowed |= {"Condition"} | ({"Output"} if top else set())
    else:
        allowed |= {"Variable", "And", "Or", "Not", *COMPARISON_OPERATORS}
    for key in raw:
        if key not in allowed:
            check.error(f'The field "{key}" is not supported for Step Functions', loc)
    if top:
        if not isinstance(raw.get("Next"), str):
            check.error("These fields are required: [Next]", loc)
        rule.next = raw.get("Next") if isinstance(raw.get("Next"), str) else None
        if "Assign" in raw:
            rule.assign = check.assign(raw["Assign"], f"{loc}/Assign", jsonata)
    if jsonata:
        if "Condition" not in raw:
            check.error("These fields are required: [Condition]", loc)
        else:
            rule.condition = raw["Condition"]
            if jsonata_query.is_expression(rule.condition):
                check.check_jsonata(rule.condition, f"{loc}/Condition")
            elif not isinstance(rule.condition, bool):
                check.error(
                    "The value for the field 'Condition' must be a JSONata expression or a boolean",
                    f"{loc}/Condition",
                )
        if "Output" in raw:
            rule.output = check.jsonata_field(raw, "Output", loc)
        return rule
    operators = [k for k in raw if k in ("And", "Or", "Not") or k in COMPARISON_OPERATORS]
    if len(operators) != 1:
        check.error("A choice rule must have exactly one comparison operator or And/Or/Not", loc)
        return None
    op = operators[0]
    value = raw[op]
    if op in ("And", "Or"):
        rule.combinator = op
        if not isinstance(value, list) or not value:
            check.error(f"The value for the field '{op}' must be a non-empty array", f"{loc}/{op}")
            return None
        if "Variable" in raw:
            check.error('The field "Variable" is not supported for Step Functions', loc)
        for i, child in enumerate(value):
            child_rule = parse_choice_rule(check, child, f"{loc}/{op}/{i}", jsonata, top=False)
            if child_rule is not None:
                rule.children.append(child_rule)
        return rule
    if op == "Not":
        rule.combinator = op
        if "Variable" in raw:
            check.error('The field "Variable" is not supported for Step Functions', loc)
        child_rule = parse_choice_rule(check, value, f"{loc}/Not", jsonata, top=False)
        if child_rule is not None:
            rule.children.append(child_rule)
        return rule
    if "Variable" not in raw:
        check.error("These fields are required: [Variable]", loc)
        return None
    rule.variable = check.path_value(raw["Variable"], "Variable", f"{loc}/Variable", nullable=False)
    rule.operator, rule.operand = op, value
    _check_operand(check, op, value, f"{loc}/{op}")
    return rule


def _check_operand(check: FieldChecker, op: str, value: Any, loc: str) -> None:
    if op.endswith("Path"):
        check.path_value(value, op, loc, nullable=False)
    elif op.startswith("String"):
        if not isinstance(value, str):
            check.error(f"The value for the field '{op}' must be a string", loc)
    elif op.startswith("Numeric"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            check.error(f"The value for the field '{op}' must be a number", loc)
    elif op.startswith("Timestamp"):
        if parse_timestamp(value) is None:
            check.error(f"The value for the field '{op}' must be a valid timestamp", loc)
    elif not isinstance(value, bool):  # BooleanEquals and the Is* tests
        check.error(f"The value for the field '{op}' must be a boolean", loc)
