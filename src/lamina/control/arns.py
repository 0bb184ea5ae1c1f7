"""Lambda ARNs and the several ways an API field can name a function."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lamina.context import RequestContext
from lamina.errors import InvalidParameterValueException, ResourceNotFoundException

LATEST = "$LATEST"

# name | name:qualifier | account:function:name[:qualifier] | arn:aws:lambda:region:account:function:name[:qualifier]
_FUNCTION_REF = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?")
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class FunctionRef:
    account_id: str
    region: str
    name: str
    qualifier: str | None

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)


def parse_function_ref(ctx: RequestContext, value: str, qualifier: str | None = None) -> FunctionRef:
    """Resolve a FunctionName field (name, partial ARN or ARN, maybe with `:qualifier`) and an
    optional separate Qualifier parameter. Functions of another account or region are not
    visible to the caller, so naming one is a not-found."""
    match = _FUNCTION_REF.fullmatch(value)
    if match is None or not _NAME.fullmatch(match["name"]):
        raise InvalidParameterValueException(f"Invalid function name or ARN: {value}")
    if match["region"] and not match["account"]:
        raise InvalidParameterValueException(f"Invalid function ARN: {value}")
    derived = match["qualifier"]
    if derived and qualifier and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier.")
    ref = FunctionRef(match["account"] or ctx.account_id, match["region"] or ctx.region, match["name"],
                      derived or qualifier)
    if ref.account_id != ctx.account_id or ref.region != ctx.region:
        raise ResourceNotFoundException(f"Function not found: {function_arn(ref.region, ref.account_id, ref.name)}")
    return ref


def parse_unqualified_function_arn(ctx: RequestContext, arn: str) -> FunctionRef:
    """Tags live on unqualified function ARNs only."""
    match = re.fullmatch(r"arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9_-]+)(:.+)?", arn)
    if match is None:
        raise InvalidParameterValueException(f"Invalid resource ARN: {arn}")
    if match[4]:
        raise InvalidParameterValueException(
            "Tags are supported on unqualified function ARNs only (not on versions or aliases).")
    ref = FunctionRef(match[2], match[1], match[3], None)
    if ref.account_id != ctx.account_id or ref.region != ctx.region:
        raise ResourceNotFoundException(f"Function not found: {ref.arn}")
    return ref
