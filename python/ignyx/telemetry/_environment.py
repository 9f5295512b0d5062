"""``auto_configure``: OTLP exporters (HTTP and protobuf) for the signals telemetry records,
set up from OpenTelemetry's own environment variables when serving starts, as FastAPI
does at its lifespan's start: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or one per signal,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``...), ``OTEL_TRACES_EXPORTER=none`` to leave one out,
``OTEL_SDK_DISABLED=true`` for none. A provider the application configured keeps its
exporters and gains this one; without one, an SDK provider is made and made global. What
is made here is flushed when the app shuts down (`flush`)."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from ._middleware import placeholder
from ._otel import _logs, metrics, trace

_lock = threading.Lock()
# (signal, provider) pairs given an exporter here, and what was made here, to flush.
_configured: list[tuple[str, Any]] = []
_owned: list[Any] = []


def endpoint(signal: str) -> Optional[str]:
    """Where `signal` (TRACES, METRICS, LOGS) is exported, or None; ValueError for a
    setting this cannot follow."""
    exporter = (os.getenv(f"OTEL_{signal}_EXPORTER") or "otlp").strip().lower()
    url = os.getenv(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    if not url:
        base = os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        url = f"{base.removesuffix('/')}/v1/{signal.lower()}" if base else None
    if not url or exporter == "none":
        return None
    if exporter != "otlp":
        raise ValueError(
            f"OTEL_{signal}_EXPORTER={exporter}: automatic telemetry exports by OTLP only; "
            "configure other exporters on the providers, with auto_configure off"
        )
    protocol = (
        os.getenv(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol != "http/protobuf":
        raise ValueError(
            f"OTLP protocol {protocol}: automatic telemetry exports by http/protobuf only"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"OTLP {signal.lower()} endpoint {url!r} is not an absolute HTTP URL")
    return url


def configure(config: dict[str, Any]) -> None:
    """Adds an OTLP exporter to the provider of each signal that is on and has an endpoint."""
    if os.getenv("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    signals = [
        ("TRACES", config["tracing"], config["tracer_provider"]),
        ("METRICS", config["metrics"], config["meter_provider"]),
        ("LOGS", config["logs"], config["logger_provider"]),
    ]
    wanted = [(s, given, url) for s, on, given in signals if on and (url := endpoint(s))]
    if not wanted:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ValueError(
            "automatic telemetry needs OpenTelemetry's SDK and OTLP exporter: "
            "pip install ignyx[opentelemetry]"
        ) from None

    def component(signal: str, url: str) -> Any:
        if signal == "TRACES":
            return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))
        if signal == "METRICS":
            return PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=url))
        return BatchLogRecordProcessor(OTLPLogExporter(endpoint=url))

    globals_: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
        "TRACES": (trace.get_tracer_provider, trace.set_tracer_provider),
        "METRICS": (metrics.get_meter_provider, metrics.set_meter_provider),
        "LOGS": (_logs.get_logger_provider, _logs.set_logger_provider),
    }
    with _lock:
        for signal, given, url in wanted:
            get, set_ = globals_[signal]
            provider = given if given is not None else get()
            if any(s == signal and p is provider for s, p in _configured):
                continue
            made = component(signal, url)
            if given is None and placeholder(provider):
                if signal == "TRACES":
                    provider = TracerProvider(shutdown_on_exit=False)
                    provider.add_span_processor(made)
                elif signal == "METRICS":
                    provider = MeterProvider(metric_readers=[made], shutdown_on_exit=False)
                else:
                    provider = LoggerProvider(shutdown_on_exit=False)
                    provider.add_log_record_processor(made)
                set_(provider)
                _owned.append(provider)
            else:
                add = {
                    "TRACES": "add_span_processor",
                    "METRICS": "add_metric_reader",
                    "LOGS": "add_log_record_processor",
                }[signal]
                if not callable(getattr(provider, add, None)):
                    raise ValueError(
                        f"the configured {signal.lower()} provider cannot take an OTLP "
                        "exporter: configure it yourself, with auto_configure off"
                    )
                getattr(provider, add)(made)
                _owned.append(made)
            _configured.append((signal, provider))


def flush() -> None:
    """Exports what the exporters made here still hold (the app is shutting down)."""
    for owned in tuple(_owned):
        try:
            owned.force_flush()
        except Exception:  # noqa: BLE001 - telemetry must not fail a shutdown
            import logging

            logging.getLogger("ignyx.error").exception("Flushing telemetry failed")
