"""What a security scheme is: a dependency that reads a credential from the request and
describes itself to OpenAPI.

OpenAPI reads two attributes: ``model``, the scheme's OpenAPI object, and ``scheme_name``,
its key under ``components.securitySchemes``. Any dependency with both is documented::

    class TeamToken(SecurityBase):
        def __init__(self) -> None:
            self.model = APIKey(**{"in": APIKeyIn.header}, name="x-team-token")
            self.scheme_name = "TeamToken"

        async def __call__(self, request: Request) -> str:
            return request.headers["x-team-token"]
"""

from __future__ import annotations

from typing import Optional

from ..exceptions import HTTPException
from ..openapi.models import SecurityBase as SecurityBaseModel
from ..status import HTTP_401_UNAUTHORIZED


class SecurityBase:
    """The base of the security schemes: what OpenAPI reads from them."""

    model: SecurityBaseModel
    scheme_name: str


class _Scheme(SecurityBase):
    """A scheme of this package: named after its class unless told otherwise, and optional
    when ``auto_error`` is False (a request without a credential then gets None)."""

    auto_error: bool

    def __init__(
        self, model: SecurityBaseModel, scheme_name: Optional[str], auto_error: bool
    ) -> None:
        self.model = model
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def make_not_authenticated_error(self) -> HTTPException:
        """The error a request without a valid credential gets; a subclass may change it."""
        raise NotImplementedError

    def _refuse(self) -> None:
        """Raises the scheme's error for a request without a credential, unless the scheme
        is optional: the caller then gives None."""
        if self.auto_error:
            raise self.make_not_authenticated_error()


def _not_authenticated(headers: dict[str, str]) -> HTTPException:
    # RFC 9110: a 401 carries a WWW-Authenticate challenge, even for schemes HTTP doesn't name.
    return HTTPException(HTTP_401_UNAUTHORIZED, "Not authenticated", headers=headers)
