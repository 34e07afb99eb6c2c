"""OpenTelemetry traces (issue 21): with IDP_OTLP_ENDPOINT set, every request but health
and metrics becomes a server span exported over OTLP/HTTP to the collector; query values
never leave GovID. The collector here is a real HTTP server on loopback that decodes what
it receives with the OTLP protobuf schema."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from idp import migrate, tracing
from idp.main import create_app
from tests.conftest import make_settings


class Collector:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, ExportTraceServiceRequest]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                msg = ExportTraceServiceRequest()
                msg.ParseFromString(body)
                collector.requests.append((self.path, dict(self.headers), msg))
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[dict, object]]:
        out = []
        for _path, _headers, msg in self.requests:
            for rs in msg.resource_spans:
                resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out.extend((resource, s) for s in ss.spans)
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def _attrs(span) -> dict:
    out = {}
    for a in span.attributes:
        v = a.value
        out[a.key] = v.string_value or v.int_value or v.bool_value
    return out


def test_requests_are_traced_to_the_collector(tmp_path, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=collector-secret")
    url = f"sqlite:///{tmp_path / 'otel.db'}"
    migrate.upgrade(url)
    settings = make_settings(url, otlp_endpoint=collector.url, otlp_service_name="govid-test")
    app = create_app(settings, start_workers=False)
    with TestClient(app) as http:
        assert http.get("/.well-known/openid-configuration").status_code == 200
        assert http.get("/healthz").status_code == 200
        r = http.get("/end_session", params={"id_token_hint": "eyJhbGciOi.secret.sig"})
        assert r.status_code < 500
        http.get(
            "/authorize",
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
    tracing.provider(settings).force_flush()

    assert collector.requests, "nothing exported"
    path, headers, _ = collector.requests[0]
    assert path == "/v1/traces"
    assert headers.get("x-api-key") == "collector-secret"
    spans = collector.spans()
    assert {r["service.name"] for r, _ in spans} == {"govid-test"}
    by_route = {_attrs(s).get("http.route"): s for _, s in spans}
    discovery = by_route["/.well-known/openid-configuration"]
    assert _attrs(discovery)["http.response.status_code"] == 200
    assert discovery.kind == discovery.SPAN_KIND_SERVER
    # Not traced: health, readiness, metrics.
    assert not [s for _, s in spans if _attrs(s).get("url.path") == "/healthz"]
    # Query values never leave GovID; the names do.
    end = [s for _, s in spans if _attrs(s).get("url.path") == "/end_session"]
    assert end and _attrs(end[0])["url.query"] == "id_token_hint=REDACTED"
    for _, s in spans:
        assert "secret" not in str(_attrs(s))
    # The proxy's traceparent is followed (W3C Trace Context).
    authorize = [s for _, s in spans if _attrs(s).get("url.path") == "/authorize"]
    assert authorize and authorize[0].trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"


def test_without_the_setting_nothing_is_traced(tmp_path, collector):
    url = f"sqlite:///{tmp_path / 'otel.db'}"
    migrate.upgrade(url)
    app = create_app(make_settings(url), start_workers=False)
    with TestClient(app) as http:
        assert http.get("/.well-known/openid-configuration").status_code == 200
    assert not collector.requests
