"""Event filtering for event source mappings (`FilterCriteria`, spec §5).

    record_filter = compile_filters(mapping.filter_criteria, EventSource.SQS)
    kept, filtered_out = record_filter.split(batch)   # filtered-out SQS messages get deleted

The pattern language is event-ruler's (the engine behind EventBridge patterns): exact
values, prefix, suffix, equals-ignore-case, wildcard, anything-but and its forms,
numeric, exists, cidr and `$or`. `strict_aws_esm=True` rejects the operators not
documented for Lambda event source mappings (wildcard, cidr, `$or`, anything-but with
prefix/suffix/equals-ignore-case/wildcard).

Modules: `criteria` (FilterCriteria, limits, the public entry points), `compiler`
(pattern structure, `$or` expansion), `match_expressions` (value lists and their
validation), `operators` (one value against a value list), `tree` (objects, arrays,
exists), `sources` (what each source's record looks like to a filter), `json_numbers`
(number text and doubles), `wildcard`.
"""

from .compiler import MAX_PATTERN_LENGTH, EventPattern
from .criteria import (
    DEFAULT_MAX_FILTERS,
    RecordFilter,
    compile_filters,
    compile_pattern,
    validate_filter_criteria,
)
from .json_numbers import loads as load_json
from .sources import EventSource

__all__ = [
    "DEFAULT_MAX_FILTERS",
    "MAX_PATTERN_LENGTH",
    "EventPattern",
    "EventSource",
    "RecordFilter",
    "compile_filters",
    "compile_pattern",
    "load_json",
    "validate_filter_criteria",
]
