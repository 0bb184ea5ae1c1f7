"""`FilterCriteria` of an event source mapping: validate once, then filter records fast."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lamina.errors import InvalidParameterValueException

from .compiler import MAX_PATTERN_LENGTH, EventPattern, parse_pattern
from .errors import PatternError, invalid_parameter
from .sources import SOURCE_FORMATS, EventSource, SourceFormat
from .tree import AbsentLeaf, DataField, ObjectNode, ValueLeaf

DEFAULT_MAX_FILTERS = 5  # Lambda's default quota; it can be raised to 10


class RecordFilter:
    """The compiled `FilterCriteria` of one mapping; `matches` takes a record as Lambda delivers it."""

    __slots__ = ("source", "filter_count", "_alternatives", "_format", "_decode")

    def __init__(self, source: EventSource, patterns: list[EventPattern]) -> None:
        self.source = source
        self.filter_count = len(patterns)
        self._format: SourceFormat = SOURCE_FORMATS[source]
        # The filters are ORed, and so are the alternatives inside each: one flat list.
        self._alternatives = tuple(
            _guard_payload(alternative, self._format)
            for pattern in patterns
            for alternative in pattern.alternatives
        )
        root_keys = frozenset(key for pattern in patterns for key in pattern.root_keys)
        self._decode = root_keys & self._format.payload_keys  # payloads nobody filters on stay encoded

    @property
    def is_empty(self) -> bool:
        """No filters: every record passes."""
        return not self._alternatives

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self._alternatives:
            return True
        if type(record) is not dict:
            record = dict(record)  # the matcher walks plain JSON types only
        view = self._format.view(record, self._decode)
        for alternative in self._alternatives:
            if alternative.match(view):
                return True
        return False

    def split(
        self, records: Iterable[Mapping[str, Any]]
    ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """(kept, filtered out), each in the original order."""
        kept: list[Mapping[str, Any]] = []
        dropped: list[Mapping[str, Any]] = []
        for record in records:
            (kept if self.matches(record) else dropped).append(record)
        return kept, dropped


def compile_pattern(pattern: str | Mapping[str, Any], *, strict_aws_esm: bool = False) -> EventPattern:
    """Compile one pattern for matching parsed JSON events, with no source-specific handling.

    `pattern` is the JSON text, or JSON parsed with `load_json` (which keeps number text).
    """
    try:
        return parse_pattern(pattern, strict_aws_esm=strict_aws_esm)
    except PatternError as exc:
        raise invalid_parameter(str(exc)) from None


def compile_filters(
    criteria: Mapping[str, Any] | None,
    source: EventSource | str,
    *,
    max_filters: int = DEFAULT_MAX_FILTERS,
    strict_aws_esm: bool = False,
) -> RecordFilter:
    """Compile a `FilterCriteria` ({"Filters": [{"Pattern": "<json>"}]}) for one event source.

    None, {} and {"Filters": []} mean no filtering. Raises InvalidParameterValueException
    naming the filter and the problem.
    """
    source = EventSource(source)
    format_ = SOURCE_FORMATS[source]
    patterns = []
    for index, text in enumerate(_pattern_texts(criteria, max_filters)):
        where = f"Filters[{index}].Pattern"
        try:
            pattern = parse_pattern(text, strict_aws_esm=strict_aws_esm, max_length=MAX_PATTERN_LENGTH)
            if format_.payload_pattern_must_be_object:
                _require_object_payload(pattern, format_, source)
        except PatternError as exc:
            raise invalid_parameter(f"{where}: {exc}") from None
        patterns.append(pattern)
    return RecordFilter(source, patterns)


def validate_filter_criteria(
    criteria: Mapping[str, Any] | None,
    source: EventSource | str,
    *,
    max_filters: int = DEFAULT_MAX_FILTERS,
    strict_aws_esm: bool = False,
) -> None:
    """Check a `FilterCriteria` on CreateEventSourceMapping/UpdateEventSourceMapping."""
    compile_filters(criteria, source, max_filters=max_filters, strict_aws_esm=strict_aws_esm)


def _pattern_texts(criteria: Mapping[str, Any] | None, max_filters: int) -> list[str]:
    if criteria is None:
        return []
    if not isinstance(criteria, Mapping):
        raise InvalidParameterValueException('FilterCriteria must be an object such as {"Filters": [...]}')
    filters = criteria.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise InvalidParameterValueException('FilterCriteria.Filters must be a list of {"Pattern": "..."}')
    if len(filters) > max_filters:
        raise InvalidParameterValueException(
            f"FilterCriteria has {len(filters)} filters; the limit for an event source mapping is {max_filters}"
        )
    texts = []
    for index, entry in enumerate(filters):
        pattern = entry.get("Pattern") if isinstance(entry, Mapping) else None
        if not isinstance(pattern, str):
            raise invalid_parameter(f"Filters[{index}].Pattern must be a string holding a JSON object")
        texts.append(pattern)
    return texts


def _require_object_payload(pattern: EventPattern, format_: SourceFormat, source: EventSource) -> None:
    for alternative in pattern.alternatives:
        for key, node in alternative.fields:
            if key in format_.payload_keys and isinstance(node, ValueLeaf | AbsentLeaf):
                raise PatternError(
                    f'{source.value} filters must match "{key}" with a JSON object pattern, '
                    f'such as {{"{key}": {{"field": ["value"]}}}}; a list of values cannot match a {source.value} payload'
                )


def _guard_payload(alternative: ObjectNode, format_: SourceFormat) -> ObjectNode:
    if not any(key in format_.payload_keys for key, _ in alternative.fields):
        return alternative
    return ObjectNode(
        tuple(
            (key, DataField(node, skip_on_mismatch=format_.skip_payload_on_mismatch))
            if key in format_.payload_keys
            else (key, node)
            for key, node in alternative.fields
        )
    )
