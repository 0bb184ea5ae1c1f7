"""The root logger as Lambda's Python runtime sets it up: one record per message,
`[LEVEL]\\t<ISO time>Z\\t<request id>\\t<message>` by default, a JSON object per line with
`AWS_LAMBDA_LOG_FORMAT=JSON`; embedded newlines become CR so that a multi-line message (a
traceback) stays one log record. Imported only once something imports `logging` (see
`logs.configure_logging`)."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from datetime import datetime, timezone

from . import logs
from .marshal import to_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "aws_request_id", "tenant_id"}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = logs.request_id
        record.tenant_id = logs.tenant_id
        return True


class _TextFormatter(logging.Formatter):
    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                         "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        created = datetime.fromtimestamp(record.created, tz=timezone.utc)
        entry: dict[str, Any] = {
            "timestamp": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["stackTrace"] = traceback.format_tb(record.exc_info[2])
            entry["errorType"] = record.exc_info[0].__name__
            entry["errorMessage"] = str(record.exc_info[1])
            entry["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        entry["requestId"] = logs.request_id
        if logs.tenant_id is not None:
            entry["tenantId"] = logs.tenant_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        try:
            return to_json(entry)
        except (TypeError, ValueError):
            return to_json({k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                            for k, v in entry.items()})


class _StdoutHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def configure(json_format: bool, level: str | None) -> None:
    handler = _StdoutHandler()
    handler.setFormatter(_JsonFormatter() if json_format else _TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
