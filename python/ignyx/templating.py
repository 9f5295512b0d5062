"""HTML pages rendered from Jinja2 templates, with Starlette's ``Jinja2Templates`` API::

    templates = Jinja2Templates(directory="templates")

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: int):
        return templates.TemplateResponse(request, "item.html", {"id": item_id})

Templates can call ``url_for("static", path="app.css")``, which is ``request.url_for``.
Needs ``jinja2`` (``pip install jinja2``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional, Union, overload

try:
    import jinja2
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ignyx.templating needs Jinja2, which is not installed: pip install jinja2"
    ) from exc

from .background import BackgroundTask
from .datastructures import URL
from .requests import Request
from .responses import HTMLResponse

__all__ = ["Jinja2Templates"]

Directory = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]
ContextProcessor = Callable[[Request], dict[str, Any]]

# Starlette's warnings for the calls it deprecated, word for word.
_NAME_FIRST = (
    "The `name` is not the first parameter anymore. "
    "The first parameter should be the `Request` instance.\n"
    'Replace `TemplateResponse(name, {"request": request})` by `TemplateResponse(request, name)`.'
)
_NO_REQUEST = (
    "The `TemplateResponse` now requires the `request` argument.\n"
    'Replace `TemplateResponse(name, {"context": context})` by `TemplateResponse(request, name)`.'
)
_OPTIONS = ("context", "status_code", "headers", "media_type", "background")


class _TemplateResponse(HTMLResponse):
    """An HTML page rendered from `template`; keeps ``template`` and ``context`` for tests."""

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type, background)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Starlette's TestClient asks for the template and context through this extension.
        if "http.response.debug" in (scope.get("extensions") or {}):
            info = {"template": self.template, "context": self.context}
            await send({"type": "http.response.debug", "info": info})
        await super().__call__(scope, receive, send)


class Jinja2Templates:
    """The templates of `directory` (one or several), or of a ready Jinja2 `env`.

    Each function of `context_processors` takes the request and returns variables added to
    every template's context.
    """

    @overload
    def __init__(
        self,
        directory: Directory,
        *,
        context_processors: Optional[list[ContextProcessor]] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        env: jinja2.Environment,
        context_processors: Optional[list[ContextProcessor]] = None,
    ) -> None: ...

    def __init__(
        self,
        directory: Optional[Directory] = None,
        *,
        context_processors: Optional[list[ContextProcessor]] = None,
        env: Optional[jinja2.Environment] = None,
    ) -> None:
        assert bool(directory) != bool(env), "either 'directory' or 'env' arguments must be passed"
        self.context_processors = list(context_processors or [])
        if env is None:
            loader = jinja2.FileSystemLoader(directory)  # type: ignore[arg-type]
            env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape())
        self.env = env
        env.globals.setdefault("url_for", _url_for)

    def get_template(self, name: str) -> jinja2.Template:
        """The template called `name` (a path under the directory)."""
        return self.env.get_template(name)

    @overload
    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: Optional[dict[str, Any]] = None,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> _TemplateResponse: ...

    @overload
    def TemplateResponse(
        self,
        name: str,
        context: Optional[dict[str, Any]] = None,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Optional[BackgroundTask] = None,
    ) -> _TemplateResponse: ...

    def TemplateResponse(self, *args: Any, **kwargs: Any) -> _TemplateResponse:
        """The page `name` rendered with `context` (which also gets ``request``), as HTML.

        ``TemplateResponse(request, "item.html", {"id": 1}, status_code=200, headers=None,
        media_type=None, background=None)``; the older ``TemplateResponse("item.html",
        {"request": request, "id": 1})`` still works, with Starlette's deprecation warning.
        """
        if args and isinstance(args[0], str):
            warnings.warn(_NAME_FIRST, DeprecationWarning, stacklevel=2)
            options = {**dict(zip(("name", *_OPTIONS), args, strict=False)), **kwargs}
            request = _request_from(options.get("context"))
        elif args:
            options = {**dict(zip(("request", "name", *_OPTIONS), args, strict=False)), **kwargs}
            request = options["request"]
        else:
            options = kwargs
            request = options.get("request")
            if request is None:
                warnings.warn(_NO_REQUEST, DeprecationWarning, stacklevel=2)
                request = _request_from(options.get("context"))
        context = options.get("context")
        if context is None:
            context = {}
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return _TemplateResponse(
            self.get_template(options["name"]),
            context,
            status_code=options.get("status_code", 200),
            headers=options.get("headers"),
            media_type=options.get("media_type"),
            background=options.get("background"),
        )


def _request_from(context: Optional[Mapping[str, Any]]) -> Any:
    if not context or "request" not in context:
        raise ValueError('context must include a "request" key')
    return context["request"]


@jinja2.pass_context
def _url_for(context: Any, name: str, /, **path_params: Any) -> URL:
    """``url_for(name, **path_params)`` in a template: the request's ``url_for``."""
    request: Request = context["request"]
    return request.url_for(name, **path_params)
