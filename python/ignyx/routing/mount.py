"""``Mount``: an ASGI app under a path prefix, with Starlette's ``root_path`` and ``path``."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .._paths import Match, compile_path, route_path
from .router import APIRouter

# Every method a mounted app may answer.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


class Mount:
    """An ASGI app under a path prefix (``app.mount("/admin", admin_app, name="admin")``):
    a Starlette or Ignyx app, a WSGI app behind ``WSGIMiddleware``, static files. The app
    sees Starlette's scope for it: ``root_path`` extended by the prefix, the full ``path``."""

    def __init__(
        self,
        path: str,
        app: Any = None,
        routes: Optional[Sequence[Any]] = None,
        name: Optional[str] = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        if app is None:
            router = APIRouter()
            router.routes = list(routes or [])
            app = router
        self.app = app
        self.name = name
        self.path_format = self.path + "/{path}"

    @property
    def routes(self) -> list[Any]:
        return list(getattr(self.app, "routes", []) or [])

    def matches(self, scope: dict[str, Any]) -> tuple[Match, dict[str, Any]]:
        """Starlette's mount test: FULL with the child scope (``root_path`` extended)."""
        if scope.get("type") not in ("http", "websocket"):
            return Match.NONE, {}
        regex, _, convertors = compile_path(self.path + "/{path:path}")
        path = route_path(scope)
        found = regex.match(path)
        if found is None:
            return Match.NONE, {}
        params = found.groupdict()
        remaining = "/" + params.pop("path")
        matched = path[: -len(remaining)]
        root_path = scope.get("root_path", "")
        child = {
            "path_params": {**(scope.get("path_params") or {}), **params},
            "app_root_path": scope.get("app_root_path", root_path),
            "root_path": root_path + matched,
            "endpoint": self.app,
        }
        return Match.FULL, child

    def url_path_for(self, name: str, /, **path_params: Any) -> Optional[str]:
        """The path of `name`: this mount itself (``path=`` the rest), or ``"mount:route"``
        in the mounted app; None when neither."""
        if self.name is not None and name == self.name and "path" in path_params:
            rest = str(path_params.pop("path")).lstrip("/")
            return f"{self.path}/{rest}"
        prefix = f"{self.name}:" if self.name is not None else ""
        if self.name is not None and not name.startswith(prefix):
            return None
        inner = getattr(self.app, "url_path_for", None)
        if inner is None:
            return None
        try:
            return self.path + str(inner(name[len(prefix) :], **path_params))
        except LookupError:
            return None

    def compile(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_route` takes for this mount: every method, under it."""
        from .._asgi_host import mount_entry

        # Our StaticFiles: the engine answers its plain file requests itself.
        native = getattr(self.app, "_native_directories", None)
        return {
            "path": self.path + "/{path:path}",
            "methods": _ALL_METHODS,
            "call": mount_entry(app, self.path, self.app),
            "is_async": True,
            "status_code": 200,
            "route": self,
            "files": native() if native is not None else None,
        }

    def compile_websocket(self, app: Any) -> dict[str, Any]:
        """What `ignyx._core.App.add_websocket_route` takes: WebSockets under it, for the
        mounted app too (a Socket.IO server, a Starlette app's WebSocket routes)."""
        from .._asgi_host import mount_websocket_entry

        return {
            "path": self.path + "/{path:path}",
            "call": mount_websocket_entry(app, self.path, self.app),
        }

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, name={self.name!r}, app={self.app!r})"
