"""OpenTelemetry traces over OTLP/HTTP, when ``IDP_OTLP_ENDPOINT`` is set.

FastAPI makes a server span per request (``FastAPI(telemetry=...)``: method, route
template, status, duration, W3C ``traceparent`` from the proxy honoured); this module
gives it a tracer provider that batches spans to the collector at
``<IDP_OTLP_ENDPOINT>/v1/traces`` (protobuf over HTTP, the OTLP default port 4318).
The SDK and exporter are an optional extra (``pip install 'govid[otel]'``); without
them, or without the setting, nothing is traced and nothing is asked of OpenTelemetry
per request (decision 0008). Headers for the collector (an API key) come from the
standard ``OTEL_EXPORTER_OTLP_HEADERS``.

No secrets in spans: query strings carry codes, ``id_token_hint`` and e-mail addresses,
so every query value is replaced by ``REDACTED`` before a span is exported (the names
stay, for debugging); health, readiness and metrics requests are not traced.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode

UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})

_lock = threading.Lock()
_providers: dict[tuple, Any] = {}


class MissingExtra(RuntimeError):
    pass


def _redacting_processor():
    from opentelemetry.sdk.trace import SpanProcessor

    class RedactQuery(SpanProcessor):
        def on_start(self, span, parent_context=None) -> None:
            query = (span.attributes or {}).get("url.query")
            if query:
                pairs = parse_qsl(str(query), keep_blank_values=True)
                span.set_attribute("url.query", urlencode([(k, "REDACTED") for k, _ in pairs]))

    return RedactQuery()


def provider(settings) -> Any:
    """The process's tracer provider for these settings (one per endpoint: the app and
    its mounted admin apps share it)."""
    key = (settings.otlp_endpoint, settings.otlp_service_name, settings.otlp_sample_ratio)
    with _lock:
        if key in _providers:
            return _providers[key]
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        except ImportError as exc:
            raise MissingExtra(
                "IDP_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed: "
                "pip install 'govid[otel]'"
            ) from exc
        tp = TracerProvider(
            resource=Resource.create(
                {"service.name": settings.otlp_service_name, "service.namespace": "govid"}
            ),
            sampler=ParentBased(TraceIdRatioBased(settings.otlp_sample_ratio)),
        )
        tp.add_span_processor(_redacting_processor())
        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
        _providers[key] = tp
        return tp


def fastapi_config(settings) -> dict | None:
    """``FastAPI(telemetry=...)`` when IDP_OTLP_ENDPOINT is set: request spans only (the
    metrics are Prometheus's, the logs GovID's own), else None."""
    if not settings.otlp_endpoint:
        return None
    return {
        "tracer_provider": provider(settings),
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": False,
        "exclude": lambda scope: scope.get("path") in UNTRACED,
    }
