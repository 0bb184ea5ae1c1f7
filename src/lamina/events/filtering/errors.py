"""The one internal error of the filtering package.

Pattern problems are raised as `PatternError` deep inside the compiler, where the location
in the pattern is known, and turned into `InvalidParameterValueException` at the public
entry points, where the location in the `FilterCriteria` is known.
"""

from __future__ import annotations

from lamina.errors import InvalidParameterValueException

# AWS prefixes every rejected filter with this phrase; we keep it and add the detail.
INVALID_PATTERN = "Invalid filter pattern definition"


class PatternError(ValueError):
    """A filter pattern that cannot be compiled; the message names the problem."""


def invalid_parameter(detail: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(f"{INVALID_PATTERN}: {detail}")
