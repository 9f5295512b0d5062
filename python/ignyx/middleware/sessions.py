"""``SessionMiddleware``, as in Starlette, with the cookie signed and checked by the engine::

    app.add_middleware(SessionMiddleware, secret_key=os.environ["SESSION_SECRET"])

    @app.get("/visits")
    def visits(request: Request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"]}

``request.session`` is a dict kept in a signed cookie, in Starlette's format (itsdangerous'
``TimestampSigner``): a cookie either framework wrote reads in the other with the same
key. A tampered, expired or malformed cookie is an empty session, never an error. The
cookie is written only when the session changed, and ``Vary: Cookie`` added when it was
read, as Starlette does.

Server-side sessions keep the session in Redis and only its id in the cookie (signed the
same way): ``SessionMiddleware(secret_key=..., backend="redis://127.0.0.1:6379/0")``. The
same ``request.session`` API; every worker and host sharing the Redis reads the session
another wrote (it is saved before the response is sent), and it expires in Redis with
``max_age``. A session Redis cannot give back within ``timeout`` seconds reads as a new
one, and a failed save leaves the response as it was; both are logged on
``ignyx.sessions``.
"""

from __future__ import annotations

import json
import logging
import time
from base64 import b64decode
from typing import Any, Literal, Optional

from .. import _core
from .._store import StoreError, execute

__all__ = ["Session", "SessionMiddleware"]

_logger = logging.getLogger("ignyx.error")
_store_logger = logging.getLogger("ignyx.sessions")

DEFAULT_PREFIX = "ignyx:session:"


def report_store_failure(message: str) -> None:
    """Logs that the session store failed (the engine calls it)."""
    _store_logger.warning(message)


class Session(dict[str, Any]):
    """The session: a dict that remembers whether it was read (`accessed`) and changed
    (`modified`)."""

    accessed: bool = False
    modified: bool = False
    renewed: bool = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True
        self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        self.accessed = self.modified = True
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def clear(self) -> None:
        self.mark_modified()
        # A stored session cleared and written again (a logout, then a login) gets a new
        # id: an id someone else planted in the browser must not become the user's.
        self.renewed = True
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self.mark_modified()
        return super().__ior__(other)


def _load(payload: Optional[bytes], decoded: Optional[bytes] = None) -> Session:
    """The session a verified cookie carries (base64 JSON, or its JSON already `decoded`
    by the engine), or a new one."""
    if payload is None:
        return Session()
    try:
        data = json.loads(b64decode(payload) if decoded is None else decoded)
    except ValueError:
        return Session()  # signed with the key, but not a session: start afresh
    return Session(data) if isinstance(data, dict) else Session()


def _outcome(session: Session, had_cookie: bool) -> tuple[bool, Optional[bytes], bool, bool]:
    """What the response says of `session`: whether it varies on the cookie, the session
    to store (its JSON, which the engine encodes in base64 and signs) if it changed and
    holds something, whether to clear the cookie (it changed to empty, and the request
    had one), and whether a stored session needs a new id (it was cleared on the way)."""
    accessed = getattr(session, "accessed", True)
    modified = getattr(session, "modified", True)
    renewed = bool(getattr(session, "renewed", False))
    if modified and session:
        return accessed, json.dumps(session).encode("utf-8"), False, renewed
    return accessed, None, bool(modified and had_cookie), False


class SessionMiddleware:
    """Signed-cookie sessions (``request.session``), configured as Starlette's."""

    def __init__(
        self,
        app: Any = None,
        secret_key: Any = None,
        session_cookie: str = "session",
        max_age: Optional[int] = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: Optional[str] = None,
        partitioned: bool = False,
        backend: Optional[str] = None,
        key_prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
    ) -> None:
        if secret_key is None:
            raise TypeError("SessionMiddleware needs a secret_key")
        if backend is not None and not backend.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"unknown session backend {backend!r} (a redis:// URL)")
        self.app = app
        self.options: dict[str, Any] = {
            "secret_key": str(secret_key),
            "session_cookie": session_cookie,
            "max_age": max_age,
            "path": path,
            "same_site": same_site,
            "https_only": https_only,
            "domain": domain,
            "partitioned": partitioned,
            "backend": backend,
            "key_prefix": key_prefix,
            "timeout": float(timeout),
        }
        self._layer = _core.SessionLayer(**self.options)
        self._store = None if backend is None else _core.RedisClient(backend, float(timeout))

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it (outside every Python middleware)."""
        return ("sessions", self.options)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = [(bytes(k), bytes(v)) for k, v in scope.get("headers", ())]
        payload = self._layer.read(headers, int(time.time()))
        # With a store: the id the cookie's signature vouches for (even when Redis could
        # not give its session back: a logout still ends it).
        session_id = None
        if self._store is None:
            scope["session"] = _load(payload)
        else:
            session_id = payload.decode("ascii") if payload is not None else None
            payload = await self._fetch(session_id)
            scope["session"] = _load(payload, payload)
        layer = self._layer

        failed = False

        async def send_with_cookie(message: dict[str, Any]) -> None:
            nonlocal failed
            if failed:
                return  # the rest of a response replaced by the 500 below
            if message["type"] == "http.response.start":
                try:
                    had = payload is not None or session_id is not None
                    accessed, store, clear, renew = _outcome(scope["session"], had)
                except Exception:
                    # A value JSON has no form for: the session cannot be kept (a 500, as
                    # Starlette's error middleware answers around the session's).
                    _logger.exception("Exception in ASGI application")
                    failed = True
                    await _internal_error(send)
                    return
                if accessed or store is not None or clear:
                    headers = list(message.get("headers", ()))
                    if accessed:
                        vary = [
                            bytes(v).decode("latin-1")
                            for k, v in headers
                            if bytes(k).lower() == b"vary"
                        ]
                        headers = [(k, v) for k, v in headers if bytes(k).lower() != b"vary"]
                        headers.append((b"vary", ", ".join([*vary, "Cookie"]).encode("latin-1")))
                    if store is not None and self._store is not None:
                        # The id stays only for a session read from the store, not renewed.
                        kept = session_id if payload is not None and not renew else None
                        kept_id = kept if kept is not None else layer.new_id()
                        await self._save("SET", kept_id, store)
                        if renew and session_id is not None:
                            await self._save("DEL", session_id)
                        headers.append((b"set-cookie", layer.id_cookie(kept_id, int(time.time()))))
                    elif store is not None:
                        headers.append((b"set-cookie", layer.set_cookie(store, int(time.time()))))
                    elif clear:
                        if session_id is not None:
                            await self._save("DEL", session_id)
                        headers.append((b"set-cookie", layer.clear_cookie()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _fetch(self, session_id: Optional[str]) -> Optional[bytes]:
        """The stored session (its JSON) the cookie's verified `session_id` names; None when
        there is none, or Redis failed (tried again once if the connection broke)."""
        if session_id is None:
            return None
        key = self.options["key_prefix"] + session_id
        try:
            data: Optional[bytes] = await execute(self._store, "GET", key, again_if_cut=True)
        except StoreError as exc:
            report_store_failure(f"session store failed (a new session is used): {exc}")
            return None
        return data

    async def _save(self, command: str, session_id: str, data: Optional[bytes] = None) -> None:
        key = self.options["key_prefix"] + session_id
        args: list[Any] = [command, key]
        if data is not None:
            args.append(data)
            if self.options["max_age"] is not None:
                args += ["EX", max(1, int(self.options["max_age"]))]
        try:
            await execute(self._store, *args, again_if_cut=True)
        except StoreError as exc:
            report_store_failure(f"session store failed (the session was not saved): {exc}")


async def _internal_error(send: Any) -> None:
    body = b"Internal Server Error"
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
