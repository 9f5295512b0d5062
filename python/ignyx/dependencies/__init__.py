"""A handler's parameters, compiled into a plan once and solved per request.

``models``: what a plan is (``Dependant``, ``ModelField``, ``SecurityScopes``).
``build``: reading a handler's signature into a plan, at registration.
``solve``: per request, looking values up, validating them, calling sub-dependencies.
``forms``: how body parameters are read from a form.
"""

from .build import body_is_flat, build_dependant, build_route_dependant, flat_body_params
from .models import Dependant, ModelField, SecurityScopes
from .solve import RequestContext, own_values, solve_async, solve_sync

__all__ = [
    "Dependant",
    "ModelField",
    "RequestContext",
    "SecurityScopes",
    "body_is_flat",
    "build_dependant",
    "build_route_dependant",
    "flat_body_params",
    "own_values",
    "solve_async",
    "solve_sync",
]
