"""The documentation pages, Swagger UI and ReDoc, and the routes that serve them.

An app serves ``/openapi.json``, ``/docs`` (with ``/docs/oauth2-redirect``) and ``/redoc``
unless told otherwise (``openapi_url=None``, ``docs_url=None``, ``redoc_url=None``). The
pages load their JavaScript from the same CDN as FastAPI's; to self-host it::

    app = Ignyx(
        swagger_js_url="/static/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui.css",
        redoc_js_url="/static/redoc.standalone.js",
    )

The functions building the pages are FastAPI's (same names, arguments and HTML), for apps
that serve their own docs routes.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from ..encoders import jsonable_encoder
from ..requests import Request
from ..responses import HTMLResponse, JSONResponse, Response
from ..routing import APIRoute

__all__ = [
    "docs_routes",
    "get_redoc_html",
    "get_swagger_ui_html",
    "get_swagger_ui_oauth2_redirect_html",
    "swagger_ui_default_parameters",
]

SWAGGER_JS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS_URL = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
FAVICON_URL = "https://fastapi.tiangolo.com/img/favicon.png"

swagger_ui_default_parameters: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}


def _html_safe_json(value: Any) -> str:
    """JSON that cannot close the ``<script>`` element it is written into."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def get_swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    swagger_js_url: str = SWAGGER_JS_URL,
    swagger_css_url: str = SWAGGER_CSS_URL,
    swagger_favicon_url: str = FAVICON_URL,
    oauth2_redirect_url: Optional[str] = None,
    init_oauth: Optional[dict[str, Any]] = None,
    swagger_ui_parameters: Optional[dict[str, Any]] = None,
) -> HTMLResponse:
    """The Swagger UI page for the document at `openapi_url`.

    `swagger_ui_parameters` are added to (and override) ``swagger_ui_default_parameters``;
    `init_oauth` is passed to ``ui.initOAuth``.
    """
    parameters = {**swagger_ui_default_parameters, **(swagger_ui_parameters or {})}
    html = f"""
    <!DOCTYPE html>
    <html>
    <head>
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link type="text/css" rel="stylesheet" href="{swagger_css_url}">
    <link rel="shortcut icon" href="{swagger_favicon_url}">
    <title>{title}</title>
    </head>
    <body>
    <div id="swagger-ui">
    </div>
    <script src="{swagger_js_url}"></script>
    <!-- `SwaggerUIBundle` is now available on the page -->
    <script>
    const ui = SwaggerUIBundle({{
        url: '{openapi_url}',
    """
    for key, value in parameters.items():
        html += f"{_html_safe_json(key)}: {_html_safe_json(jsonable_encoder(value))},\n"
    if oauth2_redirect_url:
        html += f"oauth2RedirectUrl: window.location.origin + '{oauth2_redirect_url}',"
    html += """
    presets: [
        SwaggerUIBundle.presets.apis,
        SwaggerUIBundle.SwaggerUIStandalonePreset
        ],
    })"""
    if init_oauth:
        html += f"""
        ui.initOAuth({_html_safe_json(jsonable_encoder(init_oauth))})
        """
    html += """
    </script>
    </body>
    </html>
    """
    return HTMLResponse(html)


def get_redoc_html(
    *,
    openapi_url: str,
    title: str,
    redoc_js_url: str = REDOC_JS_URL,
    redoc_favicon_url: str = FAVICON_URL,
    with_google_fonts: bool = True,
) -> HTMLResponse:
    """The ReDoc page for the document at `openapi_url`."""
    html = f"""
    <!DOCTYPE html>
    <html>
    <head>
    <title>{title}</title>
    <!-- needed for adaptive design -->
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    """
    if with_google_fonts:
        html += """
    <link href="https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700" rel="stylesheet">
    """  # noqa: E501
    html += f"""
    <link rel="shortcut icon" href="{redoc_favicon_url}">
    <!--
    ReDoc doesn't change outer page styles
    -->
    <style>
      body {{
        margin: 0;
        padding: 0;
      }}
    </style>
    </head>
    <body>
    <noscript>
        ReDoc requires Javascript to function. Please enable it to browse the documentation.
    </noscript>
    <redoc spec-url="{openapi_url}"></redoc>
    <script src="{redoc_js_url}"> </script>
    </body>
    </html>
    """
    return HTMLResponse(html)


# Swagger UI's own oauth2-redirect.html (Apache-2.0): hands the authorization response from
# the provider back to the Swagger UI window that opened it.
_OAUTH2_REDIRECT_HTML = """
    <!doctype html>
    <html lang="en-US">
    <head>
        <title>Swagger UI: OAuth2 Redirect</title>
    </head>
    <body>
    <script>
        'use strict';
        function run () {
            var oauth2 = window.opener.swaggerUIRedirectOauth2;
            var sentState = oauth2.state;
            var redirectUrl = oauth2.redirectUrl;
            var isValid, qp, arr;

            if (/code|token|error/.test(window.location.hash)) {
                qp = window.location.hash.substring(1).replace('?', '&');
            } else {
                qp = location.search.substring(1);
            }

            arr = qp.split("&");
            arr.forEach(function (v,i,_arr) { _arr[i] = '"' + v.replace('=', '":"') + '"';});
            qp = qp ? JSON.parse('{' + arr.join() + '}',
                    function (key, value) {
                        return key === "" ? value : decodeURIComponent(value);
                    }
            ) : {};

            isValid = qp.state === sentState;

            if ((
              oauth2.auth.schema.get("flow") === "accessCode" ||
              oauth2.auth.schema.get("flow") === "authorizationCode" ||
              oauth2.auth.schema.get("flow") === "authorization_code"
            ) && !oauth2.auth.code) {
                if (!isValid) {
                    oauth2.errCb({
                        authId: oauth2.auth.name,
                        source: "auth",
                        level: "warning",
                        message: "Authorization may be unsafe, passed state was changed in server. The passed state wasn't returned from auth server."
                    });
                }

                if (qp.code) {
                    delete oauth2.state;
                    oauth2.auth.code = qp.code;
                    oauth2.callback({auth: oauth2.auth, redirectUrl: redirectUrl});
                } else {
                    let oauthErrorMsg;
                    if (qp.error) {
                        oauthErrorMsg = "["+qp.error+"]: " +
                            (qp.error_description ? qp.error_description+ ". " : "no accessCode received from the server. ") +
                            (qp.error_uri ? "More info: "+qp.error_uri : "");
                    }

                    oauth2.errCb({
                        authId: oauth2.auth.name,
                        source: "auth",
                        level: "error",
                        message: oauthErrorMsg || "[Authorization failed]: no accessCode received from the server."
                    });
                }
            } else {
                oauth2.callback({auth: oauth2.auth, token: qp, isValid: isValid, redirectUrl: redirectUrl});
            }
            window.close();
        }

        if (document.readyState !== 'loading') {
            run();
        } else {
            document.addEventListener('DOMContentLoaded', function () {
                run();
            });
        }
    </script>
    </body>
    </html>
        """  # noqa: E501


def get_swagger_ui_oauth2_redirect_html() -> HTMLResponse:
    """The page an OAuth2 provider redirects to after a login started from Swagger UI."""
    return HTMLResponse(content=_OAUTH2_REDIRECT_HTML)


# -- the app's routes -------------------------------------------------------------------------


def _root_path(app: Any, request: Request) -> str:
    """Where the app is served: the ASGI server's or a mount's ``root_path``, else the app's."""
    root_path = request._data.root_path or getattr(app, "root_path", "") or ""
    return root_path.rstrip("/")


def _page(path: str, render: Callable[[str], bytes], name: str) -> APIRoute:
    pages: dict[str, bytes] = {}

    def page(request: Request) -> Response:
        root_path = _root_path(request.app, request)
        body = pages.get(root_path)
        if body is None:
            body = pages[root_path] = render(root_path)
        return HTMLResponse(body)

    return APIRoute(path, page, name=name, include_in_schema=False)


def _openapi_route(app: Any, path: str) -> APIRoute:
    documents: dict[str, bytes] = {}

    def openapi(request: Request) -> Response:
        # Built on first request, after the user had every chance to customise `app.openapi`;
        # once for each root path it is served under.
        root_path = _root_path(app, request)
        body = documents.get(root_path)
        if body is None:
            document = app.openapi()
            if root_path and getattr(app, "root_path_in_servers", True):
                servers = document.get("servers", [])
                if root_path not in {server.get("url") for server in servers}:
                    document = {**document, "servers": [{"url": root_path}, *servers]}
            body = documents[root_path] = JSONResponse(document).body
        return Response(content=body, media_type="application/json")

    return APIRoute(path, openapi, name="openapi", include_in_schema=False)


def docs_routes(app: Any) -> list[APIRoute]:
    """The routes serving `app`'s OpenAPI document and its Swagger UI and ReDoc pages; the
    pages name the document under the root path they are served under."""
    if not app.openapi_url:
        return []
    routes = [_openapi_route(app, app.openapi_url)]
    if app.docs_url:
        redirect_url = app.swagger_ui_oauth2_redirect_url

        def swagger(root_path: str) -> bytes:
            return get_swagger_ui_html(
                openapi_url=root_path + app.openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=app.swagger_js_url or SWAGGER_JS_URL,
                swagger_css_url=app.swagger_css_url or SWAGGER_CSS_URL,
                swagger_favicon_url=app.swagger_favicon_url or FAVICON_URL,
                oauth2_redirect_url=root_path + redirect_url if redirect_url else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            ).body

        routes.append(_page(app.docs_url, swagger, "swagger_ui_html"))
        if redirect_url:
            redirect = get_swagger_ui_oauth2_redirect_html().body
            routes.append(_page(redirect_url, lambda _root: redirect, "swagger_ui_redirect"))
    if app.redoc_url:

        def redoc(root_path: str) -> bytes:
            return get_redoc_html(
                openapi_url=root_path + app.openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=app.redoc_js_url or REDOC_JS_URL,
            ).body

        routes.append(_page(app.redoc_url, redoc, "redoc_html"))
    return routes
