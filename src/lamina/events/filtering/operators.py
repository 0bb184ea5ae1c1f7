"""Matching one JSON value against the list of values a pattern gives for a field.

The compiler turns each element of a pattern's value list into one of the operator records
below; `ValueMatcher` folds them into sets and tuples so that a value is tested with a
few hash lookups and `str.startswith`/`endswith` calls rather than a loop over operators.

Type rules (event-ruler's): exact strings, prefix, suffix, equals-ignore-case, wildcard
and cidr only see strings; numeric only sees numbers; exact numbers compare by JSON text;
`exists: true` sees any value including null; anything-but passes every value it does not
exclude, whatever its type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import PatternError
from .json_numbers import JsonFloat, comparable, number_text
from .wildcard import WildcardPattern

# ---------------------------------------------------------------- ranges of numbers and IPs


@dataclass(frozen=True, slots=True)
class NumericRange:
    low: float
    low_inclusive: bool
    high: float
    high_inclusive: bool

    def contains(self, number: float) -> bool:
        if number < self.low or (number == self.low and not self.low_inclusive):
            return False
        return number < self.high or (number == self.high and self.high_inclusive)


@dataclass(frozen=True, slots=True)
class IpRange:
    version: int
    first: int
    last: int

    @classmethod
    def from_cidr(cls, text: str) -> IpRange:
        address, slash, bits = text.partition("/")
        if not slash or "/" in bits:
            raise PatternError(f'invalid CIDR "{text}": exactly one "/" is required, as in "10.0.0.0/24"')
        if not bits.isdigit():
            raise PatternError(f'invalid CIDR "{text}": the prefix length must be a whole number')
        try:
            network = ipaddress.ip_network(f"{address}/{int(bits)}", strict=False)
        except ValueError as exc:
            raise PatternError(f'invalid CIDR "{text}": {exc}') from None
        # Host bits after the prefix are ignored: 10.0.0.5/24 means 10.0.0.0/24.
        return cls(network.version, int(network.network_address), int(network.broadcast_address))

    def contains(self, address: tuple[int, int]) -> bool:
        version, value = address
        return version == self.version and self.first <= value <= self.last


def parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an IPv4/IPv6 literal, or None; IPv4-mapped IPv6 counts as IPv4."""
    if len(text) > 45 or ("." not in text and ":" not in text):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version, int(address)


# ---------------------------------------------------------------- anything-but exclusions


def _is_number(value: object) -> bool:
    kind = type(value)
    return kind is int or kind is float or kind is JsonFloat


@dataclass(frozen=True, slots=True)
class ExcludedStrings:
    values: frozenset[str]

    def allows(self, value: object) -> bool:
        return value not in self.values  # a value of another type is never excluded


@dataclass(frozen=True, slots=True)
class ExcludedNumbers:
    values: frozenset[float]

    def allows(self, value: object) -> bool:
        if not _is_number(value):
            return True
        # A number without an exact double (None) is never in the set, so never excluded.
        return comparable(value) not in self.values  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ExcludedPrefixes:
    prefixes: tuple[str, ...]

    def allows(self, value: object) -> bool:
        return type(value) is not str or not value.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class ExcludedSuffixes:
    suffixes: tuple[str, ...]

    def allows(self, value: object) -> bool:
        return type(value) is not str or not value.endswith(self.suffixes)


@dataclass(frozen=True, slots=True)
class ExcludedIgnoringCase:
    lowered: frozenset[str]

    def allows(self, value: object) -> bool:
        return type(value) is not str or value.lower() not in self.lowered


@dataclass(frozen=True, slots=True)
class ExcludedWildcards:
    patterns: tuple[WildcardPattern, ...]

    def allows(self, value: object) -> bool:
        return type(value) is not str or not any(pattern.matches(value) for pattern in self.patterns)


Exclusion = (
    ExcludedStrings
    | ExcludedNumbers
    | ExcludedPrefixes
    | ExcludedSuffixes
    | ExcludedIgnoringCase
    | ExcludedWildcards
)


# ---------------------------------------------------------------- one element of a value list


@dataclass(frozen=True, slots=True)
class ExactString:
    value: str


@dataclass(frozen=True, slots=True)
class ExactNumber:
    text: str


@dataclass(frozen=True, slots=True)
class ExactLiteral:
    value: bool | None


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    pattern: WildcardPattern


@dataclass(frozen=True, slots=True)
class Numeric:
    range: NumericRange


@dataclass(frozen=True, slots=True)
class Cidr:
    range: IpRange


@dataclass(frozen=True, slots=True)
class Exists:
    """`{"exists": true}`; `false` is not a value test and is handled by the tree."""


@dataclass(frozen=True, slots=True)
class AnythingBut:
    exclusion: Exclusion


Operator = (
    ExactString
    | ExactNumber
    | ExactLiteral
    | Prefix
    | Suffix
    | EqualsIgnoreCase
    | Wildcard
    | Numeric
    | Cidr
    | Exists
    | AnythingBut
)


class ValueMatcher:
    """All the operators of one field, folded for speed; `matches` ORs them."""

    __slots__ = (
        "strings",
        "number_texts",
        "match_true",
        "match_false",
        "match_null",
        "match_any",
        "prefixes",
        "suffixes",
        "lowered_equals",
        "lowered_prefixes",
        "lowered_suffixes",
        "folds_case",
        "wildcards",
        "numeric_ranges",
        "ip_ranges",
        "exclusions",
    )

    def __init__(self, operators: Iterable[Operator]) -> None:
        strings: set[str] = set()
        number_texts: set[str] = set()
        literals: list[bool | None] = []
        prefixes: list[str] = []
        suffixes: list[str] = []
        lowered_equals: set[str] = set()
        lowered_prefixes: list[str] = []
        lowered_suffixes: list[str] = []
        wildcards: list[WildcardPattern] = []
        numeric_ranges: list[NumericRange] = []
        ip_ranges: list[IpRange] = []
        exclusions: list[Exclusion] = []
        self.match_any = False
        for operator in operators:
            match operator:
                case ExactString(value):
                    strings.add(value)
                case ExactNumber(text):
                    number_texts.add(text)
                case ExactLiteral(value):
                    literals.append(value)
                case Prefix(text, False):
                    prefixes.append(text)
                case Prefix(text, True):
                    lowered_prefixes.append(text.lower())
                case Suffix(text, False):
                    suffixes.append(text)
                case Suffix(text, True):
                    lowered_suffixes.append(text.lower())
                case EqualsIgnoreCase(text):
                    lowered_equals.add(text.lower())
                case Wildcard(pattern):
                    wildcards.append(pattern)
                case Numeric(numeric_range):
                    numeric_ranges.append(numeric_range)
                case Cidr(ip_range):
                    ip_ranges.append(ip_range)
                case Exists():
                    self.match_any = True
                case AnythingBut(exclusion):
                    exclusions.append(exclusion)
        self.strings = frozenset(strings)
        self.number_texts = frozenset(number_texts)
        self.match_true = any(literal is True for literal in literals)
        self.match_false = any(literal is False for literal in literals)
        self.match_null = any(literal is None for literal in literals)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.lowered_equals = frozenset(lowered_equals)
        self.lowered_prefixes = tuple(lowered_prefixes)
        self.lowered_suffixes = tuple(lowered_suffixes)
        self.folds_case = bool(lowered_equals or lowered_prefixes or lowered_suffixes)
        self.wildcards = tuple(wildcards)
        self.numeric_ranges = tuple(numeric_ranges)
        self.ip_ranges = tuple(ip_ranges)
        self.exclusions = tuple(exclusions)

    def matches(self, value: object) -> bool:
        """Whether one JSON value satisfies any operator; objects and arrays never do."""
        kind = type(value)
        if kind is str:
            if value in self.strings:
                return True
            if self.prefixes and value.startswith(self.prefixes):  # type: ignore[attr-defined]
                return True
            if self.suffixes and value.endswith(self.suffixes):  # type: ignore[attr-defined]
                return True
            if self.folds_case and self._matches_folded(value.lower()):  # type: ignore[attr-defined]
                return True
            for wildcard in self.wildcards:
                if wildcard.matches(value):  # type: ignore[arg-type]
                    return True
            if self.ip_ranges:
                address = parse_ip(value)  # type: ignore[arg-type]
                if address is not None and any(ip_range.contains(address) for ip_range in self.ip_ranges):
                    return True
        elif kind is int or kind is float or kind is JsonFloat:
            if self.number_texts and number_text(value) in self.number_texts:  # type: ignore[arg-type]
                return True
            if self.numeric_ranges:
                double = comparable(value)  # type: ignore[arg-type]
                if double is not None and any(r.contains(double) for r in self.numeric_ranges):
                    return True
        elif value is None:
            if self.match_null:
                return True
        elif kind is bool:
            if self.match_true if value else self.match_false:
                return True
        else:
            return False  # not a JSON scalar
        if self.match_any:
            return True
        for exclusion in self.exclusions:
            if exclusion.allows(value):
                return True
        return False

    def _matches_folded(self, lowered: str) -> bool:
        return (
            lowered in self.lowered_equals
            or bool(self.lowered_prefixes and lowered.startswith(self.lowered_prefixes))
            or bool(self.lowered_suffixes and lowered.endswith(self.lowered_suffixes))
        )
