"""Step Functions ARNs and names, and the errors for malformed ones.

State machines `arn:aws:states:<region>:<account>:stateMachine:<name>`, activities
`...:activity:<name>`, Standard executions `...:execution:<machine>:<name>` and Express
executions `...:express:<machine>:<name>:<uuid>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.context import RequestContext
from lamina.states.errors import API_ERRORS

InvalidArn = API_ERRORS["InvalidArn"]
InvalidName = API_ERRORS["InvalidName"]
ValidationException = API_ERRORS["ValidationException"]

STATE_MACHINE = "stateMachine"
ACTIVITY = "activity"
EXECUTION = "execution"
EXPRESS = "express"

_ARN = re.compile(r"arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):([A-Za-z]+):(.+)")
# Parts after the resource type, by type.
_PARTS = {STATE_MACHINE: 1, ACTIVITY: 1, EXECUTION: 2, EXPRESS: 3}
# What AWS forbids in the names of state machines, activities and executions.
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class StatesArn:
    arn: str
    region: str
    account_id: str
    kind: str
    parts: tuple[str, ...]

    def visible_to(self, ctx: RequestContext) -> bool:
        """Resources of another account or region do not exist for the caller."""
        return self.account_id == ctx.account_id and self.region == ctx.region


def parse_arn(arn: str, *kinds: str) -> StatesArn:
    match = _ARN.fullmatch(arn)
    if match is None:
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    kind, parts = match[4], tuple(match[5].split(":"))
    if kind not in kinds:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind}'")
    if len(parts) != _PARTS[kind] or not all(parts):
        if kind == STATE_MACHINE and len(parts) == 2:
            raise ValidationException(
                f"lamina does not support state machine versions or aliases: '{arn}'")
        raise InvalidArn(f"Invalid Arn: '{arn}'")
    if kind == STATE_MACHINE and "/" in parts[0]:
        raise ValidationException(f"Qualified state machine ARNs of Map Runs are not accepted here: '{arn}'")
    return StatesArn(arn, match[2], match[3], kind, parts)


def check_name(name: str) -> str:
    if _FORBIDDEN.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name


def state_machine_arn(ctx: RequestContext, name: str) -> str:
    return f"arn:aws:states:{ctx.region}:{ctx.account_id}:stateMachine:{name}"


def activity_arn(ctx: RequestContext, name: str) -> str:
    return f"arn:aws:states:{ctx.region}:{ctx.account_id}:activity:{name}"


def execution_arn(machine_arn: str, name: str) -> str:
    prefix, _, machine = machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def express_execution_arn(machine_arn: str, name: str, unique: str) -> str:
    prefix, _, machine = machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:express:{machine}:{name}:{unique}"
