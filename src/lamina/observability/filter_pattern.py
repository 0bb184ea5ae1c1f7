"""CloudWatch Logs filter patterns for unstructured events: terms that must all appear,
"quoted phrases", `?term` alternatives (any one of them) and `-term` exclusions; matching is
case-sensitive, as in CloudWatch Logs."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from lamina.errors import AwsError


class InvalidFilterPattern(AwsError):
    code = "InvalidParameterException"
    status = 400
    message_key = "message"


def compile_filter_pattern(pattern: str) -> Callable[[str], bool]:
    pattern = pattern.strip()
    if not pattern:
        return lambda _: True
    if pattern[0] in "{[":
        raise InvalidFilterPattern(
            "Invalid filter pattern: lamina supports terms, \"quoted phrases\", ?alternatives and -exclusions; "
            "JSON and space-delimited patterns are not supported.")
    try:
        tokens = shlex.split(pattern)
    except ValueError:
        raise InvalidFilterPattern("Invalid filter pattern: unbalanced quotes.") from None
    required = [t for t in tokens if t[0] not in "?-"]
    alternatives = [t[1:] for t in tokens if t[0] == "?" and len(t) > 1]
    excluded = [t[1:] for t in tokens if t[0] == "-" and len(t) > 1]

    def matches(message: str) -> bool:
        return (all(t in message for t in required)
                and (not alternatives or any(t in message for t in alternatives))
                and not any(t in message for t in excluded))

    return matches
