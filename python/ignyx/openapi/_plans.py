"""What each route contributes to the document: its parameters (in FastAPI's order, each
once), its request body as one field, its response models, callbacks and security schemes.

``route_plans`` reads the plans that routing and dependencies compiled at registration; it
runs once per document, never per request.
"""

from __future__ import annotations

import copy
import functools
import inspect
from functools import partial
from typing import Any, Optional, Sequence, Union

from pydantic import BaseModel, ConfigDict, create_model

from .. import params
from ..routing import APIRoute
from ._fields import SchemaField, field_for, model_fields, model_type, response_field

_PARAM_SOURCES = ("path", "query", "header", "cookie")


class Parameter:
    """A parameter of an operation, possibly one field of a parameter model."""

    def __init__(
        self,
        source: str,
        field: SchemaField,
        parent: Any,
        *,
        optional_model: bool = False,
        names: Optional[tuple[str, str]] = None,
    ) -> None:
        self.source = source
        self.field = field
        self.parent = parent  # the handler's parameter (an ignyx ModelField)
        self.optional_model = optional_model
        # A model field's (schema alias, parameter name), as its parameter model reads it.
        self.names = names

    @property
    def include_in_schema(self) -> bool:
        return getattr(self.parent.field_info, "include_in_schema", True)

    @property
    def schema_alias(self) -> str:
        return self.names[0] if self.names is not None else self.field.mode_alias

    @property
    def name(self) -> str:
        if self.names is not None:
            return self.names[1]
        alias = self.field.mode_alias
        info = self.field.field_info
        convert = getattr(info, "convert_underscores", None)
        if convert is None:
            convert = getattr(self.parent.field_info, "convert_underscores", True)
        if self.source == "header" and convert and alias == self.field.name:
            return alias.replace("_", "-")
        return alias


class RoutePlan:
    """The fields of one route, made once so that each has one schema in the document."""

    def __init__(self, route: APIRoute, fields: FieldCache) -> None:
        self.route = route
        self.parameters: list[Parameter] = []
        self.security: list[tuple[Any, list[str]]] = []
        dependants = _dependants(route.dependant)
        for source in _PARAM_SOURCES:
            for dependant, _, _ in dependants:
                for param in getattr(dependant, f"{source}_params"):
                    self.parameters.extend(fields.parameters(source, param))
        for dependant, scopes, is_root in dependants:
            scheme = security_scheme(dependant.call)
            if not is_root and scheme is not None:
                self.security.append((scheme, scopes))
        self.body, self.body_info = _body_field(route, fields)
        self.response = None
        if route.response_model:
            self.response = response_field("Response_" + route.unique_id, route.response_model)
        self.responses: dict[Union[int, str], SchemaField] = {}
        for code, response in (route.responses or {}).items():
            model = response.get("model") if isinstance(response, dict) else None
            if model:
                name = f"Response_{code}_{route.unique_id}"
                self.responses[code] = response_field(name, model)
        # The items of a JSON Lines or SSE stream, when the route names their type.
        self.stream_item = None
        if route.stream_item_type:
            name = "StreamItem_" + route.unique_id
            self.stream_item = response_field(name, route.stream_item_type)
        self.callbacks = [
            RoutePlan(callback, fields)
            for callback in route.callbacks or []
            if isinstance(callback, APIRoute)
        ]

    def body_fields(self) -> list[SchemaField]:
        return [self.body] if self.body is not None else []

    def response_fields(self) -> list[SchemaField]:
        head = [self.response] if self.response is not None else []
        tail = [self.stream_item] if self.stream_item is not None else []
        return head + list(self.responses.values()) + tail

    def request_fields(self) -> list[SchemaField]:
        return [parameter.field for parameter in self.parameters]


class FieldCache:
    """One ``SchemaField`` per handler parameter and per parameter model, for the document."""

    def __init__(self) -> None:
        self._params: dict[int, tuple[Any, list[Parameter]]] = {}
        self._bodies: dict[int, tuple[Any, SchemaField]] = {}
        self._models: dict[type, list[SchemaField]] = {}

    def parameters(self, source: str, param: Any) -> list[Parameter]:
        cached = self._params.get(id(param))
        if cached is not None:
            return cached[1]
        model = _param_model(param)
        if model is not None:
            optional_model = param.annotation is not model and not param.required
            if model not in self._models:
                self._models[model] = model_fields(model)
            keys = param.param_model.keys if param.param_model is not None else ()
            names = [key.pairs[0] for key in keys] or [None] * len(self._models[model])
            result = [
                Parameter(source, field, param, optional_model=optional_model, names=pair)
                for field, pair in zip(self._models[model], names, strict=False)
            ]
        else:
            field = field_for(param.name, param.annotation, param.field_info, alias=param.alias)
            result = [Parameter(source, field, param)]
        self._params[id(param)] = (param, result)  # holding `param` keeps its id unique
        return result

    def body(self, param: Any) -> SchemaField:
        cached = self._bodies.get(id(param))
        if cached is None:
            field = field_for(param.name, param.annotation, param.field_info, alias=param.alias)
            cached = self._bodies[id(param)] = (param, field)
        return cached[1]


def _param_model(param: Any) -> Optional[type[BaseModel]]:
    """The model of a parameter declared as a Pydantic model (each field one parameter)."""
    annotation = param.annotation
    if isinstance(param.field_info, (params.Query, params.Header, params.Cookie)):
        annotation = model_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not any(type(item).__name__ == "Json" for item in param.field_info.metadata):
            return annotation
    return None


def security_scheme(call: Any) -> Any:
    """The security scheme a dependency is (``HTTPBearer()``, ``OAuth2PasswordBearer(...)``)."""
    while isinstance(call, partial):
        call = call.func
    call = inspect.unwrap(call) if call is not None else None
    model = getattr(call, "model", None)
    if isinstance(model, BaseModel) and isinstance(getattr(call, "scheme_name", None), str):
        return call
    return None


def _uses_scopes(dependant: Any) -> bool:
    if dependant.security_scopes or dependant.security_scopes_param:
        return True
    if security_scheme(dependant.call) is not None:
        return True
    return any(_uses_scopes(sub) for sub in dependant.dependencies)


def _dependants(root: Any) -> list[tuple[Any, list[str], bool]]:
    """The route's dependants in FastAPI's order (the handler first, then depth first), each
    once, with the OAuth2 scopes required along the way."""
    out = []
    visited: list[Any] = []
    stack: list[tuple[Any, list[str], bool]] = [(root, [], True)]
    while stack:
        dependant, parent_scopes, is_root = stack.pop()
        scopes_key = (
            tuple(sorted(set(dependant.security_scopes))) if _uses_scopes(dependant) else ()
        )
        key = (dependant.call, scopes_key)
        if key in visited:
            continue
        visited.append(key)
        scopes = list(parent_scopes)
        for scope in dependant.security_scopes:
            if scope not in scopes:
                scopes.append(scope)
        out.append((dependant, scopes, is_root))
        stack.extend((sub, scopes, False) for sub in reversed(dependant.dependencies))
    return out


def _flat_body_params(root: Any) -> list[Any]:
    """Every body parameter of the route and its dependencies, handler first."""
    out = []
    stack = [root]
    while stack:
        dependant = stack.pop()
        out.extend(dependant.body_params)
        stack.extend(reversed(dependant.dependencies))
    return out


def _should_embed(body_params: list[Any]) -> bool:
    if not body_params:
        return False
    if len({param.name for param in body_params}) > 1:
        return True
    first = body_params[0]
    if first.form_model is not None and any(
        param.form_model is None or param.annotation is not first.annotation
        for param in body_params[1:]
    ):
        return True  # one name, different form models in different dependencies
    if getattr(first.field_info, "embed", None):
        return True
    return isinstance(first.field_info, params.Form) and first.form_model is None


def _aliased(field_info: Any, alias: str) -> Any:
    """A copy of `field_info` that a model field takes `alias` from (as its request key)."""
    info = copy.copy(field_info)
    aliases = {"alias": alias}
    if not info.validation_alias:
        aliases["validation_alias"] = alias
    if not info.serialization_alias:
        aliases["serialization_alias"] = alias
    for name, value in aliases.items():
        setattr(info, name, value)
    # Pydantic merges a field's options from the ones that were set explicitly.
    info._attributes_set = {**info._attributes_set, **aliases}
    return info


def _form_body_model(name: str, body_params: list[Any]) -> type[BaseModel]:
    """The ``Body_<id>`` model of a form with form models in it: its schema says which
    fields the form has, each form model's fields being all there or (when it is optional)
    none of them, as FastAPI documents it."""
    definitions: dict[str, Any] = {}
    for index, param in enumerate(body_params):
        info = _aliased(param.field_info, f"field_{index}")
        for attribute in ("validation_alias", "serialization_alias"):
            setattr(info, attribute, f"field_{index}")
        info.title = info.title or param.name.replace("_", " ").title()
        definitions[f"field_{index}"] = (param.annotation, info)
    config = ConfigDict(json_schema_extra=functools.partial(_form_body_schema, body_params))
    return create_model(name, __config__=config, **definitions)


def _form_body_schema(body_params: list[Any], schema: dict[str, Any]) -> None:
    parameter_schemas = schema.pop("properties")
    schema.pop("required", None)
    properties: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict[str, Any]] = []
    for index, param in enumerate(body_params):
        field_schema = parameter_schemas[f"field_{index}"]
        form = param.form_model
        if form is None:
            alias = param.form_key.aliases[0]
            if alias in properties:
                conditions.append({"properties": {alias: field_schema}})
            else:
                properties[alias] = field_schema
            if param.required and alias not in required:
                required.append(alias)
            continue
        field_schema.pop("default", None)
        if "$ref" in field_schema:
            field_schema.pop("title", None)  # a model's own schema, as it is
        if form.nullable:
            field_schema["anyOf"] = [
                choice for choice in field_schema["anyOf"] if choice.get("type") != "null"
            ]
            absent: dict[str, Any] = {}
            if form.takes_extra:
                absent = {"maxProperties": 0}
            elif form.names:
                absent = {"not": {"anyOf": [{"required": [n]} for n in sorted(form.names)]}}
            if param.required:
                conditions.append({"not": absent})
            else:
                field_schema = {"anyOf": [absent, field_schema]}
        conditions.append(field_schema)
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["allOf"] = conditions


def _body_field(route: APIRoute, fields: FieldCache) -> tuple[Optional[SchemaField], Any]:
    """The request body as one field: the body parameter itself, or a ``Body_<id>`` model
    holding every body parameter under its name (FastAPI's embedded body)."""
    body_params = _flat_body_params(route.dependant)
    if not body_params:
        return None, None
    embed = _should_embed(body_params)
    forms = [param.form_model for param in body_params if param.form_model is not None]
    if not embed and not any(form.nullable for form in forms):
        field = fields.body(body_params[0])
        return field, body_params[0].field_info
    name = "Body_" + route.unique_id
    if forms:
        model = _form_body_model(name, body_params)
    else:
        definitions: dict[str, Any] = {}
        for param in body_params:
            definitions[param.name] = (param.annotation, _aliased(param.field_info, param.alias))
        model = create_model(name, **definitions)
    if not embed:
        # One optional form model: the form is its fields or none of them.
        info = copy.copy(body_params[0].field_info)
        info.metadata, info.discriminator = [], None
        return field_for(body_params[0].name, model, info, alias=body_params[0].alias), info
    required = any(param.required for param in body_params)
    infos = [param.field_info for param in body_params]
    kwargs: dict[str, Any] = {"alias": "body"}
    if not required:
        kwargs["default"] = None
    if any(isinstance(info, params.File) for info in infos):
        cls: type[params.Body] = params.File
    elif any(isinstance(info, params.Form) for info in infos):
        cls = params.Form
    else:
        cls = params.Body
    if cls is not params.File:
        media_types = [info.media_type for info in infos if isinstance(info, cls)]
        if cls is params.Form and "multipart/form-data" in media_types:
            kwargs["media_type"] = "multipart/form-data"
        elif len(set(media_types)) == 1:
            kwargs["media_type"] = media_types[0]
    info = cls(**kwargs)
    return field_for("body", model, info), info


def route_plans(routes: Sequence[Any], fields: FieldCache) -> list[RoutePlan]:
    return [
        RoutePlan(route, fields)
        for route in routes
        if isinstance(route, APIRoute) and route.include_in_schema
    ]


def all_fields(plans: Sequence[RoutePlan]) -> list[SchemaField]:
    """The fields of the routes, in FastAPI's order: callbacks', bodies, responses, requests."""
    callbacks: list[SchemaField] = []
    bodies: list[SchemaField] = []
    responses: list[SchemaField] = []
    requests: list[SchemaField] = []
    for plan in plans:
        bodies += plan.body_fields()
        responses += plan.response_fields()
        callbacks += all_fields(plan.callbacks)
        requests += plan.request_fields()
    return callbacks + bodies + responses + requests
