"""CORS, configured like Starlette's ``CORSMiddleware`` and executed in Rust::

    app.add_middleware(CORSMiddleware, allow_origins=["https://example.com"])

The options are read once, when serving starts.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


class CORSMiddleware:
    """Cross-Origin Resource Sharing per the Fetch spec: preflights are answered by the
    engine without calling Python, and only a matching origin is echoed."""

    def __init__(
        self,
        app: Any = None,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: Optional[str] = None,
        allow_private_network: bool = False,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        self.options = {
            "allow_origins": list(allow_origins),
            "allow_methods": list(allow_methods),
            "allow_headers": list(allow_headers),
            "allow_credentials": allow_credentials,
            "allow_origin_regex": allow_origin_regex,
            "allow_private_network": allow_private_network,
            "expose_headers": list(expose_headers),
            "max_age": max_age,
        }

    def _install(self, core: Any) -> None:
        core.set_cors(**self.options)
