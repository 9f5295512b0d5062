"""The names and signals FastAPI apps import and see: ``ignyx.utils``, ``ignyx._compat``,
``ignyx.types``, ``ignyx.logger``, the exceptions and deprecation warnings of
``fastapi.exceptions``, and the default title of ``FastAPI()``; each checked against FastAPI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import json
import logging
import pkgutil
import re
import typing
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Optional, Union

import fastapi
import fastapi._compat
import fastapi.exceptions
import fastapi.utils
import ignyx
import ignyx._compat
import ignyx.exceptions
import ignyx.utils
import pydantic
import pytest
from conftest import differential
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

# --- every public name of FastAPI's modules ------------------------------------------------

# FastAPI modules whose names Ignyx leaves out, and why (the other engineers' modules, or
# internals of FastAPI's own implementation with no counterpart in Ignyx's).
SKIPPED_MODULES = {
    "fastapi.__main__": "runs FastAPI's command when imported",
    "fastapi._body_limit": "Ignyx limits bodies in the engine",
    "fastapi._form_limits": "Ignyx limits forms in the engine",
    "fastapi.middleware.gzip": "built in Rust by another issue",
    "fastapi.middleware.trustedhost": "built in Rust by another issue",
    "fastapi.middleware.httpsredirect": "built in Rust by another issue",
    "fastapi.security": "built by another engineer",
    "fastapi.dependencies.utils": "FastAPI's dependency solver; Ignyx's is ignyx.dependencies",
    "fastapi.telemetry._asgi": "FastAPI's private telemetry middleware",
    "fastapi.telemetry._runtime": "FastAPI's private telemetry lifespan",
}

# Names of FastAPI's modules that Ignyx has no counterpart for.
MISSING_NAMES = {
    "fastapi.encoders": {"PyExtraColor"},  # Ignyx finds color classes by module instead
    "fastapi.openapi.models": {"EmailStr"},  # Ignyx's Contact takes the address as text
    # The steps of FastAPI's document generator; Ignyx renders route plans instead.
    "fastapi.openapi.utils": {
        "generate_operation_id",
        "generate_operation_summary",
        "get_fields_from_routes",
        "get_openapi_operation_metadata",
        "get_openapi_operation_request_body",
        "get_openapi_path",
    },
    "fastapi.responses": {"ORJSONResponse", "UJSONResponse"},
    # FastAPI's request-handling internals; Ignyx's engine handles requests.
    "fastapi.routing": {
        "RouteContext",
        "get_request_handler",
        "get_websocket_app",
        "iter_route_contexts",
        "request_response",
        "run_endpoint_function",
        "serialize_response",
        "websocket_session",
    },
}


def _fastapi_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(fastapi.__path__, "fastapi.")]
    return sorted(
        name
        for name in ["fastapi", *names]
        if not any(name == s or name.startswith(s + ".") for s in SKIPPED_MODULES)
    )


def _public_names(module: Any) -> set[str]:
    """The names `module` defines, exports in ``__all__`` or re-exports as ``import X as X``."""
    try:
        source = inspect.getsource(module)
    except OSError:  # an empty __init__.py
        source = ""
    explicit = set(re.findall(r"\b(\w+) as \1\b", source))
    exported = set(getattr(module, "__all__", ()))
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value) or name in dir(typing):
            continue
        if inspect.isclass(value) or inspect.isroutine(value):
            defined = getattr(value, "__module__", None) == module.__name__
        else:  # a constant, an alias: made here if assigned here
            defined = re.search(rf"^{name}\s*(:[^=]*)?=", source, re.MULTILINE) is not None
        if defined or name in explicit or name in exported:
            names.add(name)
    return names


@pytest.mark.parametrize("module_name", _fastapi_modules())
def test_every_public_name_of_fastapi_exists_in_the_ignyx_module_of_the_same_path(
    module_name,
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = importlib.import_module(module_name)
        ours = importlib.import_module("ignyx" + module_name[len("fastapi") :])
    missing = {name for name in _public_names(theirs) if not hasattr(ours, name)}
    assert missing == MISSING_NAMES.get(module_name, set())


# --- exceptions ----------------------------------------------------------------------------


def test_fastapi_error_catches_ignyx_configuration_errors():
    from ignyx.exceptions import (
        DependencyScopeError,
        FastAPIError,
        IgnyxError,
        PydanticV1NotSupportedError,
    )

    assert issubclass(FastAPIError, RuntimeError)
    for error in (IgnyxError, DependencyScopeError, PydanticV1NotSupportedError):
        with pytest.raises(FastAPIError):
            raise error("bad app")
    with pytest.raises(IgnyxError):
        raise DependencyScopeError("narrower scope")


def test_fastapi_deprecation_warning_is_shown_by_default_as_fastapis():
    ours = ignyx.exceptions.FastAPIDeprecationWarning
    theirs = fastapi.exceptions.FastAPIDeprecationWarning
    assert ours.__mro__[1:] == theirs.__mro__[1:]
    assert issubclass(ours, UserWarning) and not issubclass(ours, DeprecationWarning)


def test_error_models_have_fastapis_names_and_schemas():
    for name in ("RequestErrorModel", "WebSocketErrorModel"):
        ours = getattr(ignyx.exceptions, name)
        theirs = getattr(fastapi.exceptions, name)
        assert ours.__name__ == theirs.__name__
        assert ours.model_json_schema() == theirs.model_json_schema()


@pytest.mark.parametrize(
    "context",
    [
        None,
        {"path": "GET /items"},
        {"function": "read", "path": "GET /items", "file": "/app/main.py", "line": 7},
        {"function": "read", "file": "/app/main.py", "line": 7},
    ],
)
def test_validation_errors_name_their_endpoint_as_fastapis_do(context):
    errors = [{"type": "missing", "loc": ("query", "q"), "msg": "Field required", "input": None}]
    for cls in ("RequestValidationError", "ResponseValidationError"):
        ours = getattr(ignyx.exceptions, cls)(errors, body=1, endpoint_ctx=context)
        theirs = getattr(fastapi.exceptions, cls)(errors, body=1, endpoint_ctx=context)
        assert str(ours) == str(theirs)
        assert ours.endpoint_ctx == theirs.endpoint_ctx
        assert (ours.endpoint_function, ours.endpoint_path, ours.endpoint_file) == (
            theirs.endpoint_function,
            theirs.endpoint_path,
            theirs.endpoint_file,
        )
        assert ours.endpoint_line == theirs.endpoint_line
    socket_error = ignyx.exceptions.WebSocketRequestValidationError(errors, endpoint_ctx=context)
    assert str(socket_error) == str(
        fastapi.exceptions.WebSocketRequestValidationError(errors, endpoint_ctx=context)
    )


# --- deprecation warnings ------------------------------------------------------------------


def _warning_of(build: Any) -> warnings.WarningMessage:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build()
    assert len(caught) >= 1, "no warning"
    return caught[0]


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda fw: fw.FastAPI().on_event("startup"), id="app.on_event"),
        pytest.param(lambda fw: fw.APIRouter().on_event("shutdown"), id="router.on_event"),
        pytest.param(lambda fw: fw.Query(regex="^a"), id="Query(regex=)"),
        pytest.param(lambda fw: fw.Header(regex="^a"), id="Header(regex=)"),
        pytest.param(lambda fw: fw.Form(regex="^a"), id="Form(regex=)"),
        pytest.param(lambda fw: fw.Query(example="a"), id="Query(example=)"),
        pytest.param(lambda fw: fw.Path(example=1), id="Path(example=)"),
        pytest.param(lambda fw: fw.Cookie(example="a"), id="Cookie(example=)"),
        pytest.param(lambda fw: fw.Body(example={"a": 1}), id="Body(example=)"),
        pytest.param(lambda fw: fw.File(example=b"a"), id="File(example=)"),
    ],
)
def test_deprecated_uses_warn_with_fastapis_category_and_text(build):
    ours = _warning_of(lambda: build(ignyx))
    theirs = _warning_of(lambda: build(fastapi))
    assert str(ours.message) == str(theirs.message)
    assert ours.category.__name__ == theirs.category.__name__
    assert issubclass(ours.category, theirs.category.__mro__[1])
    # Pointed at the line that used the option, not inside Ignyx.
    assert ours.filename == __file__


def test_on_event_warns_once_where_it_is_used_and_still_registers_the_handler():
    app = ignyx.FastAPI()
    with pytest.warns(DeprecationWarning, match="on_event is deprecated, use lifespan") as caught:

        @app.on_event("startup")
        def started() -> None: ...

    assert [w.filename for w in caught] == [__file__]
    assert app.router.on_startup == [started]


def test_root_path_parameter_is_deprecated_as_in_fastapi():
    with pytest.warns(ignyx.exceptions.FastAPIDeprecationWarning) as caught:
        app = ignyx.FastAPI(root_path="/api/v1")
    assert app.root_path == "/api/v1"
    theirs = _warning_of(lambda: fastapi.FastAPI(root_path="/api/v1"))
    first_sentence = "The `root_path` parameter is deprecated. Configure the server's root path"
    assert str(caught[0].message).startswith(first_sentence)
    assert str(theirs.message).startswith(first_sentence)
    assert "ignyx run --root-path /api/v1" in str(caught[0].message)


def test_options_that_are_not_deprecated_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ignyx.Query(pattern="^a", examples=["a"])
        ignyx.Body(examples=[{"a": 1}])
        ignyx.FastAPI(title="Quiet")
        ignyx.APIRouter().add_event_handler("startup", lambda: None)


# --- the default title ---------------------------------------------------------------------


def test_fastapi_is_titled_fastapi_and_ignyx_keeps_its_own_title():
    assert ignyx.FastAPI().openapi()["info"]["title"] == "FastAPI"
    assert fastapi.FastAPI().openapi()["info"]["title"] == "FastAPI"
    assert ignyx.Ignyx().openapi()["info"]["title"] == "Ignyx"
    assert ignyx.FastAPI(title="Shop").title == ignyx.Ignyx(title="Shop").title == "Shop"
    assert isinstance(ignyx.FastAPI(), ignyx.Ignyx)


@pytest.fixture(scope="module")
def untitled(dual):
    def build(fw):
        application = fw.FastAPI()

        @application.get("/items")
        def items() -> list[int]:
            return [1]

        return application

    return dual(build)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
def test_docs_of_an_untitled_fastapi_app_are_fastapis(untitled, path):
    response = differential(untitled, "GET", path)
    if path != "/openapi.json":
        page_title = re.search(r"<title>(.*?)</title>", response.text)
        assert page_title is not None
        assert page_title.group(1) in ("FastAPI - Swagger UI", "FastAPI - ReDoc")


def test_docs_of_an_untitled_ignyx_app_say_ignyx():
    from ignyx.testclient import TestClient

    with TestClient(ignyx.Ignyx()) as client:
        assert "<title>Ignyx - Swagger UI</title>" in client.get("/docs").text
        assert "<title>Ignyx - ReDoc</title>" in client.get("/redoc").text
        assert client.get("/openapi.json").json()["info"] == {"title": "Ignyx", "version": "0.1.0"}


# --- ignyx.utils ---------------------------------------------------------------------------


STATUS_CODES = (None, 100, 101, 199, 200, 201, 204, 205, 206, 304, 404, "200", "204")
STATUS_RANGES = ("default", "1XX", "2XX", "3XX", "4XX", "5XX")


@pytest.mark.parametrize("code", [*STATUS_CODES, *STATUS_RANGES])
def test_is_body_allowed_for_status_code_is_fastapis(code):
    assert ignyx.utils.is_body_allowed_for_status_code(
        code
    ) is fastapi.utils.is_body_allowed_for_status_code(code)


def test_generate_unique_id_is_fastapis():
    def read_item_tags(item_id: int) -> None: ...

    ids = []
    for fw, utils in ((ignyx, ignyx.utils), (fastapi, fastapi.utils)):
        app = fw.FastAPI()
        app.get("/items/{item_id}/tags-list")(read_item_tags)
        route = next(r for r in app.routes if getattr(r, "endpoint", None) is read_item_tags)
        ids.append(utils.generate_unique_id(route))
    assert ids == ["read_item_tags_items__item_id__tags_list_get"] * 2


def test_deep_dict_update_merges_as_fastapi_does():
    def merged(module: Any) -> dict[str, Any]:
        main = {"a": {"b": 1, "list": [1]}, "c": 1, "d": [1]}
        module.deep_dict_update(main, {"a": {"e": 2, "list": [2]}, "c": {"x": 1}, "d": 2})
        return main

    assert merged(ignyx.utils) == merged(fastapi.utils)


def test_get_value_or_default_picks_the_first_chosen_value_as_fastapi_does():
    from fastapi.datastructures import Default as TheirDefault
    from ignyx.datastructures import Default

    for module, default in ((ignyx.utils, Default), (fastapi.utils, TheirDefault)):
        first = default("a")
        assert module.get_value_or_default(first, default("b"), "c", "d") == "c"
        assert module.get_value_or_default(first, default("b")) is first
        assert module.get_value_or_default("x") == "x"


def test_get_path_param_names_and_the_deprecated_operation_id():
    path = "/users/{user_id}/items/{item_id:path}"
    assert ignyx.utils.get_path_param_names(path) == fastapi.utils.get_path_param_names(path)
    with pytest.warns(ignyx.exceptions.FastAPIDeprecationWarning, match="was deprecated"):
        ours = ignyx.utils.generate_operation_id_for_path(name="read", path=path, method="GET")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = fastapi.utils.generate_operation_id_for_path(name="read", path=path, method="GET")
    assert ours == theirs


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)
    tags: list[str] = []


def test_create_model_field_validates_and_serializes_as_fastapis():
    ours = ignyx.utils.create_model_field("Item", Item, mode="serialization")
    theirs = fastapi.utils.create_model_field("Item", Item, mode="serialization")
    for value in ({"name": "a", "price": 2}, {"name": "a", "price": -1}, "nope"):
        assert ours.validate(value, loc=("body",)) == theirs.validate(value, loc=("body",))
    item = Item(name="a", price=2)
    assert ours.serialize(item, exclude={"tags"}) == theirs.serialize(item, exclude={"tags"})
    assert ours.serialize_json(item) == theirs.serialize_json(item)
    assert (ours.name, ours.mode, ours.alias, ours.default) == (
        theirs.name,
        theirs.mode,
        theirs.alias,
        theirs.default,
    )


def test_create_model_field_refuses_what_pydantic_cannot_validate():
    class NotAModel:
        pass

    with pytest.raises(ignyx.exceptions.FastAPIError, match="Invalid args for response field"):
        ignyx.utils.create_model_field("bad", NotAModel)


# --- ignyx._compat -------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int


class Color(Enum):
    red = "red"


ANNOTATIONS = [
    int, str, bytes, float, bool, type(None), Color, Item, Point, dict, dict[str, int],
    Mapping[str, int], list, list[int], list[str], list[Item], list[bytes], set[int],
    frozenset[str], tuple[int, ...], tuple[int, str], deque[int], Sequence[int],
    Optional[int], Optional[list[int]], Union[int, list[int]], Union[list[int], Item],
    Union[int, str], Optional[bytes], Optional[list[bytes]], int | None, list[int] | None,
    Annotated[int, "meta"], Annotated[list[int], "meta"], Annotated[Optional[Item], "m"],
    list[list[int]], Any, Ellipsis,
]  # fmt: skip

PREDICATES = [
    "field_annotation_is_scalar",
    "field_annotation_is_sequence",
    "field_annotation_is_scalar_sequence",
    "field_annotation_is_complex",
    "is_bytes_or_nonable_bytes_annotation",
    "is_bytes_sequence_annotation",
    "annotation_is_pydantic_v1",
]


@pytest.mark.parametrize("predicate", PREDICATES)
def test_annotation_predicates_answer_as_fastapis(predicate):
    ours = getattr(ignyx._compat.shared, predicate)
    theirs = getattr(fastapi._compat.shared, predicate)
    answers = {repr(a): (ours(a), theirs(a)) for a in ANNOTATIONS}
    assert {k: v for k, v in answers.items() if v[0] != v[1]} == {}


def test_upload_predicates_recognise_ignyx_uploads():
    from ignyx._compat import is_uploadfile_or_nonable_uploadfile_annotation as single
    from ignyx._compat import is_uploadfile_sequence_annotation as many
    from ignyx.datastructures import UploadFile

    assert single(UploadFile) and single(Optional[UploadFile])
    assert many(list[UploadFile]) and many(Optional[list[UploadFile]])
    assert not single(bytes) and not many(list[bytes])
    assert not ignyx._compat.field_annotation_is_scalar(UploadFile)


def test_compat_helpers_answer_as_fastapis():
    ours, theirs = ignyx._compat, fastapi._compat
    assert ours.Undefined is theirs.Undefined is ours.RequiredParam
    assert ours.PYDANTIC_V2 is True
    assert ours.PYDANTIC_VERSION_MINOR_TUPLE == theirs.PYDANTIC_VERSION_MINOR_TUPLE
    assert ours.sequence_types == theirs.sequence_types
    for value in ([1], (1,), {1}, "ab", b"ab", 1, deque([1])):
        assert ours.value_is_sequence(value) == theirs.value_is_sequence(value)
    assert ours.lenient_issubclass(list[int], list) is theirs.lenient_issubclass(list[int], list)
    assert ours.lenient_issubclass(bool, int) and not ours.lenient_issubclass(3, int)
    loc = ("body", "item", 0)
    assert ours.get_missing_field_error(loc) == theirs.get_missing_field_error(loc)
    assert ours.evaluate_forwardref("list[int]", {}) == list[int]
    assert ours.evaluate_forwardref(typing.ForwardRef("Item"), globals()) is Item
    missing = typing.ForwardRef("Nowhere")
    assert ours.evaluate_forwardref(missing, {}) is missing
    assert ours._model_dump(Item(name="a", price=1)) == {"name": "a", "price": 1.0, "tags": []}
    errors = [{"loc": ("a",), "msg": "m"}]
    assert ours._regenerate_error_with_loc(errors=errors, loc_prefix=("body",)) == [
        {"loc": ("body", "a"), "msg": "m"}
    ]


def test_model_field_serializes_sequences_and_builds_bodies_as_fastapis():
    for annotation, value in ((set[int], [1, 1]), (Optional[tuple[int, ...]], [1]), (list, (1,))):
        ours = ignyx._compat.ModelField(FieldInfo(annotation=annotation), "v")
        theirs = fastapi._compat.ModelField(FieldInfo(annotation=annotation), "v")
        assert ignyx._compat.serialize_sequence_value(
            field=ours, value=value
        ) == fastapi._compat.serialize_sequence_value(field=theirs, value=value)
    fields = [ignyx._compat.ModelField(FieldInfo(annotation=int), "a")]
    body = ignyx._compat.create_body_model(fields=fields, model_name="Body_x")
    assert body.__name__ == "Body_x" and body(a="1").a == 1
    assert ignyx._compat.is_scalar_field(fields[0])
    assert not ignyx._compat.is_scalar_field(
        ignyx._compat.ModelField(ignyx.Body(annotation=int), "b")
    )


def test_model_field_schemas_and_definitions_are_fastapis():
    class Tag(BaseModel):
        label: str

    class Post(BaseModel):
        title: str
        tags: list[Tag]

    def document(compat: Any) -> tuple[Any, Any, Any]:
        fields = [
            compat.ModelField(FieldInfo(annotation=Post), "body"),
            compat.ModelField(FieldInfo(annotation=list[Tag]), "tags_out", mode="serialization"),
            compat.ModelField(FieldInfo(annotation=int, title=None), "limit_items"),
        ]
        models = compat.get_flat_models_from_fields(fields, known_models=set())
        names = compat.get_model_name_map(models)
        mapping, definitions = compat.get_definitions(fields=fields, model_name_map=names)
        schemas = [
            compat.get_schema_from_model_field(
                field=field, model_name_map=names, field_mapping=mapping
            )
            for field in fields
        ]
        return sorted(m.__name__ for m in models), definitions, schemas

    assert document(ignyx._compat) == document(fastapi._compat)


def test_model_fields_of_a_model_and_copied_field_infos_are_fastapis():
    ours = ignyx._compat.get_cached_model_fields(Item)
    theirs = fastapi._compat.get_cached_model_fields(Item)
    assert [(f.name, f.alias, f.default) for f in ours] == [
        (f.name, f.alias, f.default) for f in theirs
    ]
    assert ignyx._compat.get_cached_model_fields(Item) is ours
    annotation = Annotated[int, Field(lt=5)]
    for query in (ignyx.Query(alias="x", gt=1), pydantic.Field(description="d")):
        copied = ignyx._compat.copy_field_info(field_info=query, annotation=annotation)
        reference = fastapi._compat.copy_field_info(field_info=query, annotation=annotation)
        assert type(copied) is type(query)
        assert (copied.annotation, copied.metadata, copied.alias, copied.description) == (
            reference.annotation,
            reference.metadata,
            reference.alias,
            reference.description,
        )


# --- ignyx.types, ignyx.logger, ignyx.encoders, the small modules ------------------------


def test_types_are_fastapis():
    import fastapi.types
    import ignyx.types

    assert ignyx.types.UnionType is fastapi.types.UnionType
    assert ignyx.types.ModelNameMap == fastapi.types.ModelNameMap
    assert ignyx.types.DecoratedCallable.__bound__ == fastapi.types.DecoratedCallable.__bound__
    assert typing.get_origin(ignyx.types.DependencyCacheKey) is tuple


def test_the_logger_is_the_parent_of_ignyx_error_and_access_logs():
    from ignyx.logger import logger

    assert logger is logging.getLogger("ignyx")
    assert logging.getLogger("ignyx.error").parent is logger
    assert logging.getLogger("ignyx.access").parent is logger


def test_encoders_by_type_are_fastapis_and_reach_jsonable_encoder():
    import fastapi.encoders
    import ignyx.encoders

    class Token:
        def __init__(self, text: str) -> None:
            self.text = text

    ignyx.encoders.ENCODERS_BY_TYPE[Token] = lambda token: token.text
    try:
        assert ignyx.encoders.jsonable_encoder({"t": Token("abc")}) == {"t": "abc"}
    finally:
        del ignyx.encoders.ENCODERS_BY_TYPE[Token]
    for value in (Decimal("2"), Decimal("2.50"), Decimal("-1E+2")):
        assert ignyx.encoders.decimal_encoder(value) == fastapi.encoders.decimal_encoder(value)
    table = {int: str, float: str, bytes: repr}
    assert ignyx.encoders.generate_encoders_by_class_tuples(
        table
    ) == fastapi.encoders.generate_encoders_by_class_tuples(table)
    assert Decimal in ignyx.encoders.encoders_by_class_tuples[ignyx.encoders.decimal_encoder]


def test_run_until_first_complete_stops_the_others_and_warns():
    from ignyx.concurrency import run_until_first_complete

    finished: list[str] = []

    async def quick() -> None:
        finished.append("quick")

    async def slow(delay: float) -> None:
        await asyncio.sleep(delay)
        finished.append("slow")

    async def main() -> None:
        with pytest.warns(ignyx.exceptions.FastAPIDeprecationWarning, match="is deprecated"):
            await run_until_first_complete((slow, {"delay": 5}), (quick, {}))
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert finished == ["quick"]


def test_websocket_validation_handler_closes_with_1008_and_the_errors():
    from ignyx.exception_handlers import websocket_request_validation_exception_handler

    closed: list[tuple[int, str]] = []

    class Socket:
        async def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
            closed.append((code, reason or ""))

    errors = [{"type": "missing", "loc": ("query", "token"), "msg": "Field required"}]
    error = ignyx.exceptions.WebSocketRequestValidationError(errors)
    asyncio.run(websocket_request_validation_exception_handler(Socket(), error))  # type: ignore[arg-type]
    assert closed == [(1008, json.dumps([{**errors[0], "loc": ["query", "token"]}]))]


def test_async_exit_stack_middleware_closes_the_stack_after_the_app():
    from ignyx.middleware.asyncexitstack import AsyncExitStackMiddleware

    events: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["fastapi_middleware_astack"].callback(events.append, "closed")
        events.append("app")

    scope: dict[str, Any] = {"type": "http"}
    asyncio.run(AsyncExitStackMiddleware(inner)(scope, None, None))
    assert events == ["app", "closed"]


def test_wsgi_middleware_is_a2wsgis():
    import a2wsgi
    from ignyx.middleware.wsgi import WSGIMiddleware

    assert WSGIMiddleware is a2wsgi.WSGIMiddleware


def test_app_type_datastructures_and_cli_names():
    from ignyx.applications import AppType
    from ignyx.cli import cli_main, main
    from ignyx.datastructures import DefaultType

    assert AppType.__bound__ is ignyx.Ignyx
    assert isinstance(DefaultType, typing.TypeVar)
    assert cli_main is main
