"""Where a deployment package comes from: the request itself (`ZipFile`) or an S3 object,
fetched through the S3 API at the endpoint the operator configured the way the AWS SDKs
are configured (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and the usual credential chain)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lamina.control.packages import ZIPPED_LIMIT
from lamina.errors import InvalidParameterValueException
from lamina.sdk_clients import SdkClients


async def package_bytes(code: Mapping[str, Any], region: str) -> bytes:
    if code.get("ImageUri"):
        raise InvalidParameterValueException(
            "lamina runs functions deployed as .zip file archives; container images are not supported.")
    if code.get("ZipFile") is not None:
        if code.get("S3Bucket") or code.get("S3Key"):
            raise InvalidParameterValueException("Please provide either a ZipFile or an S3 location, not both.")
        return code["ZipFile"]
    if code.get("S3Bucket") and code.get("S3Key"):
        return await asyncio.to_thread(_s3_object, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion"), region)
    raise InvalidParameterValueException("Please provide a source for function code: ZipFile or S3Bucket and S3Key.")


_S3 = SdkClients(read_timeout=60)


def _s3_object(bucket: str, key: str, version: str | None, region: str) -> bytes:
    try:
        s3 = _S3.client("s3", region)
        extra = {"VersionId": version} if version else {}
        response = s3.get_object(Bucket=bucket, Key=key, **extra)
        body = response["Body"]
        try:
            # Refused by its declared length before any of it is read, and never read past the
            # limit, so a huge object costs no memory.
            if response.get("ContentLength", 0) > ZIPPED_LIMIT:
                raise _too_large()
            data = body.read(ZIPPED_LIMIT + 1)
        finally:
            body.close()
        if len(data) > ZIPPED_LIMIT:
            raise _too_large()
        return data
    except ClientError as e:
        error = e.response.get("Error", {})
        raise InvalidParameterValueException(
            f"Error occurred while GetObject. S3 Error Code: {error.get('Code')}. "
            f"S3 Error Message: {error.get('Message')}") from None
    except BotoCoreError as e:
        raise InvalidParameterValueException(f"Error occurred while GetObject: {e}") from None


def _too_large() -> InvalidParameterValueException:
    return InvalidParameterValueException(f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes")
