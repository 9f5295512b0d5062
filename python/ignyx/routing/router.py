"""``APIRouter``: a group of path operations with a shared prefix, tags, dependencies,
responses and lifespan, included in an app or another router."""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Optional, Sequence, Union

from .. import params
from .._deprecation import ON_EVENT, warn_deprecated
from ..datastructures import Default, DefaultPlaceholder
from ..responses import JSONResponse
from .api_route import APIRoute, generate_unique_id
from .lifespan import HandlersLifespan, Lifespan, as_lifespan, merged
from .limits import FormLimits, checked_form_limits, checked_max_body_size, nearest
from .route import Route
from .websocket import APIWebSocketRoute, WebSocketRoute


class APIRouter:
    """A group of path operations with a shared prefix, tags, dependencies and responses,
    and the lifespan they need (``lifespan=``, or ``on_startup``/``on_shutdown``)."""

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        default_response_class: Any = Default(JSONResponse),
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = generate_unique_id,
        route_class: type[APIRoute] = APIRoute,
        on_startup: Optional[Sequence[Callable[[], Any]]] = None,
        on_shutdown: Optional[Sequence[Callable[[], Any]]] = None,
        lifespan: Optional[Callable[[Any], Any]] = None,
        max_body_size: Optional[int] = None,
        form_limits: Optional[FormLimits] = None,
        **_: Any,
    ) -> None:
        self.route_class = route_class
        self.max_body_size = checked_max_body_size(max_body_size)
        self.form_limits = checked_form_limits(form_limits)
        self.on_startup = list(on_startup or [])
        self.on_shutdown = list(on_shutdown or [])
        # With a lifespan, the startup and shutdown handlers are not run (as in FastAPI).
        self.lifespan_context: Lifespan = (
            HandlersLifespan(self) if lifespan is None else as_lifespan(lifespan)
        )
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), "A path prefix must not end with '/'"
        self.prefix = prefix
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])
        self.default_response_class = default_response_class
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.generate_unique_id_function = generate_unique_id_function
        self.routes: list[Any] = []

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        if event_type == "startup":
            self.on_startup.append(func)
        elif event_type == "shutdown":
            self.on_shutdown.append(func)
        else:
            raise ValueError(f"unknown event {event_type!r}")

    def on_event(self, event_type: str) -> Callable[[Callable], Callable]:
        warn_deprecated(ON_EVENT, DeprecationWarning)

        def decorator(func: Callable) -> Callable:
            self.add_event_handler(event_type, func)
            return func

        return decorator

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Optional[Sequence[str]] = None,
        name: Optional[str] = None,
        include_in_schema: bool = True,
    ) -> None:
        """A Starlette route: ``endpoint(request)`` answers with a response."""
        self.routes.append(
            Route(
                self.prefix + path,
                endpoint,
                methods=methods,
                name=name,
                include_in_schema=include_in_schema,
            )
        )

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: Optional[str] = None
    ) -> None:
        """A Starlette WebSocket route: ``endpoint(websocket)``."""
        self.routes.append(WebSocketRoute(self.prefix + path, endpoint, name=name))

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> APIRoute:
        tags = self.tags + list(kwargs.pop("tags", None) or [])
        dependencies = self.dependencies + list(kwargs.pop("dependencies", None) or [])
        responses = {**self.responses, **(kwargs.pop("responses", None) or {})}
        response_class = kwargs.pop("response_class", Default(JSONResponse))
        if isinstance(response_class, DefaultPlaceholder):
            response_class = self.default_response_class
        deprecated = kwargs.pop("deprecated", None)
        include = kwargs.pop("include_in_schema", True) and self.include_in_schema
        route_class = kwargs.pop("route_class_override", None) or self.route_class
        max_body_size = nearest(kwargs.pop("max_body_size", None), self.max_body_size)
        form_limits: FormLimits = {
            **self.form_limits,
            **checked_form_limits(kwargs.pop("form_limits", None)),
        }
        route = route_class(
            self.prefix + path,
            endpoint,
            tags=tags,
            dependencies=dependencies,
            responses=responses,
            response_class=response_class,
            deprecated=deprecated if deprecated is not None else self.deprecated,
            include_in_schema=include,
            generate_unique_id_function=kwargs.pop(
                "generate_unique_id_function", self.generate_unique_id_function
            ),
            max_body_size=max_body_size,
            form_limits=form_limits,
            **kwargs,
        )
        self.routes.append(route)
        return route

    def api_route(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        def decorator(func: Callable) -> Callable:
            self.add_api_route(path, func, **kwargs)
            return func

        return decorator

    def _method(self, method: str, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self.api_route(path, methods=[method], **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("OPTIONS", path, **kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[Callable], Callable]:
        return self._method("TRACE", path, **kwargs)

    def websocket(
        self, path: str, name: Optional[str] = None, *, dependencies: Any = None
    ) -> Callable[[Callable], Callable]:
        def decorator(func: Callable) -> Callable:
            self.add_api_websocket_route(path, func, name=name, dependencies=dependencies)
            return func

        return decorator

    def add_api_websocket_route(
        self, path: str, endpoint: Callable, name: Optional[str] = None, dependencies: Any = None
    ) -> None:
        deps = self.dependencies + list(dependencies or [])
        self.routes.append(
            APIWebSocketRoute(self.prefix + path, endpoint, name=name, dependencies=deps)
        )

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        tags: Optional[list[Union[str, Enum]]] = None,
        dependencies: Optional[Sequence[params.Depends]] = None,
        responses: Optional[dict[Union[int, str], dict[str, Any]]] = None,
        deprecated: Optional[bool] = None,
        include_in_schema: bool = True,
        default_response_class: Any = Default(JSONResponse),
        max_body_size: Optional[int] = None,
        form_limits: Optional[FormLimits] = None,
        **_: Any,
    ) -> None:
        """Adds `router`'s routes under `prefix`, with extra tags, dependencies and responses,
        and the size limits of the routes that have none of their own."""
        checked_max_body_size(max_body_size)
        included_form_limits = checked_form_limits(form_limits)
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), "A path prefix must not end with '/'"
        for route in router.routes:
            if isinstance(route, APIRoute):
                response_class = route.response_class
                if isinstance(response_class, DefaultPlaceholder) and not isinstance(
                    default_response_class, DefaultPlaceholder
                ):
                    response_class = default_response_class
                self.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    response_model=route.response_model,
                    status_code=route.status_code,
                    tags=list(tags or []) + route.tags,
                    dependencies=list(dependencies or []) + route.dependencies,
                    summary=route.summary,
                    description=route.description,
                    response_description=route.response_description,
                    responses={**(responses or {}), **route.responses},
                    deprecated=route.deprecated or deprecated,
                    methods=route.methods,
                    operation_id=route.operation_id,
                    response_model_include=route.response_model_include,
                    response_model_exclude=route.response_model_exclude,
                    response_model_by_alias=route.response_model_by_alias,
                    response_model_exclude_unset=route.response_model_exclude_unset,
                    response_model_exclude_defaults=route.response_model_exclude_defaults,
                    response_model_exclude_none=route.response_model_exclude_none,
                    include_in_schema=route.include_in_schema and include_in_schema,
                    response_class=response_class,
                    name=route.name,
                    callbacks=route.callbacks,
                    openapi_extra=route.openapi_extra,
                    route_class_override=type(route),
                    max_body_size=nearest(route.max_body_size, max_body_size),
                    form_limits=FormLimits(**included_form_limits, **route.form_limits),
                    stream_item_type=route.stream_item_type,
                )
            elif isinstance(route, WebSocketRoute):
                self.routes.append(
                    WebSocketRoute(
                        self.prefix + prefix + route.path, route.endpoint, name=route.name
                    )
                )
            elif isinstance(route, APIWebSocketRoute):
                self.add_api_websocket_route(
                    prefix + route.path,
                    route.endpoint,
                    name=route.name,
                    dependencies=list(dependencies or []) + route.dependencies,
                )
            elif isinstance(route, Route):
                methods = sorted(route.methods - {"HEAD"})
                self.routes.append(
                    Route(
                        self.prefix + prefix + route.path,
                        route.endpoint,
                        methods=methods,
                        name=route.name,
                        include_in_schema=route.include_in_schema,
                    )
                )
        # Its lifespan (or its startup and shutdown handlers) runs inside ours. (FastAPI
        # also copies its handlers into ours, which then run twice when we have no lifespan.)
        self.lifespan_context = merged(self.lifespan_context, router.lifespan_context)
