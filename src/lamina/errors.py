"""AWS errors, one class per error code.

Services raise these; the api layer turns them into the wire format the AWS SDKs parse
(`x-amzn-ErrorType` header, JSON body with the message under the key the model uses).
"""

from __future__ import annotations

from typing import Any, ClassVar


class AwsError(Exception):
    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    # Which casing of the message member the service model gives this error.
    message_key: ClassVar[str] = "Message"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.headers: dict[str, str] = {}

    @property
    def error_type(self) -> str:
        return "User" if self.status < 500 else "Service"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Type": self.error_type, self.message_key: self.message}
        if self.message_key != "message":
            body["message"] = self.message
        body.update(self.fields)
        return body


def _error(code: str, status: int, message_key: str = "message") -> type[AwsError]:
    return type(code, (AwsError,), {"code": code, "status": status, "message_key": message_key})


ValidationException = _error("ValidationException", 400)
InvalidParameterValueException = _error("InvalidParameterValueException", 400)
InvalidRequestContentException = _error("InvalidRequestContentException", 400)
ResourceNotFoundException = _error("ResourceNotFoundException", 404, "Message")
ResourceConflictException = _error("ResourceConflictException", 409)
ResourceInUseException = _error("ResourceInUseException", 400, "Message")
PreconditionFailedException = _error("PreconditionFailedException", 412)
RequestTooLargeException = _error("RequestTooLargeException", 413)
RequestEntityTooLargeException = _error("RequestEntityTooLargeException", 413)
UnsupportedMediaTypeException = _error("UnsupportedMediaTypeException", 415)
PolicyLengthExceededException = _error("PolicyLengthExceededException", 400)
CodeStorageExceededException = _error("CodeStorageExceededException", 400)
ProvisionedConcurrencyConfigNotFoundException = _error("ProvisionedConcurrencyConfigNotFoundException", 404)
RecursiveInvocationException = _error("RecursiveInvocationException", 400, "Message")
ServiceException = _error("ServiceException", 500, "Message")
UnknownOperationException = _error("UnknownOperationException", 404)
NotImplementedOperation = _error("UnsupportedOperationException", 501)
UnrecognizedClientException = _error("UnrecognizedClientException", 403)
InvalidSignatureException = _error("InvalidSignatureException", 403)
MissingAuthenticationTokenException = _error("MissingAuthenticationTokenException", 403)
IncompleteSignatureException = _error("IncompleteSignatureException", 403)
AccessDeniedException = _error("AccessDeniedException", 403, "Message")


class TooManyRequestsException(AwsError):
    code = "TooManyRequestsException"
    status = 429
    message_key = "message"

    def __init__(self, message: str, reason: str, retry_after_seconds: int = 1) -> None:
        super().__init__(message, Reason=reason, retryAfterSeconds=str(retry_after_seconds))
        self.headers["Retry-After"] = str(retry_after_seconds)
