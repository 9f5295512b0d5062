"""Middleware: any ASGI middleware class, and the ones the engine runs in Rust::

    app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])
    app = FastAPI(middleware=[Middleware(GZipMiddleware, minimum_size=500)])

As in Starlette, the middleware added last is the outermost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .cors import CORSMiddleware


class Middleware:
    """A middleware class with the arguments it is built with: ``Middleware(Cls, **options)``
    becomes ``Cls(app, **options)`` around the app."""

    def __init__(self, cls: Any, *args: Any, **kwargs: Any) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        options = [repr(arg) for arg in self.args]
        options += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        name = getattr(self.cls, "__name__", repr(self.cls))
        return f"Middleware({', '.join([name, *options])})"


__all__ = ["CORSMiddleware", "Middleware"]
