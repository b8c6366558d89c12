"""A small shop of four HTTP services, instrumented with the real opentelemetry-sdk, for the own-telemetry tests.

frontend -> cart, frontend -> checkout -> payment. Each service is a ThreadingHTTPServer with its own
TracerProvider (its `service.name`); trace context travels in W3C `traceparent` headers. Spans are exported as
the OpenTelemetry Collector's file exporter writes them (one OTLP/JSON ExportTraceServiceRequest per line,
hex ids, integer enums); each service also writes JSON-line logs to `<service>.jsonl` and remembers its
request durations, from which the test builds Prometheus history. `inject(service, mode)` makes a service slow
or failing.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from google.protobuf.json_format import MessageToDict
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

CALLS = {"frontend": ["cart", "checkout"], "cart": [], "checkout": ["payment"], "payment": []}
WORK_SECONDS = {"frontend": 0.001, "cart": 0.002, "checkout": 0.002, "payment": 0.003}
SLOW_SECONDS = 0.12
ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpJsonFileExporter(SpanExporter):
    """What the Collector's `file` exporter writes: OTLP/JSON (ids in hex, enums as integers), one request a line."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()

    def export(self, spans) -> SpanExportResult:
        document = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for key in ID_FIELDS:
                        if key in span:
                            span[key] = base64.b64decode(span[key]).hex()
        with self.lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(document, separators=(",", ":")) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


@dataclass
class Shop:
    folder: Path
    faults: dict[str, str] = field(default_factory=dict)  # service -> "slow" | "error"
    durations: dict[str, list[tuple[float, float, bool]]] = field(default_factory=lambda: defaultdict(list))
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.traces = self.folder / "traces.jsonl"
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        exporter = OtlpJsonFileExporter(self.traces)
        self.servers = [self._serve(name, exporter) for name in CALLS]

    def inject(self, service: str, mode: str) -> float:
        self.faults[service] = mode
        return time.time()

    def request(self) -> int:
        try:
            with urllib.request.urlopen(self._url("frontend", "/buy"), timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def close(self) -> None:
        for server, provider in self.servers:
            server.shutdown()
            provider.shutdown()

    def _url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def _serve(self, name: str, exporter: SpanExporter):
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        shop, tracer = self, provider.get_tracer("shop")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with tracer.start_as_current_span(f"GET {self.path}", context=propagate.extract(self.headers),
                                                  kind=SpanKind.SERVER) as span:
                    status = shop._handle(name, span, tracer)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.ports[name] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, provider

    def _handle(self, name: str, span, tracer) -> int:
        started = time.time()
        failed = self._work(name, span) or any(self._call(callee, tracer) >= 500 for callee in CALLS[name])
        if failed:
            span.set_status(Status(StatusCode.ERROR, "request failed"))
        self.durations[name].append((started, 1000 * (time.time() - started), failed))
        self._log(name, span, "ERROR" if failed else "INFO", "request failed" if failed else "request served")
        return 500 if failed else 200

    def _work(self, name: str, span) -> bool:
        fault = self.faults.get(name)
        time.sleep(SLOW_SECONDS if fault == "slow" else WORK_SECONDS[name])
        if fault == "error":
            span.record_exception(ConnectionError(f"{name} database refused the connection"))
        return fault == "error"

    def _call(self, callee: str, tracer) -> int:
        with tracer.start_as_current_span(f"call {callee}", kind=SpanKind.CLIENT):
            headers: dict[str, str] = {}
            propagate.inject(headers)
            request = urllib.request.Request(self._url(callee, "/"), headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

    def _log(self, name: str, span, level: str, message: str) -> None:
        entry = {"timestamp": time.time(), "level": level, "message": message,
                 "span_id": format(span.get_span_context().span_id, "016x")}
        with (self.logs / f"{name}.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def run_traffic(shop: Shop, seconds: float, pause: float = 0.01) -> int:
    """Requests one after another for `seconds`; how many were sent."""
    sent, stop = 0, time.time() + seconds
    while time.time() < stop:
        shop.request()
        sent += 1
        time.sleep(pause)
    return sent
