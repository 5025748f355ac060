"""EventBridge event patterns, and the JSON paths and input templates of Pipes.

Rules, pipes and Lambda filter criteria share the pattern syntax; paths are the Pipes/EventBridge
subset (``$.a.b``, ``$.a[0]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING: Any = object()


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` matches the EventBridge event ``pattern``.

    Supported: exact values (strings, numbers, booleans, null; an array value matches if any
    element does), nested keys, ``$or``, and the ``prefix``, ``suffix``, ``equals-ignore-case``,
    ``wildcard``, ``anything-but``, ``exists`` and ``numeric`` operators. Anything else raises
    ``ValueError`` rather than silently matching.
    """
    document: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, document) for alternative in rule):
                return False
            continue
        value = document.get(key, _MISSING)
        if isinstance(rule, Mapping):
            if isinstance(value, list):
                if not any(matches(rule, element) for element in value):
                    return False
            elif not matches(rule, value if isinstance(value, Mapping) else {}):
                return False
        elif isinstance(rule, list):
            if not _matches_any(rule, value):
                return False
        else:
            raise ValueError(f"event pattern field {key!r} must be an array or an object")
    return True


def _matches_any(rules: Sequence[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(rule, Mapping) and rule.get("exists") is False for rule in rules)
    values = value if isinstance(value, list) else [value]
    for rule in rules:
        if isinstance(rule, Mapping):
            if "exists" in rule:
                if rule["exists"] is True:
                    return True
                continue
            if any(_matches_operator(rule, element) for element in values):
                return True
        elif any(_equal(rule, element) for element in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if expected is None or isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and float(actual) == float(expected)
    return bool(actual == expected)


def _matches_operator(rule: Mapping[str, Any], value: Any) -> bool:
    ((operator, operand),) = rule.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(str(operand))
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(str(operand))
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(operand).casefold()
    if operator == "wildcard":
        regex = ".*".join(re.escape(part) for part in str(operand).split("*"))
        return isinstance(value, str) and re.fullmatch(regex, value, flags=re.DOTALL) is not None
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            return not _matches_operator(operand, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_equal(item, value) for item in excluded)
    if operator == "numeric":
        return _matches_numeric(list(operand), value)
    raise ValueError(f"event pattern operator {operator!r} is not supported locally")


def _matches_numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(checks[operator](float(value), float(bound)) for operator, bound in pairs)


class PathNotFoundError(LookupError):
    pass


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def json_path(document: Any, path: str) -> Any:
    """The value at ``path`` (``$``, ``$.a.b.c``, ``$.a[0].b``) in ``document``."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with '$'")
    value = document
    position = 1
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"JSON path {path!r} is not supported locally")
        key, index = step.groups()
        if key is not None:
            if not isinstance(value, Mapping) or key not in value:
                raise PathNotFoundError(path)
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise PathNotFoundError(path)
            value = value[int(index)]
        position = step.end()
    return value


_PLACEHOLDER = re.compile(r'(")?<(\$[^<>\s]*|aws\.pipes\.[a-z.-]+)>(")?')


def render_input_template(
    template: str, event: Any, variables: Mapping[str, Any] | None = None
) -> str:
    """``template`` with each ``<$.path>`` (or reserved ``<aws.pipes...>`` variable) replaced
    by its value: objects, arrays, numbers as JSON; a quoted placeholder takes a string's
    JSON-escaped text. A path that is not in the event is an error, not a silent null."""
    reserved = dict(variables or {})

    def replace(match: re.Match[str]) -> str:
        open_quote, name, close_quote = match.groups()
        if name.startswith("$"):
            value = json_path(event, name)
        elif name in reserved:
            value = reserved[name]
        else:
            raise ValueError(f"input template variable <{name}> is not supported locally")
        if open_quote and close_quote:
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)
        return f"{open_quote or ''}{json.dumps(value)}{close_quote or ''}"

    return _PLACEHOLDER.sub(replace, template)
