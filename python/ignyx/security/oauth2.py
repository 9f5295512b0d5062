"""OAuth2: the password flow's token form, and the bearer schemes that read the token back.

    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", scopes={"items": "Read items"})

    @app.post("/token")
    def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]):
        ...  # check form.username and form.password, then issue a token
        return {"access_token": token, "token_type": "bearer"}

    @app.get("/items")
    def items(token: str = Security(oauth2_scheme, scopes=["items"])): ...

The schemes give the token as sent; checking it, and its scopes (``SecurityScopes``), is
the app's job.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional, Union

from ..dependencies.models import SecurityScopes
from ..exceptions import HTTPException
from ..openapi.models import OAuth2 as OAuth2Model
from ..openapi.models import OAuthFlowAuthorizationCode, OAuthFlowPassword
from ..openapi.models import OAuthFlows as OAuthFlowsModel
from ..param_functions import Form
from ..requests import HTTPConnection
from .base import _not_authenticated, _Scheme
from .utils import get_authorization_scheme_param

__all__ = [
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "SecurityScopes",
]


class OAuth2PasswordRequestForm:
    """The form a client posts to get a token in OAuth2's password flow (RFC 6749 §4.3).

    A class dependency: ``form: Annotated[OAuth2PasswordRequestForm, Depends()]``. ``scope``
    arrives as one space-separated string and is kept split, in ``scopes``."""

    def __init__(
        self,
        *,
        grant_type: Annotated[Optional[str], Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[Optional[str], Form()] = None,
        client_secret: Annotated[
            Optional[str], Form(json_schema_extra={"format": "password"})
        ] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """``OAuth2PasswordRequestForm`` as the specification has it: ``grant_type=password``
    is required."""

    def __init__(
        self,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[Optional[str], Form()] = None,
        client_secret: Annotated[Optional[str], Form()] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class OAuth2(_Scheme):
    """Any OAuth2 flow, described by ``flows``; gives the whole ``Authorization`` header.

    ``OAuth2PasswordBearer`` and ``OAuth2AuthorizationCodeBearer`` are the usual ones;
    this is the base for others, e.g. a token read from a cookie."""

    model: OAuth2Model

    def __init__(
        self,
        *,
        flows: Union[OAuthFlowsModel, dict[str, dict[str, Any]], None] = None,
        scheme_name: Optional[str] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        model = OAuth2Model.model_validate(
            {"flows": flows or OAuthFlowsModel(), "description": description}
        )
        super().__init__(model, scheme_name, auto_error)

    def make_not_authenticated_error(self) -> HTTPException:
        # OAuth2 tokens are bearer tokens (RFC 6750), whatever the flow that issued them.
        return _not_authenticated({"WWW-Authenticate": "Bearer"})

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        authorization = request.headers.get("Authorization")
        if not authorization:
            self._refuse()
            return None
        return authorization

    def _bearer_token(self, request: HTTPConnection) -> Optional[str]:
        """The token of an ``Authorization: Bearer <token>`` header."""
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer":
            self._refuse()
            return None
        return token


class OAuth2PasswordBearer(OAuth2):
    """The bearer token of OAuth2's password flow: clients get it by posting a user name
    and password to ``tokenUrl`` (the docs' Authorize button does).

    ``scopes`` maps each scope to its description, for the docs."""

    def __init__(
        self,
        tokenUrl: str,
        scheme_name: Optional[str] = None,
        scopes: Optional[dict[str, str]] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
        refreshUrl: Optional[str] = None,
    ) -> None:
        flow = OAuthFlowPassword(tokenUrl=tokenUrl, refreshUrl=refreshUrl, scopes=scopes or {})
        super().__init__(
            flows=OAuthFlowsModel(password=flow),
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        return self._bearer_token(request)


class OAuth2AuthorizationCodeBearer(OAuth2):
    """The bearer token of OAuth2's authorization code flow: the user logs in at
    ``authorizationUrl``, and the client trades the code it gets at ``tokenUrl``."""

    def __init__(
        self,
        authorizationUrl: str,
        tokenUrl: str,
        refreshUrl: Optional[str] = None,
        scheme_name: Optional[str] = None,
        scopes: Optional[dict[str, str]] = None,
        description: Optional[str] = None,
        auto_error: bool = True,
    ) -> None:
        flow = OAuthFlowAuthorizationCode(
            authorizationUrl=authorizationUrl,
            tokenUrl=tokenUrl,
            refreshUrl=refreshUrl,
            scopes=scopes or {},
        )
        super().__init__(
            flows=OAuthFlowsModel(authorizationCode=flow),
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )

    async def __call__(self, request: HTTPConnection) -> Optional[str]:
        return self._bearer_token(request)
