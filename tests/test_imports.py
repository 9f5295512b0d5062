"""Moving a FastAPI app is a change of import: the names and module paths users have."""

import importlib
import importlib.metadata
import subprocess
import sys
import warnings

import fastapi
import fastapi.responses
import ignyx
import pytest
import starlette.status

# What `from fastapi import ...` gives, and issue 2 builds (with what ignyx already has).
FASTAPI_NAMES = [
    "FastAPI",
    "APIRouter",
    "Query",
    "Path",
    "Body",
    "Header",
    "Cookie",
    "Form",
    "File",
    "Depends",
    "Security",
    "HTTPException",
    "Request",
    "Response",
    "BackgroundTasks",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "status",
]


@pytest.mark.parametrize("name", FASTAPI_NAMES)
def test_ignyx_exports_what_fastapi_exports(name):
    assert hasattr(fastapi, name)
    assert getattr(ignyx, name) is not None
    assert name in ignyx.__all__


def test_fastapi_is_ignyx_under_fastapis_name():
    from ignyx.app import FastAPI, Ignyx
    from ignyx.applications import FastAPI as FastAPIFromApplications

    assert FastAPI is FastAPIFromApplications is ignyx.FastAPI
    assert Ignyx is ignyx.Ignyx
    assert issubclass(FastAPI, Ignyx)
    assert (FastAPI().title, Ignyx().title) == ("FastAPI", "Ignyx")


@pytest.mark.parametrize(
    "module, names",
    [
        ("ignyx.request", ["Request"]),
        ("ignyx.requests", ["Request", "HTTPConnection"]),
        ("ignyx.depends", ["Depends", "BackgroundTask", "BackgroundTasks"]),
        ("ignyx.middleware", ["CORSMiddleware"]),
        ("ignyx.middleware.cors", ["CORSMiddleware"]),
        (
            "ignyx.responses",
            [
                "Response",
                "JSONResponse",
                "PlainTextResponse",
                "HTMLResponse",
                "RedirectResponse",
                "StreamingResponse",
                "FileResponse",
            ],
        ),
        ("ignyx.encoders", ["jsonable_encoder"]),
        ("ignyx.testclient", ["TestClient"]),
        (
            "ignyx.datastructures",
            [
                "URL",
                "Address",
                "Headers",
                "MutableHeaders",
                "QueryParams",
                "ImmutableMultiDict",
                "MultiDict",
                "FormData",
                "State",
                "UploadFile",
                "Default",
                "DefaultPlaceholder",
            ],
        ),
        ("ignyx.exceptions", ["HTTPException", "RequestValidationError"]),
        ("ignyx.params", ["Query", "Path", "Header", "Cookie", "Body", "Depends"]),
        ("ignyx.routing", ["APIRouter", "APIRoute"]),
        ("ignyx.background", ["BackgroundTasks"]),
        ("ignyx.staticfiles", ["StaticFiles"]),
        ("ignyx.templating", ["Jinja2Templates"]),
        ("ignyx.utils", ["generate_unique_id", "is_body_allowed_for_status_code"]),
        ("ignyx.types", ["DecoratedCallable", "IncEx", "UnionType", "ModelNameMap"]),
        ("ignyx.logger", ["logger"]),
        ("ignyx._compat", ["ModelField", "Undefined", "PYDANTIC_V2", "lenient_issubclass"]),
        (
            "ignyx.exceptions",
            ["FastAPIError", "FastAPIDeprecationWarning", "DependencyScopeError"],
        ),
        ("ignyx.middleware.wsgi", ["WSGIMiddleware"]),
        ("ignyx.middleware.asyncexitstack", ["AsyncExitStackMiddleware"]),
    ],
)
def test_module_paths_users_import_from(module, names):
    imported = importlib.import_module(module)
    for name in names:
        assert hasattr(imported, name), f"{module}.{name}"


@pytest.mark.parametrize(
    "module, names",
    [
        ("ignyx.applications", ["FastAPI"]),
        (
            "ignyx.exception_handlers",
            ["http_exception_handler", "request_validation_exception_handler"],
        ),
        ("ignyx.param_functions", ["Query", "Path", "Body", "Header", "Cookie", "Depends"]),
    ],
)
def test_fastapi_module_paths_for_what_issue_2_builds(module, names):
    fastapi_module = importlib.import_module(module.replace("ignyx", "fastapi"))
    imported = importlib.import_module(module)
    for name in names:
        assert hasattr(fastapi_module, name)
        assert hasattr(imported, name), f"{module}.{name}"


def test_readme_import_paths_are_the_same_objects():
    from ignyx.depends import BackgroundTask, Depends
    from ignyx.middleware import CORSMiddleware
    from ignyx.middleware.cors import CORSMiddleware as CorsFromModule
    from ignyx.request import Request
    from ignyx.requests import Request as RequestFromRequests

    assert Request is RequestFromRequests is ignyx.Request
    assert Depends is ignyx.Depends
    assert BackgroundTask is ignyx.BackgroundTasks
    assert CORSMiddleware is CorsFromModule


def test_response_classes_are_shared_between_modules():
    from ignyx.responses import Response

    assert Response is ignyx.Response


def test_status_has_every_starlette_constant():
    from ignyx import status

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette deprecates a few old names
        expected = {n: getattr(starlette.status, n) for n in dir(starlette.status) if n.isupper()}
        actual = {n: getattr(status, n, None) for n in expected}
    assert actual == expected
    assert importlib.import_module("ignyx.status") is status


def test_request_validation_error_is_importable_from_exceptions():
    from ignyx.exceptions import RequestValidationError

    assert RequestValidationError is ignyx.RequestValidationError
    error = RequestValidationError([{"type": "missing", "loc": ("query", "q")}])
    assert error.errors() == [{"type": "missing", "loc": ("query", "q")}]


def test_http_exception_carries_status_detail_and_headers():
    exc = ignyx.HTTPException(status_code=401, detail="no", headers={"WWW-Authenticate": "x"})
    assert isinstance(exc, Exception)
    assert (exc.status_code, exc.detail, exc.headers) == (401, "no", {"WWW-Authenticate": "x"})
    assert ignyx.HTTPException(404).detail == "Not Found"


def test_pydantic_is_a_real_install_dependency():
    # Ignyx 3.1 listed pydantic as an optional extra by mistake.
    requires = importlib.metadata.requires("ignyx") or []
    plain = [r for r in requires if "extra ==" not in r]
    assert any(r.replace(" ", "").startswith("pydantic>=2") for r in plain), requires


def test_ignyx_never_imports_fastapi_or_starlette():
    code = (
        "import ignyx, ignyx.responses, ignyx.testclient, ignyx.middleware, "
        "ignyx.datastructures, ignyx.encoders, ignyx.status, ignyx.request, ignyx.depends, "
        "sys\n"
        "app = ignyx.Ignyx()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ignyx_import_alone_never_imports_fastapi_or_starlette():
    code = (
        "import ignyx, sys; "
        "assert not any(m.split('.')[0] in ('fastapi','starlette') for m in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
