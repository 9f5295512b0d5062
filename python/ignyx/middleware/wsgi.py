"""``WSGIMiddleware``: a WSGI app (Flask, Django) served as an ASGI app, to mount::

    app.mount("/legacy", WSGIMiddleware(flask_app))

It is a2wsgi's, which Starlette itself recommends (``pip install a2wsgi``).
"""

try:
    from a2wsgi import WSGIMiddleware
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ignyx.middleware.wsgi needs a2wsgi, which is not installed: pip install a2wsgi"
    ) from exc

__all__ = ["WSGIMiddleware"]
