"""OpenTelemetry for an app, as FastAPI 0.165's ``FastAPI(telemetry={...})``: a span per
HTTP request and WebSocket connection (with spans for its dependencies, endpoint,
serialization and background tasks), HTTP server metrics and log records, recorded through
the providers the application configured. Needs the ``opentelemetry-api`` package (and an
SDK to export anything); without a configured provider, the app runs as if it were off.

- `_api`: the settings, the request's telemetry, and the hooks routes call.
- `_middleware`: the request and connection telemetry, as the outermost middleware.
"""

from ._api import TelemetryConfig, TelemetryData, get_telemetry_data

__all__ = ["TelemetryConfig", "TelemetryData", "get_telemetry_data"]
