"""``TrustedHostMiddleware``, as in Starlette, executed by the engine::

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])

A request whose ``Host`` matches none of the patterns gets 400 ``Invalid host header``;
with ``www_redirect`` (the default), one for ``example.com`` when only
``www.example.com`` is allowed is redirected there.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ._answers import plain_text, redirect, request_url

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."


class TrustedHostMiddleware:
    """Refuses requests for hosts other than `allowed_hosts` (``"*"`` allows any;
    ``"*.example.com"`` any subdomain)."""

    def __init__(
        self,
        app: Any = None,
        allowed_hosts: Optional[Sequence[str]] = None,
        www_redirect: bool = True,
    ) -> None:
        hosts = list(allowed_hosts) if allowed_hosts is not None else ["*"]
        for pattern in hosts:
            if "*" in pattern[1:] or (
                pattern.startswith("*") and pattern != "*" and not pattern.startswith("*.")
            ):
                raise ValueError(ENFORCE_DOMAIN_WILDCARD)
        self.app = app
        self.allowed_hosts = hosts
        self.allow_any = "*" in hosts
        self.www_redirect = www_redirect

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it (outside every Python middleware)."""
        return (
            "trusted_hosts",
            {"allowed_hosts": self.allowed_hosts, "www_redirect": self.www_redirect},
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        authority = ""
        for name, value in scope.get("headers", ()):
            if bytes(name).lower() == b"host":
                authority = bytes(value).decode("latin-1")
                break
        host = authority.split(":")[0]
        www = False
        for pattern in self.allowed_hosts:
            if host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:])):
                await self.app(scope, receive, send)
                return
            if pattern == "www." + host:
                www = True
        if www and self.www_redirect:
            await redirect(request_url(scope, netloc="www." + authority), scope, send)
        else:
            await plain_text(400, "Invalid host header", scope, send)
