"""Sending invocation records and dead-lettered events to other services through their AWS
APIs, configured the way the AWS SDKs are (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
and the usual credential chain). A Lambda function destination is reached in-process."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from lamina.sdk_clients import SdkClients

# Sends an async invocation of (account, region, function name, qualifier, payload).
LocalInvoker = Callable[[str, str, str, str | None, bytes], Awaitable[None]]


class DeliveryError(Exception):
    pass


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        raise DeliveryError(f"not an ARN: {arn}")
    return parts[2], parts[3], parts[4], parts[5]


class Senders:
    def __init__(self, local_invoke: LocalInvoker) -> None:
        self.local_invoke = local_invoke
        self._clients = SdkClients(read_timeout=30, max_attempts=2)
        self._queue_urls: dict[str, str] = {}

    def _client(self, service: str, region: str):
        return self._clients.client(service, region)

    async def send(self, target: str, body: bytes, attributes: dict[str, Any], context: dict[str, Any]) -> None:
        service, region, account, resource = _arn_parts(target)
        if service == "lambda":
            name, _, qualifier = resource.removeprefix("function:").partition(":")
            await self.local_invoke(account, region, name, qualifier or None, body)
            return
        try:
            await asyncio.to_thread(self._send_blocking, service, region, account, resource, target, body,
                                    attributes, context)
        except DeliveryError:
            raise
        except Exception as e:  # any SDK or network failure is a failed delivery, retried later
            raise DeliveryError(f"{type(e).__name__}: {e}") from None

    def _send_blocking(self, service: str, region: str, account: str, resource: str, target: str, body: bytes,
                       attributes: dict[str, Any], context: dict[str, Any]) -> None:
        if service == "sqs":
            url = self._queue_urls.get(target)
            if url is None:
                url = self._client("sqs", region).get_queue_url(QueueName=resource,
                                                                QueueOwnerAWSAccountId=account)["QueueUrl"]
                self._queue_urls[target] = url
            self._client("sqs", region).send_message(QueueUrl=url, MessageBody=body.decode(),
                                                     MessageAttributes=attributes)
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=target, Message=body.decode(), MessageAttributes=attributes)
        elif service == "events":
            result = self._client("events", region).put_events(Entries=[{
                "Source": "lambda", "DetailType": context["detail_type"], "Detail": body.decode(),
                "EventBusName": target, "Resources": [context["function_arn"], target]}])
            if result.get("FailedEntryCount"):
                raise DeliveryError(f"EventBridge refused the event: {result['Entries']}")
        elif service == "s3":
            now = datetime.now(UTC)
            key = (f"aws/lambda/async/{context['function_name']}/{now:%Y/%m/%d}/"
                   f"{now:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")
            self._client("s3", region).put_object(Bucket=resource, Key=key, Body=body,
                                                  ContentType="application/json")
        else:
            raise DeliveryError(f"unsupported destination {target}")


def dead_letter_attributes(request_id: str, status_code: int, message: str) -> dict[str, Any]:
    """The message attributes Lambda puts on a dead-lettered event."""
    return {"RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(status_code)},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:1024] or "-"}}


def invocation_record(*, request_id: str, function_arn: str, condition: str, invoke_count: int,
                      request_payload: bytes, response: dict[str, Any] | None) -> bytes:
    """The record sent to an on-success or on-failure destination."""
    try:
        request = orjson.loads(request_payload)
    except orjson.JSONDecodeError:
        request = request_payload.decode(errors="replace")
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z",
        "requestContext": {"requestId": request_id, "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "requestPayload": request,
    }
    if response is not None:
        record["responseContext"] = response["context"]
        record["responsePayload"] = response["payload"]
    return orjson.dumps(record)
