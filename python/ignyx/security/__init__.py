"""Security schemes: dependencies that read a credential from the request and document
themselves in OpenAPI, as ``fastapi.security``'s do::

    from ignyx import Depends, FastAPI
    from ignyx.security import HTTPBearer, HTTPAuthorizationCredentials

    app = FastAPI()
    bearer = HTTPBearer()

    @app.get("/me")
    def me(credentials: HTTPAuthorizationCredentials = Depends(bearer)):
        return {"token": credentials.credentials}

``api_key``: keys in a query parameter, header or cookie. ``http``: the ``Authorization``
header's Basic, Bearer and Digest schemes. ``oauth2``: OAuth2's flows, its token form and
``SecurityScopes``. ``open_id_connect_url``: OpenID Connect. ``base``: what a scheme is.
"""

from .api_key import APIKeyCookie, APIKeyHeader, APIKeyQuery
from .base import SecurityBase
from .http import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
)
from .oauth2 import (
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
    SecurityScopes,
)
from .open_id_connect_url import OpenIdConnect
from .utils import get_authorization_scheme_param

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect",
    "SecurityBase",
    "SecurityScopes",
    "get_authorization_scheme_param",
]
