"""``fastapi.applications`` path: the application class."""

from .app import FastAPI, Ignyx

__all__ = ["FastAPI", "Ignyx"]
