"""The CloudWatch Logs API over lamina's log store, enough for `aws logs`, boto3 and
`lamina logs` to read function logs (and for tools that write their own)."""

from __future__ import annotations

import base64
import re
import time
from functools import cache
from typing import Any

from botocore.loaders import Loader

from lamina.context import RequestContext
from lamina.errors import AwsError
from lamina.observability.filter_pattern import compile_filter_pattern
from lamina.observability.log_store import LogEvent, LogStore

DEFAULT_LIMIT = 10_000
SCAN_CHUNK = 5_000
# PutLogEvents accepts events from 14 days in the past to 2 hours in the future (AWS's limits).
ACCEPTED_PAST_MS = 14 * 24 * 3600 * 1000
ACCEPTED_FUTURE_MS = 2 * 3600 * 1000
MAX_TOKEN_VALUE = 2**63 - 1  # event tokens hold event ids and timestamps: SQLite integers


def _error(code: str) -> type[AwsError]:
    return type(code, (AwsError,), {"code": code, "status": 400, "message_key": "message"})


LogsResourceNotFound = _error("ResourceNotFoundException")
ResourceAlreadyExistsException = _error("ResourceAlreadyExistsException")
InvalidParameterException = _error("InvalidParameterException")


@cache
def retention_periods() -> tuple[int, ...]:
    """The retention periods CloudWatch Logs accepts. The model is an integer with no enum;
    its documentation lists the values ("Possible values are: 1, 3, ... and 3653.")."""
    doc = Loader().load_service_model("logs", "service-2")["shapes"]["Days"]["documentation"]
    listed = re.search(r"Possible values are: ([\d, and]+)\.", doc)
    assert listed is not None, "the logs model no longer lists the retention periods"
    return tuple(int(days) for days in re.findall(r"\d+", listed[1]))


def _group_arn(ctx: RequestContext, name: str) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name}"


def _token(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


def _untoken(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise InvalidParameterException("The specified nextToken is invalid.") from None


def _position(position: tuple[int, int]) -> str:
    return _token(position[0]) + "." + _token(position[1])


def _unposition(token: str) -> tuple[int, int]:
    timestamp, _, event_id = token.partition(".")
    position = _untoken(timestamp), _untoken(event_id)
    if not all(abs(value) <= MAX_TOKEN_VALUE for value in position):
        raise InvalidParameterException("The specified nextToken is invalid.")
    return position


def _within_accepted_window(events: list[tuple[int, str]], now: int
                            ) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """The events (sorted by time) AWS would store, and `rejectedLogEventsInfo` for the rest:
    too old before `tooOldLogEventEndIndex` (exclusive), too new from `tooNewLogEventStartIndex`."""
    too_old = sum(1 for timestamp, _ in events if timestamp < now - ACCEPTED_PAST_MS)
    too_new = sum(1 for timestamp, _ in events if timestamp > now + ACCEPTED_FUTURE_MS)
    rejected = {}
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old
    if too_new:
        rejected["tooNewLogEventStartIndex"] = len(events) - too_new
    return events[too_old:len(events) - too_new], rejected


class LogsService:
    def __init__(self, logs: LogStore) -> None:
        self.logs = logs

    def _group_name(self, params: dict[str, Any]) -> str:
        name = params.get("logGroupName") or params.get("logGroupIdentifier")
        if not name:
            raise InvalidParameterException("Either logGroupName or logGroupIdentifier must be given.")
        arn = re.fullmatch(r"arn:aws[a-zA-Z-]*:logs:[^:]*:\d{12}:log-group:(.+?)(:\*)?", name)
        return arn[1] if arn else name

    async def _require_group(self, ctx: RequestContext, group: str) -> None:
        if not await self.logs.group_exists(ctx.account_id, ctx.region, group):
            raise LogsResourceNotFound("The specified log group does not exist.")

    # ------------------------------------------------------------ groups and streams

    async def create_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        if not await self.logs.create_group(ctx.account_id, ctx.region, params["logGroupName"]):
            raise ResourceAlreadyExistsException("The specified log group already exists")

    async def delete_log_group(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        if not await self.logs.delete_group(ctx.account_id, ctx.region, params["logGroupName"]):
            raise LogsResourceNotFound("The specified log group does not exist.")

    async def put_retention_policy(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        days = params["retentionInDays"]
        if days not in retention_periods():
            raise InvalidParameterException(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(map(str, retention_periods()))}]")
        if not await self.logs.set_retention(ctx.account_id, ctx.region, params["logGroupName"],
                                             params["retentionInDays"]):
            raise LogsResourceNotFound("The specified log group does not exist.")

    async def delete_retention_policy(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        if not await self.logs.set_retention(ctx.account_id, ctx.region, params["logGroupName"], None):
            raise LogsResourceNotFound("The specified log group does not exist.")

    async def create_log_stream(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        await self._require_group(ctx, params["logGroupName"])
        if not await self.logs.create_stream(ctx.account_id, ctx.region, params["logGroupName"],
                                             params["logStreamName"]):
            raise ResourceAlreadyExistsException("The specified log stream already exists")

    async def delete_log_stream(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        if not await self.logs.delete_stream(ctx.account_id, ctx.region, params["logGroupName"],
                                             params["logStreamName"]):
            raise LogsResourceNotFound("The specified log stream does not exist.")

    async def describe_log_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        groups = await self.logs.groups(ctx.account_id, ctx.region, params.get("logGroupNamePrefix") or "")
        pattern = params.get("logGroupNamePattern")
        if pattern:
            groups = [g for g in groups if pattern.lower() in g["name"].lower()]
        start = _untoken(params["nextToken"]) if params.get("nextToken") else 0
        limit = params.get("limit") or 50
        page = groups[start:start + limit]
        result: dict[str, Any] = {"logGroups": [{
            "logGroupName": g["name"], "creationTime": g["created"], "retentionInDays": g["retention_days"],
            "metricFilterCount": 0, "arn": _group_arn(ctx, g["name"]) + ":*", "storedBytes": g["stored_bytes"],
            "logGroupClass": "STANDARD", "logGroupArn": _group_arn(ctx, g["name"]),
        } for g in page]}
        if start + limit < len(groups):
            result["nextToken"] = _token(start + limit)
        return result

    async def describe_log_streams(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        await self._require_group(ctx, group)
        streams = await self.logs.streams(ctx.account_id, ctx.region, group)
        prefix = params.get("logStreamNamePrefix")
        if params.get("orderBy") == "LastEventTime":
            if prefix:
                raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
            streams.sort(key=lambda s: (s["last_event"] or 0, s["name"]))
        else:
            streams = sorted((s for s in streams if not prefix or s["name"].startswith(prefix)), key=lambda s: s["name"])
        if params.get("descending"):
            streams.reverse()
        start = _untoken(params["nextToken"]) if params.get("nextToken") else 0
        limit = params.get("limit") or 50
        page = streams[start:start + limit]
        result: dict[str, Any] = {"logStreams": [{
            "logStreamName": s["name"], "creationTime": s["created"], "firstEventTimestamp": s["first_event"],
            "lastEventTimestamp": s["last_event"], "lastIngestionTime": s["last_ingestion"],
            "arn": f"{_group_arn(ctx, group)}:log-stream:{s['name']}", "storedBytes": s["stored_bytes"],
        } for s in page]}
        if start + limit < len(streams):
            result["nextToken"] = _token(start + limit)
        return result

    # ------------------------------------------------------------ events

    async def put_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group, stream = params["logGroupName"], params["logStreamName"]
        await self._require_group(ctx, group)
        if not any(s["name"] == stream for s in await self.logs.streams(ctx.account_id, ctx.region, group)):
            raise LogsResourceNotFound("The specified log stream does not exist.")
        events = sorted((e["timestamp"], e["message"]) for e in params["logEvents"])
        now = int(time.time() * 1000)
        accepted, rejected = _within_accepted_window(events, now)
        self.logs.append(ctx.account_id, ctx.region, group, stream, accepted)
        result: dict[str, Any] = {"nextSequenceToken": _token(now)}
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    async def get_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group, stream = self._group_name(params), params["logStreamName"]
        await self._require_group(ctx, group)
        limit = params.get("limit") or DEFAULT_LIMIT
        bounds = {"start": params.get("startTime"), "end": params.get("endTime"), "limit": limit}
        token = params.get("nextToken")
        if token:
            direction, _, position = token.partition("/")
            if (direction not in ("f", "b") or not (position.isascii() and position.isdigit())
                    or int(position) > MAX_TOKEN_VALUE):
                raise InvalidParameterException("The specified nextToken is invalid.")
            key = "after_id" if direction == "f" else "before_id"
            events = await self.logs.stream_events(ctx.account_id, ctx.region, group, stream,
                                                   **{key: int(position)}, **bounds)
        else:
            events = await self.logs.stream_events(ctx.account_id, ctx.region, group, stream,
                                                   newest=not params.get("startFromHead"), **bounds)
        if events:
            forward, backward = f"f/{events[-1].id}", f"b/{events[0].id}"
        else:  # nothing more: the tokens stay where the caller already is
            position = token.partition("/")[2] if token else "0"
            forward, backward = f"f/{position}", f"b/{position}"
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion}
                           for e in events],
                "nextForwardToken": forward, "nextBackwardToken": backward}

    async def filter_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        await self._require_group(ctx, group)
        if params.get("logStreamNames") and params.get("logStreamNamePrefix"):
            raise InvalidParameterException("logStreamNames and logStreamNamePrefix cannot both be given.")
        matches = compile_filter_pattern(params.get("filterPattern") or "")
        limit = params.get("limit") or DEFAULT_LIMIT
        position = _unposition(params["nextToken"]) if params.get("nextToken") else None
        found: list[LogEvent] = []
        more = False
        # Scan in chunks so that a selective pattern still fills a page without loading everything.
        while True:
            chunk = await self.logs.group_events(
                ctx.account_id, ctx.region, group, streams=params.get("logStreamNames"),
                stream_prefix=params.get("logStreamNamePrefix"), start=params.get("startTime"),
                end=params.get("endTime"), after=position, limit=SCAN_CHUNK)
            for i, event in enumerate(chunk):
                position = (event.timestamp, event.id)
                if matches(event.message):
                    found.append(event)
                    if len(found) == limit:
                        more = i < len(chunk) - 1 or len(chunk) == SCAN_CHUNK
                        break
            if len(found) == limit or len(chunk) < SCAN_CHUNK:
                break
        result: dict[str, Any] = {
            "events": [{"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message,
                        "ingestionTime": e.ingestion, "eventId": str(e.id)} for e in found],
            "searchedLogStreams": [],
        }
        if more and position is not None:
            result["nextToken"] = _position(position)
        return result
