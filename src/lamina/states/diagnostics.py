"""What parsing a definition reports: `Diagnostic`s, their severities and the schema code.

Kept apart from the parser so that every part of it (field checks, choice rules, state
types) and the service that turns errors into API answers share one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "ERROR"
WARNING = "WARNING"

SCHEMA = "SCHEMA_VALIDATION_FAILED"


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    location: str | None = None

    def to_api(self) -> dict[str, str]:
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out

    def text(self) -> str:
        return f"{self.code}: {self.message}" + (f" at {self.location}" if self.location is not None else "")
