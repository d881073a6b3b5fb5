"""Distributed tracing for AWS X-Ray, with OpenTelemetry, when ``TRACING_ENABLED`` is true.

OpenTelemetry rather than aws-xray-sdk: AWS has put the X-Ray SDKs and daemon in maintenance mode
and recommends OpenTelemetry, whose instrumentations cover every library we use (ASGI for HTTP and
WebSocket, psycopg, redis, httpx for Bland, botocore, Celery), and the same spans can go to any
OTLP backend. Spans use X-Ray's trace id format (``AwsXRayIdGenerator``), continue the
``X-Amzn-Trace-Id`` header the load balancer adds (``AwsXRayPropagator``, beside W3C traceparent),
and are exported over OTLP/HTTP to the collector next to the process (the ADOT collector sidecar in
ECS, the ADOT layer in Lambda) which forwards them to X-Ray. Standard ``OTEL_*`` variables configure
the exporter (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, default ``http://localhost:4318/v1/traces``).

With tracing off (the default) nothing is imported or wrapped, so it costs nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_enabled = False


def _settings() -> tuple[bool, float, str]:
    from django.conf import settings

    return settings.TRACING_ENABLED, settings.TRACING_SAMPLE_RATE, settings.CALLMCP_ENVIRONMENT


def setup(service_name: str) -> bool:
    """Install the tracer provider and instrument the libraries, once per process. True when on.

    Call it where a process starts serving (ASGI application, Celery worker process, Lambda handler),
    after settings are loaded; in a forking server call it in each child."""
    global _enabled
    enabled, rate, environment = _settings()
    if not enabled:
        return False
    with _lock:
        if _enabled:
            return True
        _install(service_name, rate, environment)
        _enabled = True
    return True


def _install(service_name: str, rate: float, environment: str) -> None:
    from opentelemetry import propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    ratio = TraceIdRatioBased(rate)
    # The load balancer starts traces without a sampling decision: sample those at our own rate.
    sampler = ParentBased(root=ratio, remote_parent_not_sampled=ratio)
    resource = Resource.create({
        "service.name": service_name,
        "service.namespace": "callmcp",
        "deployment.environment": environment,
    })
    provider = TracerProvider(id_generator=AwsXRayIdGenerator(), sampler=sampler, resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(CompositePropagator([AwsXRayPropagator(), TraceContextTextMapPropagator()]))
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    BotocoreInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    logger.info("tracing on: service %s, sample rate %s, OTLP export", service_name, rate)


def wrap_asgi(app: Any) -> Any:
    """The ASGI application with a server span per HTTP request and WebSocket connection (per-message
    send/receive spans left out: a long MCP session would make thousands)."""
    if not _enabled:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app, excluded_urls="healthz", exclude_spans=["receive", "send"])


def shutdown() -> None:
    """Export what is buffered (end of a Lambda invocation, process exit)."""
    if not _enabled:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()


def current_xray_trace_id() -> str | None:
    """The current trace id in X-Ray's form (``1-5759e988-bd862e3fe1be46a994272793``), for log lines."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    hex_id = f"{context.trace_id:032x}"
    return f"1-{hex_id[:8]}-{hex_id[8:]}"
