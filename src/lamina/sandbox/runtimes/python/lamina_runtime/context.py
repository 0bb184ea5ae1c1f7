"""The context object handed to handlers, with the attributes Lambda's Python runtime has."""

from __future__ import annotations

import os
import time

from .marshal import loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity: dict[str, Any] | None) -> None:
        identity = identity or {}
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, client: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, client.get(name))


class ClientContext:
    __slots__ = ("client", "custom", "env", "_w3c")

    def __init__(self, context: dict[str, Any]) -> None:
        client = context.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        custom = context.get("custom")
        # Lambda moves the W3C trace context out of `custom` into `context.w3c()`.
        self._w3c = custom.pop("w3c", None) if isinstance(custom, dict) else None
        self.custom = custom
        self.env = context.get("env")

    def w3c(self) -> Any:
        return self._w3c


class LambdaContext:
    # The function's own fields, read from the environment once at init (see `bind_environment`).
    function_name: str | None = None
    function_version: str | None = None
    memory_limit_in_mb: str | None = None
    log_group_name: str | None = None
    log_stream_name: str | None = None

    @classmethod
    def bind_environment(cls) -> None:
        environ = os.environ
        cls.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        cls.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        cls.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        cls.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        cls.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str,
                 client_context: str | None, cognito_identity: str | None,
                 tenant_id: str | None) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.identity = CognitoIdentity(loads(cognito_identity) if cognito_identity else None)
        self.client_context = ClientContext(loads(client_context)) if client_context else None
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity},tenant_id={self.tenant_id}])")
