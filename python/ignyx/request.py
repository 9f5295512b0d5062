"""``from ignyx.request import Request``, as the original Ignyx README writes it."""

from .requests import HTTPConnection, Request

__all__ = ["HTTPConnection", "Request"]
