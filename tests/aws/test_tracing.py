"""X-Ray tracing (TRACING_ENABLED): the served application continues the load balancer's
X-Amzn-Trace-Id, records its database work as child spans, exports them over OTLP/HTTP to the
collector (here a local OTLP receiver standing in for the ADOT collector) and stamps its JSON log
lines with the X-Ray trace id."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.servers import server_processes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT_ID = "5759e988bd862e3fe1be46a994272793"
HEADER = f"Root=1-{ROOT_ID[:8]}-{ROOT_ID[8:]};Parent=53995c3f42cd8ad8;Sampled=1"


class Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _OtlpHandler)
        self.spans: list[dict] = []
        self.paths: list[str] = []


class _OtlpHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.server.spans.append({
                        "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                        "parent": span.parent_span_id.hex(), "name": span.name,
                        "attributes": {a.key: a.value.string_value or a.value.int_value for a in span.attributes},
                        "service": resource.get("service.name"),
                    })
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_traced_request_continues_the_load_balancer_trace_and_reaches_the_collector(collector, tmp_path):
    env = {
        "TRACING_ENABLED": "true", "TRACING_SAMPLE_RATE": "1", "CALLMCP_ENVIRONMENT": "ci",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector.server_port}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "100", "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
    }
    with server_processes(["traced"], tmp_path, env=env) as (server,):
        assert httpx.get(f"{server.url}/readyz", headers={"X-Amzn-Trace-Id": HEADER}).status_code == 200
        assert httpx.get(f"{server.url}/no-such-page", headers={"X-Amzn-Trace-Id": HEADER}).status_code == 404
        deadline = time.monotonic() + 30
        while not any(span["attributes"].get("db.system") == "postgresql" for span in collector.spans) or not any(
            span["attributes"].get("http.response.status_code", span["attributes"].get("http.status_code")) == 404
            for span in collector.spans
        ):
            assert time.monotonic() < deadline, f"spans seen: {collector.spans}"
            time.sleep(0.1)
        output = server.output()

    assert set(collector.paths) == {"/v1/traces"}
    ours = [span for span in collector.spans if span["trace_id"] == ROOT_ID]
    assert ours, collector.spans
    assert {span["service"] for span in ours} == {"web"}
    server_spans = [span for span in ours if span["parent"] == "53995c3f42cd8ad8"]
    assert len(server_spans) == 2  # one per request, children of the load balancer's segment
    database = [span for span in ours if span["attributes"].get("db.system") == "postgresql"]
    assert database
    assert all(span["parent"] for span in database)
    assert all(int(span["trace_id"][:8], 16) <= time.time() + 60 for span in collector.spans)  # X-Ray: epoch first

    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    not_found = [line for line in lines if line.get("message", "").startswith("Not Found: /no-such-page")]
    assert not_found, output
    assert not_found[0]["trace_id"] == f"1-{ROOT_ID[:8]}-{ROOT_ID[8:]}"


def test_tracing_is_off_unless_enabled_and_nothing_is_exported(collector, tmp_path):
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{collector.server_port}/v1/traces",
           "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with server_processes(["untraced"], tmp_path, env=env) as (server,):
        assert httpx.get(f"{server.url}/readyz", headers={"X-Amzn-Trace-Id": HEADER}).status_code == 200
    assert collector.spans == []  # the server has stopped: a tracing one would have exported on exit
