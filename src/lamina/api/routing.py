"""Route REST requests to operations by HTTP method and the model's `requestUri` templates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from lamina.errors import UnknownOperationException

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    # Literal query parameters in the template, e.g. `?find=LayerVersion` or `?List=ALL`.
    required_query: tuple[tuple[str, str], ...]

    def specificity(self) -> tuple[int, int, int]:
        literal = len(_LABEL.sub("", self.pattern.pattern))
        return (len(self.required_query), literal, -len(self.labels))


def _compile(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    regex, labels, pos = ["^"], [], 0
    for match in _LABEL.finditer(path):
        regex.append(re.escape(path[pos:match.start()]))
        regex.append(f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)")
        labels.append(match.group(1))
        pos = match.end()
    regex.append(re.escape(path[pos:]) + "$")
    required = tuple(tuple(p.split("=", 1)) if "=" in p else (p, "") for p in query.split("&") if p)
    return Route(operation, re.compile("".join(regex)), tuple(labels), required)  # type: ignore[arg-type]


class Router:
    def __init__(self, service: ServiceModel) -> None:
        self._by_method: dict[str, list[Route]] = {}
        for name in service.operation_names:
            route = _compile(service.operation_model(name))
            self._by_method.setdefault(route.operation.http["method"], []).append(route)
        for routes in self._by_method.values():
            routes.sort(key=Route.specificity, reverse=True)

    def match(self, method: str, raw_path: str, query: dict[str, list[str]]) -> tuple[OperationModel, dict[str, str]]:
        """Find the operation; label values are returned percent-decoded."""
        for route in self._by_method.get(method, ()):
            found = route.pattern.match(raw_path)
            if found is None:
                continue
            if any(value not in query.get(key, ()) and not (value == "" and key in query)
                   for key, value in route.required_query):
                continue
            return route.operation, {k: unquote(v) for k, v in found.groupdict().items()}
        raise UnknownOperationException(f"No operation matches {method} {unquote(raw_path)}")
