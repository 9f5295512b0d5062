"""``fastapi.applications`` path: the application classes, and ``AppType`` for code generic
over them (``def configure(app: AppType) -> AppType``)."""

from typing import TypeVar

from .app import FastAPI, Ignyx

__all__ = ["AppType", "FastAPI", "Ignyx"]

AppType = TypeVar("AppType", bound=Ignyx)
