"""Routes and routers, one kind a module::

    router = APIRouter(prefix="/items", tags=["items"])

    @router.get("/{item_id}")
    def read_item(item_id: int):
        return {"item_id": item_id}

- ``api_route``: ``APIRoute``, an HTTP path operation compiled for the engine.
- ``websocket``: ``APIWebSocketRoute`` and Starlette's plain ``WebSocketRoute``.
- ``route``: Starlette's plain ``Route`` (``endpoint(request)``).
- ``mount``: ``Mount``, an ASGI app under a prefix.
- ``router``: ``APIRouter``, and the lifespan it carries.
"""

from .._paths import Match
from ..background import BackgroundTasks
from .api_route import APIRoute, generate_unique_id
from .mount import Mount
from .route import Route
from .router import APIRouter
from .websocket import APIWebSocketRoute, WebSocketRoute

__all__ = [
    "APIRoute",
    "APIRouter",
    "APIWebSocketRoute",
    "BackgroundTasks",
    "Match",
    "Mount",
    "Route",
    "WebSocketRoute",
    "generate_unique_id",
]
