"""OpenTelemetry for an app, as FastAPI 0.165's ``FastAPI(telemetry={...})``: a span per
HTTP request and WebSocket connection (with spans for its dependencies, endpoint,
serialization and background tasks), HTTP server metrics and log records, recorded through
the providers the application configured (the OpenTelemetry API is a dependency; exporting
anything needs an SDK, ``pip install ignyx[opentelemetry]``); without a configured provider,
the app runs as if it were off.

- `_api`: the settings, the request's telemetry, and the hooks routes call.
- `_middleware`: the request and connection telemetry, as the outermost middleware.
- `_environment`: ``auto_configure``, OTLP exporters from the ``OTEL_*`` environment.
"""

from ._api import TelemetryConfig, TelemetryData, get_telemetry_data

__all__ = ["TelemetryConfig", "TelemetryData", "get_telemetry_data"]
