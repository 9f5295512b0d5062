"""``Route``: Starlette's plain route, ``endpoint(request)`` answering with a response."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

from .._paths import Match, compile_path, match_path
from ..requests import Request


class Route:
    """A Starlette route: ``endpoint(request)`` answers with a ``Response``, with no
    parameters read from the signature (``app.add_route("/health", health)``)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Optional[Sequence[str]] = None,
        name: Optional[str] = None,
        include_in_schema: bool = True,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.methods = {method.upper() for method in methods or ["GET"]}
        if "GET" in self.methods:
            self.methods.add("HEAD")
        self.name = name or getattr(endpoint, "__name__", type(endpoint).__name__)
        self.include_in_schema = include_in_schema
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        if scope.get("type") != "http":
            return Match.NONE, {}
        params = match_path(self.path_regex, self.param_convertors, scope)
        if params is None:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": params}
        return (Match.FULL if scope.get("method") in self.methods else Match.PARTIAL), child

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes: the endpoint, called with the request.
        (Add-ons' endpoints may answer with Starlette's own responses: the engine takes
        them as they are.)"""
        return self._spec(self.endpoint, inspect.iscoroutinefunction(self.endpoint))

    def _spec(self, call: Callable[[Request], Any], is_async: bool) -> dict[str, Any]:
        return {
            "path": self.path,
            "methods": sorted(self.methods),
            "call": call,
            "is_async": is_async,
            "status_code": 200,
            "route": self,
        }
