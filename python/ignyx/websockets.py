"""WebSocket connections, with Starlette's API."""

from __future__ import annotations

import enum
from typing import Any, Callable, Optional

from .requests import HTTPConnection


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketDisconnect(Exception):
    """Raised by ``receive_*`` when the client closes the connection."""

    def __init__(self, code: int = 1000, reason: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason or ""


class WebSocket(HTTPConnection):
    """A WebSocket connection."""


class APIWebSocketRoute:
    """A WebSocket path operation."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: Optional[str] = None,
        dependencies: Optional[list[Any]] = None,
    ) -> None:
        self.path = path
        self.path_format = path.replace(":path}", "}")
        self.endpoint = endpoint
        self.name = name or getattr(endpoint, "__name__", "websocket")
        self.dependencies = list(dependencies or [])
