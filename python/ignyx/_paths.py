"""Path templates as Starlette reads them, for code that matches routes itself::

    regex, path_format = compile_path("/items/{item_id:int}")
    regex.match("/items/3").groupdict()       # {"item_id": "3"}

The engine routes with its own table; this is what ``route.matches(scope)`` uses, which
add-ons (metrics, rate limits) call to find the route of a request.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

# What each convertor of a template matches, and how its value is read.
_CONVERTORS: dict[str, tuple[str, Any]] = {
    "str": ("[^/]+", str),
    "path": (".*", str),
    "int": ("[0-9]+", int),
    "float": (r"[0-9]+(\.[0-9]+)?", float),
    "uuid": ("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", str),
}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")


class Match(Enum):
    """How a route matches a request: not at all, by path only (another method), fully."""

    NONE = 0
    PARTIAL = 1
    FULL = 2

    def __eq__(self, other: object) -> bool:
        # Add-ons written for Starlette compare with `starlette.routing.Match`: the same
        # three members, by name.
        if isinstance(other, Enum) and type(other).__name__ == "Match":
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Any]]:
    """The regex of a path template, its format (``{name}`` without convertors) and the
    convertor of each parameter."""
    regex = "^"
    path_format = ""
    convertors: dict[str, Any] = {}
    index = 0
    for match in _PARAM.finditer(path):
        name, convertor = match.groups()
        kind = (convertor or ":str")[1:]
        if kind not in _CONVERTORS:
            raise ValueError(f"Unknown path convertor '{kind}'")
        pattern, read = _CONVERTORS[kind]
        regex += re.escape(path[index : match.start()]) + f"(?P<{name}>{pattern})"
        path_format += path[index : match.start()] + "{" + name + "}"
        convertors[name] = read
        index = match.end()
    regex += re.escape(path[index:]) + "$"
    path_format += path[index:]
    return re.compile(regex), path_format, convertors


def route_path(scope: dict[str, Any]) -> str:
    """The path a scope is routed by: ``path`` under ``root_path``, as Starlette routes."""
    path: str = scope["path"]
    root_path = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def match_path(
    regex: re.Pattern[str], convertors: dict[str, Any], scope: dict[str, Any]
) -> dict[str, Any] | None:
    """The path parameters of `scope` under `regex`, converted; None when it does not match."""
    found = regex.match(route_path(scope))
    if found is None:
        return None
    params = dict(scope.get("path_params") or {})
    for name, value in found.groupdict().items():
        params[name] = convertors[name](value)
    return params
