"""``GZipMiddleware``, as in Starlette, executed by the engine (see
``ignyx.middleware.compression``)::

    app.add_middleware(GZipMiddleware, minimum_size=1000)
"""

from .compression import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "GZipMiddleware"]
