"""`wildcard` patterns: `*` matches any run of characters, `\\*` a star, `\\\\` a backslash.

A backslash before any other character and two unescaped stars in a row are errors, as in
event-ruler. Matching splits the pattern into literal segments once and then scans the
value left to right (greedy leftmost search), which is linear-ish and immune to the
backtracking blow-up a regex with many `.*` would have.
"""

from __future__ import annotations

from .errors import PatternError


class WildcardPattern:
    __slots__ = ("source", "_segments")

    def __init__(self, source: str, segments: tuple[str, ...]) -> None:
        self.source = source
        # Literal text between unescaped stars; one segment means no star at all.
        self._segments = segments

    @classmethod
    def parse(cls, source: str) -> WildcardPattern:
        segments: list[str] = []
        current: list[str] = []
        previous_was_star = False
        index = 0
        while index < len(source):
            char = source[index]
            if char == "\\":
                escaped = source[index + 1] if index + 1 < len(source) else ""
                if escaped not in ("*", "\\"):
                    raise PatternError(
                        f'invalid escape at position {index} in wildcard "{source}": '
                        "only \\* and \\\\ may be escaped"
                    )
                current.append(escaped)
                previous_was_star = False
                index += 2
                continue
            if char == "*":
                if previous_was_star:
                    raise PatternError(
                        f'consecutive wildcard characters at position {index} in wildcard "{source}"'
                    )
                segments.append("".join(current))
                current = []
                previous_was_star = True
            else:
                current.append(char)
                previous_was_star = False
            index += 1
        segments.append("".join(current))
        return cls(source, tuple(segments))

    def matches(self, value: str) -> bool:
        segments = self._segments
        if len(segments) == 1:
            return value == segments[0]
        head, tail = segments[0], segments[-1]
        if len(value) < len(head) + len(tail) or not value.startswith(head) or not value.endswith(tail):
            return False
        position, end = len(head), len(value) - len(tail)
        for middle in segments[1:-1]:
            found = value.find(middle, position, end)
            if found < 0:
                return False
            position = found + len(middle)
        return True
