"""The JSONPath subset Step Functions accepts, evaluated the way Step Functions does.

Roots: `$` (the data), `$$` (the context object) and `$name` (a workflow variable).
Steps: `.name`, `['name']`, `[n]` (negative counts from the end), `[*]`/`.*`, `..name`,
`[a,b]` unions, `[start:end:step]` slices and `[?(@.x < 3 && @.y)]` filters.

A path made only of names and indices is *definite*: it selects one value, and a miss
is an error. Any other path selects a list of matches, possibly empty. A *reference
path* (ResultPath, the target of an assignment) must be definite and rooted at `$`.
No third-party library is used: the common Python ones implement other dialects
(different filters, no `$$`, no variables), and this subset is small.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_NAME_CHARS = re.compile(r"[^.\[\]\s]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?\d+")


class JsonPathSyntaxError(ValueError):
    pass


class PathNotFound(LookupError):
    """A definite path selected nothing."""

    def __init__(self, path: JsonPath) -> None:
        super().__init__(f"No results for path: {path.normalized}")
        self.path = path


@dataclass(frozen=True)
class Step:
    kind: str  # name | index | wildcard | union | slice | filter | descend
    arg: Any = None


@dataclass(frozen=True)
class JsonPath:
    text: str
    root: str  # "input" | "context" | "variable"
    variable: str | None
    steps: tuple[Step, ...]

    @property
    def definite(self) -> bool:
        return all(s.kind in ("name", "index") for s in self.steps)

    @property
    def normalized(self) -> str:
        head = {"input": "$", "context": "$$"}.get(self.root) or f"${self.variable}"
        return head + "".join(_normalized_step(s) for s in self.steps)

    def find(self, data: Any) -> Any:
        """The value a definite path selects (PathNotFound if none), or the list of matches."""
        if self.definite:
            current = data
            for step in self.steps:
                if step.kind == "name":
                    if not isinstance(current, dict) or step.arg not in current:
                        raise PathNotFound(self)
                    current = current[step.arg]
                else:
                    if not isinstance(current, list) or not -len(current) <= step.arg < len(current):
                        raise PathNotFound(self)
                    current = current[step.arg]
            return current
        matches = [data]
        for step in self.steps:
            matches = [m for value in matches for m in _apply(step, value)]
        return matches


def _normalized_step(step: Step) -> str:
    if step.kind == "name":
        return f"['{step.arg}']"
    if step.kind == "index":
        return f"[{step.arg}]"
    if step.kind == "wildcard":
        return "[*]"
    if step.kind == "descend":
        return ".." + _normalized_step(step.arg)
    if step.kind == "union":
        return "[" + ",".join(f"'{a}'" if isinstance(a, str) else str(a) for a in step.arg) + "]"
    if step.kind == "slice":
        return "[" + ":".join("" if a is None else str(a) for a in step.arg) + "]"
    return f"[?({step.arg.text})]"


def _apply(step: Step, value: Any) -> list[Any]:
    kind, arg = step.kind, step.arg
    if kind == "name":
        return [value[arg]] if isinstance(value, dict) and arg in value else []
    if kind == "index":
        return [value[arg]] if isinstance(value, list) and -len(value) <= arg < len(value) else []
    if kind == "wildcard":
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if kind == "union":
        return [m for a in arg for m in _apply(Step("name" if isinstance(a, str) else "index", a), value)]
    if kind == "slice":
        return value[slice(*arg)] if isinstance(value, list) else []
    if kind == "filter":
        children = (
            value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
        )
        return [child for child in children if arg.test(child)]
    # descend: the step applied to this value and every value below it
    found: list[Any] = []
    stack = [value]
    while stack:
        node = stack.pop(0)
        found.extend(_apply(arg, node))
        if isinstance(node, dict):
            stack[0:0] = list(node.values())
        elif isinstance(node, list):
            stack[0:0] = list(node)
    return found


@lru_cache(maxsize=4096)
def compile_path(text: str) -> JsonPath:
    if not isinstance(text, str) or not text.startswith("$"):
        raise JsonPathSyntaxError(f"path must start with '$': {text!r}")
    if text.startswith("$$"):
        root, variable, pos = "context", None, 2
    else:
        m = _VARIABLE.match(text, 1)
        if m:
            root, variable, pos = "variable", m.group(), m.end()
        else:
            root, variable, pos = "input", None, 1
    steps, pos = _parse_steps(text, pos)
    if pos != len(text):
        raise JsonPathSyntaxError(f"unexpected {text[pos:]!r} in {text!r}")
    return JsonPath(text, root, variable, tuple(steps))


def _parse_steps(text: str, pos: int) -> tuple[list[Step], int]:
    steps: list[Step] = []
    while pos < len(text):
        if text.startswith("..", pos):
            pos += 2
            if text.startswith("[", pos):
                inner, pos = _parse_bracket(text, pos)
            else:
                inner, pos = _parse_dot_name(text, pos)
            steps.append(Step("descend", inner))
        elif text[pos] == ".":
            inner, pos = _parse_dot_name(text, pos + 1)
            steps.append(inner)
        elif text[pos] == "[":
            inner, pos = _parse_bracket(text, pos)
            steps.append(inner)
        else:
            break
    return steps, pos


def _parse_dot_name(text: str, pos: int) -> tuple[Step, int]:
    if text.startswith("*", pos):
        return Step("wildcard"), pos + 1
    m = _NAME_CHARS.match(text, pos)
    if not m:
        raise JsonPathSyntaxError(f"expected a name at {pos} in {text!r}")
    return Step("name", m.group()), m.end()


def _parse_bracket(text: str, pos: int) -> tuple[Step, int]:
    pos += 1  # '['
    if text.startswith("*]", pos):
        return Step("wildcard"), pos + 2
    if text.startswith("?(", pos):
        end = _matching_paren(text, pos + 1)
        if not text.startswith("]", end + 1):
            raise JsonPathSyntaxError(f"unclosed filter in {text!r}")
        return Step("filter", _Filter.parse(text[pos + 2 : end])), end + 2
    items: list[Any] = []
    parts: list[str | None] = []
    while True:
        if pos < len(text) and text[pos] in "'\"":
            name, pos = _parse_quoted(text, pos)
            items.append(name)
        else:
            m = re.compile(r"\s*(-?\d*)\s*").match(text, pos)
            assert m is not None
            token = m.group(1)
            pos = m.end()
            if pos < len(text) and text[pos] == ":":
                parts = [token or None]
                while pos < len(text) and text[pos] == ":":
                    m = re.compile(r"\s*(-?\d*)\s*").match(text, pos + 1)
                    assert m is not None
                    parts.append(m.group(1) or None)
                    pos = m.end()
                if not text.startswith("]", pos) or items or len(parts) > 3:
                    raise JsonPathSyntaxError(f"bad slice in {text!r}")
                bounds = tuple(int(p) if p is not None else None for p in parts)
                if len(bounds) == 3 and bounds[2] == 0:
                    raise JsonPathSyntaxError(f"slice step cannot be 0 in {text!r}")
                return Step("slice", bounds), pos + 1
            if not token or token == "-":
                raise JsonPathSyntaxError(f"bad subscript in {text!r}")
            items.append(int(token))
        if text.startswith(",", pos):
            pos += 1
            continue
        if text.startswith("]", pos):
            pos += 1
            break
        raise JsonPathSyntaxError(f"bad subscript in {text!r}")
    if len(items) == 1:
        return Step("name" if isinstance(items[0], str) else "index", items[0]), pos
    return Step("union", tuple(items)), pos


def _parse_quoted(text: str, pos: int) -> tuple[str, int]:
    quote = text[pos]
    out = []
    pos += 1
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if ch == quote:
            return "".join(out), pos + 1
        out.append(ch)
        pos += 1
    raise JsonPathSyntaxError(f"unterminated string in {text!r}")


def _matching_paren(text: str, pos: int) -> int:
    depth = 0
    quote = None
    for i in range(pos, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathSyntaxError(f"unbalanced parentheses in {text!r}")


_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<path>[@$](?:\.\.?[^\s.\[\]=!<>&|()]+|\[[^\]]*\]|\.\*)*)"
    r"|(?P<word>true|false|null))"
)


@dataclass(frozen=True)
class _Filter:
    """`?(...)`: comparisons of `@`-relative paths and literals joined by `&&`, `||`, `!`."""

    text: str
    tree: Any

    @classmethod
    def parse(cls, text: str) -> _Filter:
        tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _FILTER_TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise JsonPathSyntaxError(f"bad filter expression {text!r}")
            pos = m.end()
            kind = m.lastgroup
            value = m.group(kind)  # type: ignore[arg-type]
            if kind == "str":
                value = _parse_quoted(value, 0)[0]
            elif kind == "num":
                value = json.loads(value)
            elif kind == "word":
                kind, value = "lit", json.loads(value)
            elif kind == "path":
                rel = compile_path("$" + value[1:])
                value = (value[0], rel)
            tokens.append(("lit" if kind in ("str", "num") else kind, value))  # type: ignore[arg-type]
        parser = _FilterParser(tokens, text)
        tree = parser.parse_or()
        if parser.pos != len(tokens):
            raise JsonPathSyntaxError(f"bad filter expression {text!r}")
        return cls(text, tree)

    def test(self, current: Any) -> bool:
        return bool(_eval_filter(self.tree, current))


class _FilterParser:
    def __init__(self, tokens: list[tuple[str, Any]], text: str) -> None:
        self.tokens, self.text, self.pos = tokens, text, 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, Any]:
        tok = self._peek()
        if tok is None:
            raise JsonPathSyntaxError(f"bad filter expression {self.text!r}")
        self.pos += 1
        return tok

    def parse_or(self) -> Any:
        node = self.parse_and()
        while self._peek() == ("op", "||"):
            self.pos += 1
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Any:
        node = self.parse_unary()
        while self._peek() == ("op", "&&"):
            self.pos += 1
            node = ("and", node, self.parse_unary())
        return node

    def parse_unary(self) -> Any:
        if self._peek() == ("op", "!"):
            self.pos += 1
            return ("not", self.parse_unary())
        if self._peek() == ("op", "("):
            self.pos += 1
            node = self.parse_or()
            if self._take() != ("op", ")"):
                raise JsonPathSyntaxError(f"bad filter expression {self.text!r}")
            return node
        left = self._operand()
        tok = self._peek()
        if tok and tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.pos += 1
            return ("cmp", tok[1], left, self._operand())
        if left[0] != "path":
            raise JsonPathSyntaxError(f"bad filter expression {self.text!r}")
        return ("exists", left)

    def _operand(self) -> Any:
        kind, value = self._take()
        if kind not in ("lit", "path"):
            raise JsonPathSyntaxError(f"bad filter expression {self.text!r}")
        return (kind, value)


_MISSING = object()


def _operand_value(node: Any, current: Any) -> Any:
    if node[0] == "lit":
        return node[1]
    anchor, path = node[1]
    if anchor == "$":
        return _MISSING  # the document root is not available inside a filter here
    try:
        found = path.find(current)
    except PathNotFound:
        return _MISSING
    return found


def _eval_filter(node: Any, current: Any) -> bool:
    op = node[0]
    if op == "or":
        return _eval_filter(node[1], current) or _eval_filter(node[2], current)
    if op == "and":
        return _eval_filter(node[1], current) and _eval_filter(node[2], current)
    if op == "not":
        return not _eval_filter(node[1], current)
    if op == "exists":
        return _operand_value(node[1], current) is not _MISSING
    _, cmp, left_node, right_node = node
    left, right = _operand_value(left_node, current), _operand_value(right_node, current)
    if left is _MISSING or right is _MISSING:
        return False
    if cmp in ("==", "!="):
        return json_equal(left, right) == (cmp == "==")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[cmp]


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def is_reference_path(text: str) -> bool:
    """Definite and rooted at `$` (not `$$`, not a variable): may be written to."""
    try:
        path = compile_path(text)
    except JsonPathSyntaxError:
        return False
    return path.root == "input" and path.definite


class ResultPathMismatch(ValueError):
    pass


def set_at(data: Any, path: JsonPath, value: Any) -> Any:
    """A copy of `data` with `value` placed at the reference `path`, creating objects on the way."""
    if not path.steps:
        return value
    return _set(data, path.steps, value)


def _set(node: Any, steps: tuple[Step, ...], value: Any) -> Any:
    step, rest = steps[0], steps[1:]
    if step.kind == "name":
        if node is None:
            node = {}
        if not isinstance(node, dict):
            raise ResultPathMismatch(step.arg)
        copy = dict(node)
        copy[step.arg] = _set(node.get(step.arg), rest, value) if rest else value
        return copy
    if not isinstance(node, list) or not -len(node) <= step.arg < len(node):
        raise ResultPathMismatch(step.arg)
    items = list(node)
    items[step.arg] = _set(items[step.arg], rest, value) if rest else value
    return items
