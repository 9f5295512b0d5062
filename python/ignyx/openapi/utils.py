"""``get_openapi``: the OpenAPI 3.1 document of an app's routes, the same one FastAPI writes.

    from ignyx.openapi.utils import get_openapi

    document = get_openapi(title="Shop", version="1.0.0", routes=app.routes)

It is built once per app (``app.openapi()`` caches it) from what the routes compiled at
registration: their parameters, bodies and response models, whose JSON Schemas come from
Pydantic and are shared under ``components/schemas``.
"""

from __future__ import annotations

import copy
import http.client
import inspect
import warnings
from typing import Any, Optional, Sequence, Union

from pydantic_core import PydanticUndefined

from ..datastructures import DefaultPlaceholder
from ..encoders import jsonable_encoder
from ..responses import JSONResponse
from ..routing import APIRoute
from ..sse import _EVENT_ITEM_SCHEMA
from ._fields import FieldMapping, SchemaField, field_schema, generate_definitions
from ._plans import FieldCache, RoutePlan, all_fields, route_plans
from .constants import METHODS_WITH_BODY, REF_PREFIX
from .models import OpenAPI

__all__ = ["get_openapi"]

validation_error_definition = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}

validation_error_response_definition = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {"$ref": REF_PREFIX + "ValidationError"},
        }
    },
}

status_code_ranges = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}


def is_body_allowed_for_status_code(status_code: Union[int, str, None]) -> bool:
    if status_code is None or status_code in {"default", "1XX", "2XX", "3XX", "4XX", "5XX"}:
        return True
    code = int(status_code)
    return not (code < 200 or code in {204, 205, 304})


def deep_dict_update(main: dict[Any, Any], update: dict[Any, Any]) -> None:
    """Merges `update` into `main`: dicts recursively, lists concatenated, the rest replaced."""
    for key, value in update.items():
        current = main.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            deep_dict_update(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            main[key] = current + value
        else:
            main[key] = value


# -- rendering an operation -----------------------------------------------------------------


class _Renderer:
    """Turns route plans into path items, given the schemas of all their fields."""

    def __init__(self, field_mapping: FieldMapping, separate_input_output_schemas: bool) -> None:
        self.field_mapping = field_mapping
        self.separate = separate_input_output_schemas
        self.operation_ids: set[str] = set()
        self.security_schemes: dict[str, Any] = {}
        self.definitions: dict[str, Any] = {}

    def schema(self, field: SchemaField, alias: Optional[str] = None) -> dict[str, Any]:
        return field_schema(
            field, self.field_mapping, separate_input_output_schemas=self.separate, alias=alias
        )

    def paths(self, plans: list[RoutePlan]) -> dict[str, dict[str, Any]]:
        """The path items of `plans`, operations of one path merged."""
        paths: dict[str, dict[str, Any]] = {}
        for plan in plans:
            paths.setdefault(plan.route.path_format, {}).update(self.path_item(plan))
        return paths

    def path_item(self, plan: RoutePlan) -> dict[str, Any]:
        route = plan.route
        response_class = route.response_class
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        item = {}
        for method in route.methods:
            item[method.lower()] = self.operation(plan, method, response_class)
        return item

    def metadata(self, route: APIRoute) -> dict[str, Any]:
        operation: dict[str, Any] = {}
        if route.tags:
            operation["tags"] = route.tags
        operation["summary"] = route.summary or route.name.replace("_", " ").title()
        description = route.description
        if description:
            description = description.split("\f")[0].strip()
        if description:
            operation["description"] = description
        operation_id = route.operation_id or route.unique_id
        if operation_id in self.operation_ids:
            name = getattr(route.endpoint, "__name__", "<unnamed_endpoint>")
            message = f"Duplicate Operation ID {operation_id} for function {name}"
            file_name = getattr(route.endpoint, "__globals__", {}).get("__file__")
            if file_name:
                message += f" at {file_name}"
            warnings.warn(message, stacklevel=1)
        self.operation_ids.add(operation_id)
        operation["operationId"] = operation_id
        if route.deprecated:
            operation["deprecated"] = route.deprecated
        return operation

    def operation(self, plan: RoutePlan, method: str, response_class: Any) -> dict[str, Any]:
        route = plan.route
        operation = self.metadata(route)
        security = self.security(plan)
        if security:
            operation.setdefault("security", []).extend(security)
        parameters = self.parameters(plan)
        if parameters:
            operation["parameters"] = parameters
        if method in METHODS_WITH_BODY:
            request_body = self.request_body(plan)
            if request_body:
                operation["requestBody"] = request_body
        if plan.callbacks:
            operation["callbacks"] = {
                callback.route.name: {callback.route.path: self.path_item(callback)}
                for callback in plan.callbacks
            }
        responses = operation.setdefault("responses", {})
        status_code = self.default_status(route, response_class)
        responses.setdefault(status_code, {})["description"] = route.response_description
        media_type = getattr(response_class, "media_type", None)
        stream = self.stream_content(plan)
        if is_body_allowed_for_status_code(route.status_code) and stream is not None:
            responses[status_code].setdefault("content", {}).update(stream)
        elif is_body_allowed_for_status_code(route.status_code) and media_type:
            schema: dict[str, Any] = {"type": "string"}
            if isinstance(response_class, type) and issubclass(response_class, JSONResponse):
                schema = self.schema(plan.response) if plan.response is not None else {}
            content = responses[status_code].setdefault("content", {})
            content.setdefault(media_type, {})["schema"] = schema
        self.additional_responses(plan, responses, media_type)
        has_params = bool(plan.parameters) or plan.body is not None
        if has_params and not any(code in responses for code in ("422", "4XX", "default")):
            responses["422"] = {
                "description": "Validation Error",
                "content": {
                    "application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}
                },
            }
            self.definitions.setdefault("ValidationError", validation_error_definition)
            self.definitions.setdefault("HTTPValidationError", validation_error_response_definition)
        if route.openapi_extra:
            deep_dict_update(operation, route.openapi_extra)
        return operation

    def stream_content(self, plan: RoutePlan) -> Optional[dict[str, Any]]:
        """The content of a JSON Lines or SSE route's response: the schema of one item (of
        one event, for SSE, whose ``data`` holds the item as JSON) as ``itemSchema``."""
        route, item = plan.route, plan.stream_item
        if route.is_json_stream:
            return {"application/jsonl": {"itemSchema": self.schema(item) if item else {}}}
        if not route.is_sse_stream:
            return None
        event = copy.deepcopy(_EVENT_ITEM_SCHEMA)
        if item is not None:
            event["required"] = ["data"]
            event["properties"]["data"] = {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": self.schema(item),
            }
        return {"text/event-stream": {"itemSchema": event}}

    def security(self, plan: RoutePlan) -> list[dict[str, list[str]]]:
        requirements: dict[str, list[str]] = {}
        for scheme, scopes in plan.security:
            definition = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
            self.security_schemes[scheme.scheme_name] = definition
            required = requirements.setdefault(scheme.scheme_name, [])
            required.extend(scope for scope in scopes if scope not in required)
        return [{name: scopes} for name, scopes in requirements.items()]

    def parameters(self, plan: RoutePlan) -> list[dict[str, Any]]:
        out = []
        for parameter in plan.parameters:
            if not parameter.include_in_schema:
                continue
            field = parameter.field
            info = field.field_info
            out.append(
                {
                    "name": parameter.name,
                    "in": parameter.source,
                    "required": field.is_required() and not parameter.optional_model,
                    "schema": self.schema(field, alias=parameter.schema_alias),
                }
            )
            if info.description:
                out[-1]["description"] = info.description
            openapi_examples = getattr(info, "openapi_examples", None)
            example = getattr(info, "example", PydanticUndefined)
            if openapi_examples:
                out[-1]["examples"] = jsonable_encoder(openapi_examples)
            elif example is not PydanticUndefined:
                out[-1]["example"] = jsonable_encoder(example)
            if getattr(info, "deprecated", None):
                out[-1]["deprecated"] = True
        # One entry per (location, name); a required declaration wins over an optional one.
        unique = {(p["in"], p["name"]): p for p in out}
        unique.update({(p["in"], p["name"]): p for p in out if p.get("required")})
        return list(unique.values())

    def request_body(self, plan: RoutePlan) -> Optional[dict[str, Any]]:
        if plan.body is None:
            return None
        info = plan.body_info
        body: dict[str, Any] = {}
        if plan.body.is_required():
            body["required"] = True
        content: dict[str, Any] = {"schema": self.schema(plan.body)}
        openapi_examples = getattr(info, "openapi_examples", None)
        example = getattr(info, "example", PydanticUndefined)
        if openapi_examples:
            content["examples"] = jsonable_encoder(openapi_examples)
        elif example is not PydanticUndefined:
            content["example"] = jsonable_encoder(example)
        body["content"] = {getattr(info, "media_type", "application/json"): content}
        return body

    @staticmethod
    def default_status(route: APIRoute, response_class: Any) -> str:
        if route.status_code is not None:
            return str(int(route.status_code))
        parameter = inspect.signature(response_class.__init__).parameters.get("status_code")
        if parameter is not None and isinstance(parameter.default, int):
            return str(parameter.default)
        return "200"

    def additional_responses(
        self, plan: RoutePlan, responses: dict[str, Any], media_type: Optional[str]
    ) -> None:
        for code, response in (plan.route.responses or {}).items():
            extra = copy.deepcopy(response)
            extra.pop("model", None)
            key = str(code).upper()
            if key == "DEFAULT":
                key = "default"
            current = responses.setdefault(key, {})
            field = plan.responses.get(code)
            if field is not None:
                schema = (
                    extra.setdefault("content", {})
                    .setdefault(media_type or "application/json", {})
                    .setdefault("schema", {})
                )
                deep_dict_update(schema, self.schema(field))
            status_text = status_code_ranges.get(str(code).upper())
            if status_text is None:
                status_text = http.client.responses.get(int(code))
            description = (
                extra.get("description")
                or current.get("description")
                or status_text
                or "Additional Response"
            )
            deep_dict_update(current, extra)
            current["description"] = description


# -- the document ---------------------------------------------------------------------------


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = "3.1.0",
    summary: Optional[str] = None,
    description: Optional[str] = None,
    routes: Sequence[Any],
    webhooks: Optional[Sequence[Any]] = None,
    tags: Optional[list[dict[str, Any]]] = None,
    servers: Optional[list[dict[str, Any]]] = None,
    terms_of_service: Optional[str] = None,
    contact: Optional[dict[str, Any]] = None,
    license_info: Optional[dict[str, Any]] = None,
    separate_input_output_schemas: bool = True,
    external_docs: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """The OpenAPI document (as plain JSON data) describing `routes`."""
    info: dict[str, Any] = {"title": title, "version": version}
    optional_info = {
        "summary": summary,
        "description": description,
        "termsOfService": terms_of_service,
        "contact": contact,
        "license": license_info,
    }
    info.update((key, value) for key, value in optional_info.items() if value)
    output: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        output["servers"] = servers

    fields = FieldCache()
    plans = route_plans(routes, fields)
    webhook_plans = route_plans(webhooks or [], fields)
    field_mapping, definitions = generate_definitions(
        all_fields(plans + webhook_plans),
        separate_input_output_schemas=separate_input_output_schemas,
    )
    renderer = _Renderer(field_mapping, separate_input_output_schemas)
    paths = renderer.paths(plans)
    webhook_paths = renderer.paths(webhook_plans)
    definitions.update(renderer.definitions)

    components: dict[str, Any] = {}
    if renderer.security_schemes:
        components["securitySchemes"] = renderer.security_schemes
    if definitions:
        components["schemas"] = {name: definitions[name] for name in sorted(definitions)}
    if components:
        output["components"] = components
    output["paths"] = paths
    if webhook_paths:
        output["webhooks"] = webhook_paths
    if tags:
        output["tags"] = tags
    if external_docs:
        output["externalDocs"] = external_docs
    return jsonable_encoder(OpenAPI(**output), by_alias=True, exclude_none=True)
