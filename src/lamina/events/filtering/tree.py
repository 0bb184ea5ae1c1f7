"""The compiled shape of one pattern alternative, and how it walks an event.

The compiler expands `$or` (and value lists that mix `exists: false` with other values)
into alternatives, so every tree here is a plain AND of fields. Leaves are either
*positive* (the field must hold a matching value) or *absent* (`exists: false`).

Arrays in the event, event-ruler style ("array consistency"):

* at a leaf, a list matches if any of its (flattened) scalar elements matches;
* at an object node, a list means "one of these elements": every field of the node is
  checked against the same element, so two fields can never be satisfied by different
  elements of one array;
* a node that only says what must be absent (no positive leaf below it) must hold for
  every element instead: `{"a": {"b": [{"exists": false}]}}` fails if any element of
  `a` has a `b`. Inside a node with positive fields, absence is checked in the element
  that the positive fields picked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from .operators import ValueMatcher


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The value of a field the event does not have."""


class Node(Protocol):
    positive: bool

    def match(self, value: Any) -> bool: ...


def _elements(items: list[Any]) -> Iterator[Any]:
    """The elements of a JSON array with nested arrays flattened, without recursion."""
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if type(item) is list:
                stack.append(iter(item))
                break
            yield item
        else:
            stack.pop()


def _has_nested_list(items: list[Any]) -> bool:
    for item in items:
        if type(item) is list:
            return True
    return False


class ValueLeaf:
    """The field must hold a value the matcher accepts."""

    __slots__ = ("matcher",)
    positive = True

    def __init__(self, matcher: ValueMatcher) -> None:
        self.matcher = matcher

    def match(self, value: Any) -> bool:
        kind = type(value)
        if kind is list:
            matches = self.matcher.matches
            items = _elements(value) if _has_nested_list(value) else value
            for item in items:
                if matches(item):  # objects in the array are not leaves: matches() says no
                    return True
            return False
        if kind is dict or value is MISSING:
            return False  # objects are not leaves; exists works on leaves only
        return self.matcher.matches(value)


class AbsentLeaf:
    """`exists: false`: the field holds no leaf value (missing, an object, or an array of objects)."""

    __slots__ = ()
    positive = False

    def match(self, value: Any) -> bool:
        if value is MISSING:
            return True
        kind = type(value)
        if kind is dict:
            return True
        if kind is list:
            return all(type(item) is dict for item in _elements(value))
        return False


class ObjectNode:
    """An object in the pattern: every field must match (in the same array element)."""

    __slots__ = ("fields", "positive")

    def __init__(self, fields: tuple[tuple[str, Node], ...]) -> None:
        self.fields = fields
        self.positive = any(child.positive for _, child in fields)

    def match(self, value: Any) -> bool:
        if type(value) is dict:
            get = value.get
            for key, child in self.fields:
                if not child.match(get(key, MISSING)):
                    return False
            return True
        if type(value) is list:
            if self.positive:
                return any(self.match(item) for item in _elements(value))
            return all(self.match(item) for item in _elements(value))
        # Missing, or a scalar where the pattern expects an object: no field exists below it.
        return not self.positive


class DataField:
    """A record's payload field (SQS `body`, Kinesis `data`, ...) with the format check AWS applies.

    The payload is JSON (an object or array, already parsed by the source view) or plain
    text. A pattern object needs JSON, a pattern value list needs text; when they disagree
    the field either fails (SQS, Kinesis, DynamoDB drop the record) or is skipped so that
    only the metadata fields decide (Kafka, MQ).
    """

    __slots__ = ("inner", "expects_json", "skip_on_mismatch", "positive")

    def __init__(self, inner: Node, *, skip_on_mismatch: bool) -> None:
        self.inner = inner
        self.expects_json = isinstance(inner, ObjectNode)
        self.skip_on_mismatch = skip_on_mismatch
        self.positive = inner.positive

    def match(self, value: Any) -> bool:
        if value is MISSING:
            return self.inner.match(value)
        if value is UNREADABLE or (type(value) is dict or type(value) is list) != self.expects_json:
            return self.skip_on_mismatch
        return self.inner.match(value)


class _Unreadable:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE: Any = _Unreadable()
"""A payload that is neither JSON nor text (bad base64, not UTF-8): it agrees with no pattern."""
