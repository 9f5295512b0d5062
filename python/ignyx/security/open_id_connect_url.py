"""OpenID Connect: the docs find the provider's endpoints at its discovery URL.

    oidc = OpenIdConnect(openIdConnectUrl="https://id.example.com/.well-known/openid-configuration")

    @app.get("/me")
    def me(authorization: str = Depends(oidc)): ...

The dependency gives the whole ``Authorization`` header; checking the token is the app's job.
"""

from __future__ import annotations

from typing import Optional

from ..exceptions import HTTPException
from ..openapi.models import OpenIdConnect as OpenIdConnectModel
from ..requests import HTTPConnection
from .base import _not_authenticated, _Scheme


class OpenIdConnect(_Scheme):
    """An OpenID Connect provider, by its discovery document's URL."""

    model: OpenIdConnectModel

    def __init__(
        self,
        *,
        openIdConnectUrl: str,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        model = OpenIdConnectModel(openIdConnectUrl=openIdConnectUrl, description=description)
        super().__init__(model, scheme_name, auto_error)

    def make_not_authenticated_error(self) -> HTTPException:
        # OpenID Connect's tokens are bearer tokens (RFC 6750).
        return _not_authenticated({"WWW-Authenticate": "Bearer"})

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        authorization = request.headers.get("Authorization")
        if not authorization:
            self._refuse()
            return None
        return authorization
