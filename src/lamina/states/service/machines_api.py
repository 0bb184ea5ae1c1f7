"""The state machine operations: Create/Describe/Update/Delete/ListStateMachines,
ValidateStateMachineDefinition and DescribeStateMachineForExecution."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from lamina.context import RequestContext
from lamina.states.errors import API_ERRORS
from lamina.states.parser import ERROR
from lamina.states.service import paging
from lamina.states.service.arns import (
    EXECUTION,
    STATE_MACHINE,
    ValidationException,
    check_name,
    parse_arn,
    state_machine_arn,
)
from lamina.states.service.configuration import (
    check_definition,
    check_logging,
    check_role,
    check_tracing,
    diagnose,
)
from lamina.states.service.executions import Executions
from lamina.states.service.records import STANDARD
from lamina.states.service.registry import MachineResource, Registry, Revision
from lamina.states.service.tags import tag_dict

StateMachineDoesNotExist = API_ERRORS["StateMachineDoesNotExist"]
StateMachineAlreadyExists = API_ERRORS["StateMachineAlreadyExists"]
ExecutionDoesNotExist = API_ERRORS["ExecutionDoesNotExist"]
MissingRequiredParameter = API_ERRORS["MissingRequiredParameter"]

VALIDATION_PAGE = 100


def find_machine(registry: Registry, ctx: RequestContext, arn: str) -> MachineResource:
    parsed = parse_arn(arn, STATE_MACHINE)
    machine = registry.machines.get(arn) if parsed.visible_to(ctx) else None
    if machine is None:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
    return machine


class StateMachinesApi:
    def __init__(self, registry: Registry, executions: Executions) -> None:
        self.registry = registry
        self.executions = executions
        self._changing = asyncio.Lock()  # create/update/delete check then write

    async def create_state_machine(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = check_name(params["name"])
        machine_type = params.get("type") or STANDARD
        if params.get("publish"):
            raise ValidationException("lamina does not publish state machine versions (publish=true)")
        role = check_role(params["roleArn"])
        parsed = check_definition(params["definition"], machine_type)
        logging = check_logging(params.get("loggingConfiguration"))
        tracing = check_tracing(params.get("tracingConfiguration"))
        arn = state_machine_arn(ctx, name)
        tags = tag_dict(arn, params.get("tags"))
        async with self._changing:
            existing = self.registry.machines.get(arn)
            if existing is not None:
                # Idempotent for the same configuration (role and tags aside), as on AWS.
                current = existing.revision
                if (current.definition, existing.type, current.logging, current.tracing) == (
                        params["definition"], machine_type, logging, tracing):
                    return {"stateMachineArn": arn, "creationDate": existing.creation_date}
                raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
            now = time.time()
            revision = Revision(str(uuid.uuid4()), arn, name, machine_type, params["definition"], role, logging,
                                tracing, now)
            machine = MachineResource(arn, name, ctx.account_id, ctx.region, machine_type, now, revision, tags)
            await self.registry.save_machine(machine, parsed, new_revision=True)
        return {"stateMachineArn": arn, "creationDate": now}

    async def describe_state_machine(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        machine = find_machine(self.registry, ctx, params["stateMachineArn"])
        revision = machine.revision
        return {
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": revision.definition,
            "roleArn": revision.role_arn,
            "type": machine.type,
            "creationDate": machine.creation_date,
            "loggingConfiguration": revision.logging,
            "tracingConfiguration": revision.tracing,
            "revisionId": revision.id,
        }

    async def update_state_machine(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        changes = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        if not any(params.get(key) is not None for key in changes):
            raise MissingRequiredParameter(
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration "
                "must be specified")
        if params.get("publish"):
            raise ValidationException("lamina does not publish state machine versions (publish=true)")
        async with self._changing:
            machine = find_machine(self.registry, ctx, params["stateMachineArn"])
            current = machine.revision
            definition = params.get("definition", current.definition)
            parsed = check_definition(definition, machine.type)
            role = check_role(params["roleArn"]) if "roleArn" in params else current.role_arn
            logging = (check_logging(params["loggingConfiguration"]) if "loggingConfiguration" in params
                       else current.logging)
            tracing = (check_tracing(params["tracingConfiguration"]) if "tracingConfiguration" in params
                       else current.tracing)
            now = time.time()
            machine.revision = Revision(str(uuid.uuid4()), machine.arn, machine.name, machine.type, definition, role,
                                        logging, tracing, now)
            await self.registry.save_machine(machine, parsed, new_revision=True)
        return {"updateDate": now, "revisionId": machine.revision.id}

    async def delete_state_machine(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Running executions are stopped; deleting a machine that does not exist succeeds."""
        arn = params["stateMachineArn"]
        parsed = parse_arn(arn, STATE_MACHINE)
        async with self._changing:
            if parsed.visible_to(ctx) and arn in self.registry.machines:
                await self.registry.delete_machine(arn)
        await self.executions.stop_all(arn)
        return {}

    async def list_state_machines(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, token = paging.page_by_name(
            (x for x in self.registry.machines.values() if (x.account_id, x.region) == (ctx.account_id, ctx.region)),
            params)
        out: dict[str, Any] = {"stateMachines": [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": m.creation_date} for m in page]}
        if token:
            out["nextToken"] = token
        return out

    async def validate_state_machine_definition(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        diagnostics = diagnose(params["definition"], params.get("type") or STANDARD)
        if (params.get("severity") or "ERROR") == "ERROR":
            diagnostics = [d for d in diagnostics if d.severity == ERROR]
        limit = paging.page_size(params.get("maxResults"), VALIDATION_PAGE)
        return {
            "result": "FAIL" if any(d.severity == ERROR for d in diagnostics) else "OK",
            "diagnostics": [d.to_api() for d in diagnostics[:limit]],
            "truncated": len(diagnostics) > limit,
        }

    async def describe_state_machine_for_execution(self, ctx: RequestContext,
                                                   params: dict[str, Any]) -> dict[str, Any]:
        arn = params["executionArn"]
        parsed = parse_arn(arn, EXECUTION)
        summary = await self.executions.store.find(arn) if parsed.visible_to(ctx) else None
        if summary is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        revision, _ = await self.registry.revision(summary.record.revision_id)
        return {
            "stateMachineArn": revision.state_machine_arn,
            "name": revision.name,
            "definition": revision.definition,
            "roleArn": revision.role_arn,
            "updateDate": revision.update_date,
            "loggingConfiguration": revision.logging,
            "tracingConfiguration": revision.tracing,
            "revisionId": revision.id,
        }
