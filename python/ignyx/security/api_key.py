"""API keys sent in a query parameter, a header or a cookie.

    api_key = APIKeyHeader(name="x-api-key")

    @app.get("/items")
    def items(key: str = Depends(api_key)):
        return {"key": key}

The dependency gives the key as sent; checking it is the app's job.
"""

from __future__ import annotations

from typing import Optional

from ..exceptions import HTTPException
from ..openapi.models import APIKey, APIKeyIn
from ..requests import HTTPConnection
from .base import _not_authenticated, _Scheme


class APIKeyBase(_Scheme):
    """An API key read from one place of the request, by name."""

    model: APIKey

    def __init__(
        self,
        location: APIKeyIn,
        name: str,
        description: Optional[str],
        scheme_name: Optional[str],
        auto_error: bool,
    ) -> None:
        model = APIKey(**{"in": location}, name=name, description=description)
        super().__init__(model, scheme_name, auto_error)

    def make_not_authenticated_error(self) -> HTTPException:
        # HTTP has no challenge for API keys: this one is made up, as FastAPI's is.
        return _not_authenticated({"WWW-Authenticate": "APIKey"})

    def check_api_key(self, api_key: Optional[str]) -> Optional[str]:
        """The key, or the scheme's answer to a missing or empty one."""
        if not api_key:
            self._refuse()
            return None
        return api_key


class APIKeyQuery(APIKeyBase):
    """An API key in the query string: ``APIKeyQuery(name="api_key")`` reads ``?api_key=``."""

    def __init__(
        self,
        *,
        name: str,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(APIKeyIn.query, name, description, scheme_name, auto_error)

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        return self.check_api_key(request.query_params.get(self.model.name))


class APIKeyHeader(APIKeyBase):
    """An API key in a header: ``APIKeyHeader(name="x-api-key")``."""

    def __init__(
        self,
        *,
        name: str,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(APIKeyIn.header, name, description, scheme_name, auto_error)

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        return self.check_api_key(request.headers.get(self.model.name))


class APIKeyCookie(APIKeyBase):
    """An API key in a cookie: ``APIKeyCookie(name="session")``."""

    def __init__(
        self,
        *,
        name: str,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(APIKeyIn.cookie, name, description, scheme_name, auto_error)

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        return self.check_api_key(request.cookies.get(self.model.name))
