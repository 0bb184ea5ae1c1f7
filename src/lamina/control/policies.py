"""Resource-based policies of functions (and the statement shapes layers share).

Statements are stored exactly as AWS returns them. Enforcement belongs to the security
work; `allows()` already answers "may this principal do this action" for the checks lamina
makes today (cross-account layer use)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from lamina.context import RequestContext
from lamina.control import function_config as fc
from lamina.control.arns import LATEST, function_arn, parse_function_ref
from lamina.control.function_model import Policy
from lamina.errors import (
    InvalidParameterValueException,
    PolicyLengthExceededException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from lamina.control.functions import FunctionService

POLICY_LIMIT = 20_480


def principal_of(principal: str) -> Any:
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def policy_document(statements: list[dict[str, Any]]) -> str:
    return orjson.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements}).decode()


def add_statement(policy: Policy | None, statement: dict[str, Any], revision_id: str | None) -> Policy:
    """The policy with `statement` appended, checking the revision, Sid and size rules."""
    current = policy or Policy([], fc.new_revision_id())
    if revision_id and revision_id != current.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetPolicy API to retrieve the latest Revision Id")
    if any(s["Sid"] == statement["Sid"] for s in current.statements):
        raise ResourceConflictException(
            "The statement id (sid) provided already exists. Please choose a new statement id, "
            "or remove the existing statement.")
    statements = [*current.statements, statement]
    size = len(policy_document(statements))
    if size > POLICY_LIMIT:
        raise PolicyLengthExceededException(f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT}).")
    return Policy(statements, fc.new_revision_id())


def remove_statement(policy: Policy | None, sid: str, revision_id: str | None) -> Policy | None:
    """The policy without statement `sid` (None when nothing is left)."""
    if policy is None or not any(s["Sid"] == sid for s in policy.statements):
        raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
    if revision_id and revision_id != policy.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetPolicy API to retrieve the latest Revision Id")
    remaining = [s for s in policy.statements if s["Sid"] != sid]
    return Policy(remaining, fc.new_revision_id()) if remaining else None


def allows(policy: Policy | None, account_id: str, action: str) -> bool:
    """Whether an Allow statement grants `action` to `account_id` (or to everyone)."""
    for statement in (policy.statements if policy else ()):
        principal = statement.get("Principal")
        if statement.get("Effect") != "Allow":
            continue
        if principal != "*" and principal != {"AWS": f"arn:aws:iam::{account_id}:root"} \
                and principal != {"AWS": account_id}:
            continue
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions
        if any(a in ("*", "lambda:*", action) for a in actions):
            return True
    return False


class PolicyService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    def _target(self, ctx: RequestContext, params: dict[str, Any]):
        ref = parse_function_ref(ctx, params["FunctionName"], params.get("Qualifier"))
        function = self.functions.find(ref)
        qualifier = ref.qualifier or ""
        if qualifier == LATEST:
            raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
        if qualifier and qualifier not in function.versions and qualifier not in function.aliases:
            raise ResourceNotFoundException(f"Function not found: {function.arn}:{qualifier}")
        return function, qualifier

    async def add_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        async with self.functions.lock:
            function, qualifier = self._target(ctx, params)
            resource = function_arn(function.region, function.account_id, function.name, qualifier or None)
            statement: dict[str, Any] = {"Sid": params["StatementId"], "Effect": "Allow",
                                         "Principal": principal_of(params["Principal"]),
                                         "Action": params["Action"], "Resource": resource}
            conditions: dict[str, dict[str, str]] = {}
            equals = {"SourceAccount": "AWS:SourceAccount", "EventSourceToken": "lambda:EventSourceToken",
                      "PrincipalOrgID": "aws:PrincipalOrgID", "FunctionUrlAuthType": "lambda:FunctionUrlAuthType"}
            for param, key in equals.items():
                if params.get(param):
                    conditions.setdefault("StringEquals", {})[key] = params[param]
            if params.get("SourceArn"):
                conditions["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
            if conditions:
                statement["Condition"] = conditions
            function.policies[qualifier] = add_statement(function.policies.get(qualifier), statement,
                                                         params.get("RevisionId"))
            await self.functions.save(function)
        return {"Statement": orjson.dumps(statement).decode()}

    async def remove_permission(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        async with self.functions.lock:
            function, qualifier = self._target(ctx, params)
            remaining = remove_statement(function.policies.get(qualifier), params["StatementId"],
                                         params.get("RevisionId"))
            if remaining is None:
                function.policies.pop(qualifier, None)
            else:
                function.policies[qualifier] = remaining
            await self.functions.save(function)

    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        function, qualifier = self._target(ctx, params)
        policy = function.policies.get(qualifier)
        if policy is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return {"Policy": policy_document(policy.statements), "RevisionId": policy.revision_id}
