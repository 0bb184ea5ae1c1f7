"""A state machine's configuration as CreateStateMachine/UpdateStateMachine check it: the
definition (for its type), the role, logging and tracing."""

from __future__ import annotations

import re
from typing import Any

from lamina.states.errors import API_ERRORS, InvalidDefinition
from lamina.states.model import StateMachine, TaskState
from lamina.states.parser import ERROR, Diagnostic
from lamina.states.service.arns import InvalidArn
from lamina.states.service.records import EXPRESS
from lamina.states.tasks import ACTIVITY, parse_resource
from lamina.states.validation import invalid_definition_message, parse_definition, validate_definition

InvalidLoggingConfiguration = API_ERRORS["InvalidLoggingConfiguration"]

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_LOG_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w#./-]{1,512}:\*")

DEFAULT_LOGGING: dict[str, Any] = {"level": "OFF", "includeExecutionData": False}
DEFAULT_TRACING: dict[str, Any] = {"enabled": False}


def express_diagnostics(machine: StateMachine) -> list[Diagnostic]:
    """Express workflows cannot wait for a callback, a child execution or an activity."""
    out = []
    for workflow in machine.workflows.values():
        for state in workflow.states.values():
            if not isinstance(state, TaskState):
                continue
            resource = parse_resource(state.resource)
            if resource is None:
                continue
            if resource.kind == ACTIVITY:
                problem = "Express state machine does not support Activity ARN"
            elif resource.pattern:
                problem = f"Express state machine does not support '.{resource.pattern}' service integration"
            else:
                continue
            out.append(Diagnostic(ERROR, "SCHEMA_VALIDATION_FAILED", problem, f"{state.location}/Resource"))
    return out


def check_definition(text: str, machine_type: str) -> StateMachine:
    machine = parse_definition(text)
    if machine_type == EXPRESS:
        problems = express_diagnostics(machine)
        if problems:
            raise InvalidDefinition(invalid_definition_message(problems))
    return machine


def diagnose(text: str, machine_type: str) -> list[Diagnostic]:
    """Every diagnostic of ValidateStateMachineDefinition, the type's own rules included."""
    diagnostics = validate_definition(text)
    if machine_type == EXPRESS and not any(d.severity == ERROR for d in diagnostics):
        try:
            diagnostics += express_diagnostics(parse_definition(text))
        except InvalidDefinition:
            pass
    return diagnostics


def check_role(role_arn: str) -> str:
    if not _ROLE_ARN.fullmatch(role_arn):
        raise InvalidArn(f"Invalid Arn: 'Invalid Role Arn: {role_arn}'")
    return role_arn


def check_logging(config: dict[str, Any] | None) -> dict[str, Any]:
    logging = {**DEFAULT_LOGGING, **(config or {})}
    destinations = logging.get("destinations") or []
    if logging["level"] != "OFF" and len(destinations) != 1:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination.")
    if len(destinations) > 1:
        raise InvalidLoggingConfiguration(
            "Invalid Logging Configuration: Must specify exactly one Log Destination.")
    for destination in destinations:
        arn = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")
        if not _LOG_GROUP_ARN.fullmatch(arn):
            raise InvalidLoggingConfiguration(
                f"Invalid Logging Configuration: The CloudWatch Logs Resource ARN is invalid: '{arn}'")
    if not destinations:
        logging.pop("destinations", None)
    return logging


def check_tracing(config: dict[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_TRACING, **(config or {})}
