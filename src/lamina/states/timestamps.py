"""RFC 3339 timestamps as the States language uses them (Wait, Timestamp comparisons, $$ times)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: object) -> float | None:
    """Seconds since the epoch, or None when `text` is not an RFC 3339 timestamp with a zone."""
    if not isinstance(text, str) or not _RFC3339.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def format_timestamp(epoch_seconds: float) -> str:
    """`2024-01-02T03:04:05.678Z`, the form of the context object's times."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
