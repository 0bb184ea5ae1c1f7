"""The pattern language, table-driven: every file in filtering_cases/ holds patterns with
events that must match and events that must not (see the `about` line of each file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lamina.events.filtering import compile_pattern, load_json

CASES_DIR = Path(__file__).parent / "filtering_cases"
# Every operator of the grammar must be exercised by at least one case file.
OPERATORS = (
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "$or",
)


def _load_case_files() -> dict[str, dict[str, Any]]:
    # lamina's own JSON reader keeps the text of numbers (300.0 is not 300).
    return {path.stem: load_json(path.read_text(encoding="utf-8")) for path in sorted(CASES_DIR.glob("*.json"))}


CASE_FILES = _load_case_files()


def _examples() -> list[Any]:
    examples = []
    for file_name, document in CASE_FILES.items():
        for case in document["cases"]:
            for expected, key in ((True, "match"), (False, "no_match")):
                for index, event in enumerate(case[key]):
                    examples.append(
                        pytest.param(
                            case["pattern"], event, expected, id=f"{file_name}: {case['name']} [{key} {index}]"
                        )
                    )
    return examples


@pytest.mark.parametrize(("pattern", "event", "expected"), _examples())
def test_pattern_against_event(pattern: Any, event: Any, expected: bool) -> None:
    assert compile_pattern(pattern).matches(event) is expected


def test_every_case_has_positive_and_negative_events() -> None:
    # A case with only matching (or only failing) events cannot catch an over- or under-matching bug.
    one_sided = [
        f"{file_name}: {case['name']}"
        for file_name, document in CASE_FILES.items()
        for case in document["cases"]
        if not case["match"] or not case["no_match"]
    ]
    assert one_sided == []


def test_every_operator_is_covered() -> None:
    all_patterns = " ".join(
        str(case["pattern"]) for document in CASE_FILES.values() for case in document["cases"]
    )
    assert [operator for operator in OPERATORS if f"'{operator}'" not in all_patterns] == []


def test_case_names_are_unique_per_file() -> None:
    for file_name, document in CASE_FILES.items():
        names = [case["name"] for case in document["cases"]]
        assert len(names) == len(set(names)), file_name
