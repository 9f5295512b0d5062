"""HTTP authentication schemes (RFC 7235): the ``Authorization`` header's Basic, Bearer and
Digest credentials.

    basic = HTTPBasic(realm="staff")

    @app.get("/me")
    def me(credentials: HTTPBasicCredentials = Depends(basic)):
        return {"username": credentials.username}

The dependencies give the credentials as sent; checking them is the app's job.
"""

from __future__ import annotations

from base64 import b64decode
from typing import Optional

from pydantic import BaseModel

from ..exceptions import HTTPException
from ..openapi.models import HTTPBase as HTTPBaseModel
from ..openapi.models import HTTPBearer as HTTPBearerModel
from ..requests import HTTPConnection
from .base import _not_authenticated, _Scheme
from .utils import get_authorization_scheme_param


class HTTPBasicCredentials(BaseModel):
    """The user name and password of a Basic ``Authorization`` header."""

    username: str
    password: str


class HTTPAuthorizationCredentials(BaseModel):
    """An ``Authorization`` header in its two parts: ``Bearer abc`` is scheme ``Bearer``
    and credentials ``abc``."""

    scheme: str
    credentials: str


class HTTPBase(_Scheme):
    """Any HTTP authentication scheme: ``HTTPBase(scheme="token")`` gives the credentials of
    an ``Authorization`` header that has both parts, whatever its scheme."""

    model: HTTPBaseModel

    def __init__(
        self,
        *,
        scheme: str,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            HTTPBaseModel(scheme=scheme, description=description), scheme_name, auto_error
        )

    def make_authenticate_headers(self) -> dict[str, str]:
        """The headers of the 401 answer: the scheme's challenge."""
        return {"WWW-Authenticate": self.model.scheme.title()}

    def make_not_authenticated_error(self) -> HTTPException:
        return _not_authenticated(self.make_authenticate_headers())

    async def __call__(self, request: HTTPConnection) -> Optional[HTTPAuthorizationCredentials]:
        return self._credentials(request, expected=None)

    def _credentials(
        self, request: HTTPConnection, expected: Optional[str]
    ) -> Optional[HTTPAuthorizationCredentials]:
        """The header's credentials, when it has both parts and the `expected` scheme."""
        authorization = request.headers.get("Authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if not (scheme and credentials) or (expected and scheme.lower() != expected):
            self._refuse()
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


class HTTPBasic(HTTPBase):
    """HTTP Basic authentication: the user name and password, base64-encoded in the header.

    ``realm`` names the protected area in the challenge (``Basic realm="staff"``), which
    browsers show in their log-in prompt."""

    def __init__(
        self,
        *,
        scheme_name: Optional[str] = None,
        realm: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="basic", scheme_name=scheme_name, description=description, auto_error=auto_error
        )
        self.realm = realm

    def make_authenticate_headers(self) -> dict[str, str]:
        if self.realm:
            return {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
        return {"WWW-Authenticate": "Basic"}

    async def __call__(self, request: HTTPConnection) -> Optional[HTTPBasicCredentials]:  # type: ignore[override]
        scheme, encoded = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "basic":
            self._refuse()
            return None
        # The client did try Basic: a malformed credential is refused even when the scheme
        # is optional, rather than taken for no credential at all.
        try:
            decoded = b64decode(encoded).decode("ascii")
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise self.make_not_authenticated_error() from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username=username, password=password)


class HTTPBearer(HTTPBase):
    """A bearer token (``Authorization: Bearer <token>``), such as a JWT.

    ``bearerFormat`` tells the docs what the token is (``"JWT"``); it is not checked."""

    model: HTTPBearerModel

    def __init__(
        self,
        *,
        bearerFormat: Optional[str] = None,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        model = HTTPBearerModel(bearerFormat=bearerFormat, description=description)
        _Scheme.__init__(self, model, scheme_name, auto_error)

    async def __call__(self, request: HTTPConnection) -> Optional[HTTPAuthorizationCredentials]:
        return self._credentials(request, expected="bearer")


class HTTPDigest(HTTPBase):
    """HTTP Digest authentication: gives the header's parameters as sent, unverified."""

    def __init__(
        self,
        *,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="digest", scheme_name=scheme_name, description=description, auto_error=auto_error
        )

    async def __call__(self, request: HTTPConnection) -> Optional[HTTPAuthorizationCredentials]:
        return self._credentials(request, expected="digest")
