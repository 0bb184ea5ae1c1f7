"""Definition validation: the InvalidDefinition a user gets, and ValidateStateMachineDefinition's list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lamina.states import parse_definition, validate_definition
from lamina.states.errors import InvalidDefinition

CASES = yaml.safe_load((Path(__file__).parent / "cases_validation.yaml").read_text())


def _text(case: dict[str, Any]) -> str:
    return case["text"] if "text" in case else json.dumps(case["definition"])


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_invalid_definition(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition(_text(case))
    error = raised.value
    assert error.code == "InvalidDefinition" and error.status == 400
    if "error" in case:
        assert error.message == case["error"]
    else:
        assert case["error_contains"] in error.message, error.message
    # ValidateStateMachineDefinition reports the same problems as ERROR diagnostics.
    diagnostics = validate_definition(_text(case))
    assert any(d.severity == "ERROR" for d in diagnostics)
    for d in diagnostics:
        if d.severity == "ERROR":
            assert d.text() in error.message


def test_valid_definition_has_no_diagnostics() -> None:
    text = json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    )
    assert validate_definition(text) == []
    machine = parse_definition(text)
    assert list(machine.root.states) == ["A", "B"]


def test_warnings_do_not_block_creation() -> None:
    text = json.dumps(
        {
            "StartAt": "A",
            "States": {
                "A": {
                    "Type": "Pass",
                    "Parameters": {"looksLikePath": "$.x"},
                    "Result": {"y.$": "$.z"},
                    "End": True,
                }
            },
        }
    )
    diagnostics = [d.to_api() for d in validate_definition(text)]
    assert diagnostics == [
        {
            "severity": "WARNING",
            "code": "NO_DOLLAR",
            "location": "/States/A/Parameters/looksLikePath",
            "message": "The field 'looksLikePath' looks like a path or an intrinsic function but its name does not "
            "end with '.$'",
        },
        {
            "severity": "WARNING",
            "code": "PASS_RESULT_IS_STATIC",
            "location": "/States/A/Result",
            "message": "Result is static: paths and intrinsic functions in it are not evaluated",
        },
    ]
    parse_definition(text)  # does not raise


def test_error_body_for_the_wire() -> None:
    with pytest.raises(InvalidDefinition) as raised:
        parse_definition("{}")
    assert raised.value.body()["message"].startswith("Invalid State Machine Definition: '")
