"""Whole-definition checks and the two public entry points.

`parse_definition` is what CreateStateMachine/UpdateStateMachine use: the parsed machine,
or `InvalidDefinition` with AWS's message
(`Invalid State Machine Definition: 'CODE: message at /location, ...'`).
`validate_definition` is what ValidateStateMachineDefinition returns: every diagnostic,
errors and warnings, never raising.
"""

from __future__ import annotations

from lamina.states.errors import InvalidDefinition
from lamina.states.model import ChoiceState, State, StateMachine, Workflow
from lamina.states.parser import ERROR, Diagnostic, parse

MISSING_TARGET = "MISSING_TRANSITION_TARGET"


def validate_definition(text: str) -> list[Diagnostic]:
    machine, diagnostics = parse(text)
    if machine is not None:
        diagnostics = diagnostics + graph_diagnostics(machine)
    return diagnostics


def parse_definition(text: str) -> StateMachine:
    machine, diagnostics = parse(text)
    if machine is not None:
        diagnostics = diagnostics + graph_diagnostics(machine)
    errors = [d for d in diagnostics if d.severity == ERROR]
    if errors or machine is None:
        raise InvalidDefinition(invalid_definition_message(errors))
    return machine


def invalid_definition_message(errors: list[Diagnostic]) -> str:
    return "Invalid State Machine Definition: '" + ", ".join(d.text() for d in errors) + "'"


def graph_diagnostics(machine: StateMachine) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for workflow in machine.workflows.values():
        out.extend(_workflow_diagnostics(workflow))
    return out


def _prefix(workflow: Workflow) -> str:
    return "" if workflow.key == "/" else workflow.key


def _transitions(state: State) -> list[tuple[str, str]]:
    """(target, location of the field naming it) for every transition out of `state`."""
    out: list[tuple[str, str]] = []
    if state.next is not None:
        out.append((state.next, f"{state.location}/Next"))
    if isinstance(state, ChoiceState):
        for i, rule in enumerate(state.choices):
            if rule.next is not None:
                out.append((rule.next, f"{state.location}/Choices/{i}/Next"))
        if state.default is not None:
            out.append((state.default, f"{state.location}/Default"))
    for i, catcher in enumerate(state.catch):
        if catcher.next:
            out.append((catcher.next, f"{state.location}/Catch/{i}/Next"))
    return out


def _workflow_diagnostics(workflow: Workflow) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    states = workflow.states
    prefix = _prefix(workflow)
    if workflow.start_at not in states:
        out.append(
            Diagnostic(
                ERROR, MISSING_TARGET, f"Missing 'StartAt' target: {workflow.start_at}", f"{prefix}/StartAt"
            )
        )
    for state in states.values():
        for target, where in _transitions(state):
            if target not in states:
                field = where.rsplit("/", 1)[1]
                out.append(Diagnostic(ERROR, MISSING_TARGET, f"Missing '{field}' target: {target}", where))
    reachable: set[str] = set()
    stack = [workflow.start_at] if workflow.start_at in states else []
    while stack:
        name = stack.pop()
        if name in reachable:
            continue
        reachable.add(name)
        stack.extend(t for t, _ in _transitions(states[name]) if t in states)
    if reachable:
        for name, state in states.items():
            if name not in reachable:
                out.append(
                    Diagnostic(ERROR, MISSING_TARGET, f'State "{name}" is not reachable.', state.location)
                )
    if not any(s.end or s.type in ("Succeed", "Fail") for s in states.values()):
        out.append(Diagnostic(ERROR, "MISSING_END_STATE", "Workflow has no terminal state", prefix or "/"))
    return out
