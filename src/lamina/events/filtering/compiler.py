"""From a pattern's JSON to matching trees, validating as AWS (event-ruler) does.

Two passes: `_Parser` checks the structure (objects, `$or`, value lists, the latter parsed
by `match_expressions`) and builds a small spec, raising a message naming the problem and
where it is; `_expand` turns the spec into alternatives, each a `tree.ObjectNode` without
`$or`, whose OR is the pattern.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import operators as ops
from .errors import PatternError
from .json_numbers import loads
from .match_expressions import MATCH_TYPES, NUMERIC_OPERATORS, MatchExpressionParser, json_kind, short, where
from .tree import AbsentLeaf, Node, ObjectNode, ValueLeaf

MAX_PATTERN_LENGTH = 4096  # characters in one Pattern string (Lambda's limit)
MAX_PATTERN_DEPTH = 100  # lamina's guard: nesting levels of objects in one pattern
MAX_ALTERNATIVES = 1024  # lamina's guard: $or combinations one pattern may expand to

OR_KEY = "$or"
# Field names that can only be a mistake inside "$or" (event-ruler reserves the same words).
RESERVED_IN_OR = frozenset({*MATCH_TYPES, *NUMERIC_OPERATORS})


class EventPattern:
    """One compiled pattern: an OR of `$or`-free alternatives."""

    __slots__ = ("alternatives",)

    def __init__(self, alternatives: tuple[ObjectNode, ...]) -> None:
        self.alternatives = alternatives

    def matches(self, event: Any) -> bool:
        """Whether a parsed JSON event matches (parse it with `load_json` to keep number text)."""
        for alternative in self.alternatives:
            if alternative.match(event):
                return True
        return False

    @property
    def root_keys(self) -> frozenset[str]:
        """The top-level field names any alternative tests."""
        return frozenset(key for alternative in self.alternatives for key, _ in alternative.fields)


def parse_pattern(
    pattern: str | Mapping[str, Any], *, strict_aws_esm: bool = False, max_length: int = MAX_PATTERN_LENGTH
) -> EventPattern:
    """Compile one pattern (its JSON text, or JSON already parsed with `load_json`).

    Raises PatternError with a message naming the problem.
    """
    if isinstance(pattern, str):
        if len(pattern) > max_length:
            raise PatternError(f"the pattern is {len(pattern)} characters long; the maximum is {max_length}")
        try:
            document = loads(pattern)
        except (ValueError, RecursionError) as exc:
            raise PatternError(f"the pattern is not valid JSON ({exc})") from None
    else:
        document = pattern
    if not isinstance(document, Mapping):
        raise PatternError(f"the pattern must be a JSON object, not {json_kind(document)}")
    spec = _Parser(strict_aws_esm).object(document, (), inside_or=False, depth=1)
    return EventPattern(tuple(ObjectNode(_merge(fields)) for fields in _expand(spec)))


# ---------------------------------------------------------------- pass 1: structure


@dataclass
class _LeafSpec:
    operators: list[ops.Operator]
    absent: bool  # the list holds {"exists": false}


@dataclass
class _ObjectSpec:
    fields: list[tuple[str, _LeafSpec | _ObjectSpec]] = field(default_factory=list)
    alternatives: list[list[_ObjectSpec]] = field(default_factory=list)  # one list per "$or"


class _Parser:
    def __init__(self, strict_aws_esm: bool) -> None:
        self.values = MatchExpressionParser(strict_aws_esm)

    def object(
        self, document: Mapping[str, Any], path: tuple[str, ...], *, inside_or: bool, depth: int
    ) -> _ObjectSpec:
        if depth > MAX_PATTERN_DEPTH:
            raise PatternError(f"the pattern nests objects deeper than {MAX_PATTERN_DEPTH} levels")
        if not document:
            raise PatternError(f"empty objects are not allowed{where(path)}")
        spec = _ObjectSpec()
        for key, value in document.items():
            if key == OR_KEY:
                spec.alternatives.append(self._or(value, path, depth))
                continue
            if inside_or and key in RESERVED_IN_OR:
                raise PatternError(
                    f'"{key}" is an operator and cannot be a field name inside "$or"{where(path)}; '
                    'operators go inside a value list, as in {"field": [{"' + key + '": ...}]}'
                )
            child_path = (*path, key)
            if isinstance(value, Mapping):
                spec.fields.append(
                    (key, self.object(value, child_path, inside_or=inside_or, depth=depth + 1))
                )
            elif isinstance(value, list):
                spec.fields.append((key, _LeafSpec(*self.values.value_list(value, child_path))))
            else:
                raise PatternError(
                    f'"{key}" must be an object or an array of values{where(child_path)}, '
                    f"not {json_kind(value)}; write [{short(value)}] to match the value"
                )
        return spec

    def _or(self, value: Any, path: tuple[str, ...], depth: int) -> list[_ObjectSpec]:
        or_path = (*path, OR_KEY)
        self.values.reject_in_strict_mode('"$or"', or_path)
        if not isinstance(value, list):
            raise PatternError(f'"$or" must be an array of at least 2 objects{where(or_path)}')
        if len(value) < 2:
            raise PatternError(f'"$or" needs at least 2 objects, found {len(value)}{where(or_path)}')
        branches = []
        for index, branch in enumerate(value):
            if not isinstance(branch, Mapping):
                raise PatternError(
                    f'"$or" may only contain objects, found {json_kind(branch)}{where((*path, f"$or[{index}]"))}'
                )
            branches.append(self.object(branch, (*path, f"$or[{index}]"), inside_or=True, depth=depth + 1))
        return branches


# ---------------------------------------------------------------- pass 2: alternatives

_Fields = list[tuple[str, Node]]


def _expand(spec: _ObjectSpec) -> list[_Fields]:
    """The alternatives of an object: each a list of (key, node) whose AND is one way to match."""
    groups: list[list[_Fields]] = []
    for key, child in spec.fields:
        if isinstance(child, _LeafSpec):
            options: list[_Fields] = []
            if child.operators:
                options.append([(key, ValueLeaf(ops.ValueMatcher(child.operators)))])
            if child.absent:
                options.append([(key, AbsentLeaf())])
            groups.append(options)
        else:
            groups.append([[(key, ObjectNode(_merge(fields)))] for fields in _expand(child)])
    for branches in spec.alternatives:
        groups.append([fields for branch in branches for fields in _expand(branch)])
    combinations = 1
    for options in groups:
        combinations *= len(options)
        if combinations > MAX_ALTERNATIVES:
            raise PatternError(
                f'the pattern is too complex: its "$or" lists combine into more than {MAX_ALTERNATIVES} alternatives'
            )
    return [[pair for fields in chosen for pair in fields] for chosen in itertools.product(*groups)]


def _merge(fields: _Fields) -> tuple[tuple[str, Node], ...]:
    """Join same-named object fields (an `$or` branch beside its siblings) into one node.

    One node keeps their fields in the same array element; same-named leaves stay separate
    and must all match.
    """
    merged: list[tuple[str, Node]] = []
    object_at: dict[str, int] = {}
    for key, node in fields:
        if isinstance(node, ObjectNode) and key in object_at:
            index = object_at[key]
            previous = merged[index][1]
            assert isinstance(previous, ObjectNode)
            merged[index] = (key, ObjectNode(_merge([*previous.fields, *node.fields])))
            continue
        if isinstance(node, ObjectNode):
            object_at[key] = len(merged)
        merged.append((key, node))
    return tuple(merged)


__all__ = [
    "MAX_ALTERNATIVES",
    "MAX_PATTERN_DEPTH",
    "MAX_PATTERN_LENGTH",
    "EventPattern",
    "parse_pattern",
]
