"""Partial batch responses (`ReportBatchItemFailures`): which records the function says
failed. The rules are Lambda's: an empty or null response, or an empty or null list, is
a full success; anything malformed fails the whole batch."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

WHOLE_BATCH = None  # returned when the whole batch counts as failed


def reported_failures(response: Any, identifiers: Collection[str]) -> list[str] | None:
    """The identifiers the function reported as failed, in report order, or WHOLE_BATCH."""
    if response is None:
        return []
    if not isinstance(response, dict):
        return WHOLE_BATCH
    items = response.get("batchItemFailures")
    if items is None:
        return []
    if not isinstance(items, list):
        return WHOLE_BATCH
    failed: list[str] = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in identifiers:
            return WHOLE_BATCH
        failed.append(identifier)
    return failed
