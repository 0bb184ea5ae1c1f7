"""JSON numbers as the filter language sees them.

Two views of one number are needed:

* its **text**, for exact matches: AWS compares `"Price": [300]` with the event's number as
  written, so 300, 300.0 and 3.0e2 are three different values;
* its **double**, for `numeric` and numeric `anything-but`: event-ruler compares IEEE-754
  doubles and refuses numbers that no double holds exactly (0.30000000000000001, 1e400,
  2**53 + 1); such numbers never satisfy a numeric comparison.

JSON parsed by this package keeps the text of every non-integer number in `JsonFloat`.
Integers need no help: JSON integer text is always `str(int(text))` ("-0" aside).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


class JsonFloat(float):
    """A float parsed from JSON that remembers how it was written."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> JsonFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str | bytes) -> Any:
    """Parse JSON, keeping the text of non-integer numbers (raises ValueError on bad JSON)."""
    return json.loads(text, parse_float=JsonFloat, parse_constant=_reject_constant)


def number_text(value: int | float) -> str:
    """The JSON text of a number, as an exact match compares it."""
    if type(value) is JsonFloat:
        return value.text
    if type(value) is int:
        return str(value)
    # A float built in Python (say a timestamp in a DynamoDB record): its shortest form.
    return repr(value)


def comparable(value: int | float) -> float | None:
    """The double a numeric comparison uses, or None when no double holds the number exactly."""
    if type(value) is int:
        try:
            double = float(value)
        except OverflowError:
            return None
        return double if int(double) == value else None
    double = float(value)
    if not math.isfinite(double):
        return None
    if type(value) is JsonFloat:
        shortest = repr(double)
        if shortest != value.text and Decimal(shortest) != Decimal(value.text):
            return None
    return double
