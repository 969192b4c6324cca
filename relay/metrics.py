"""Prometheus metrics and the /metrics + /healthz HTTP listener.

Every relay has its own CollectorRegistry (tests run several relays in one process). The
listener is a small asyncio HTTP/1.0 server on the relay's own event loop; scraping runs the
exposition (which counts the quarantine folder) in a thread, so a slow disk never stalls SMTP.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from relay.policy.engine import Evaluation

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _QuarantineSize:
    """Counts held messages (<id>.json files) at scrape time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def collect(self) -> Any:
        try:
            count = sum(1 for e in os.scandir(self.folder) if e.name.endswith(".json"))
        except OSError:
            count = 0
        yield GaugeMetricFamily("bsm_quarantine_messages", "Messages held in quarantine", count)


class Metrics:
    def __init__(self, quarantine_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("bsm_messages", "Messages by outcome", ["action"], registry=r)
        self.findings = Counter(
            "bsm_findings", "Findings by rule and action", ["rule", "action"], registry=r
        )
        self.upstream = Counter(
            "bsm_upstream_replies",
            "Upstream replies by class (2xx, 4xx, 5xx, error)",
            ["class"],
            registry=r,
        )
        self.envelope_rejects = Counter(
            "bsm_envelope_rejects",
            "Refusals at MAIL FROM or RCPT TO",
            ["stage", "rule"],
            registry=r,
        )
        self.refusals = Counter(
            "bsm_refusals",
            "Sessions and transactions refused by the access limits",
            ["reason"],
            registry=r,
        )
        self.inspect_seconds = Histogram(
            "bsm_inspect_seconds",
            "Parsing and policy per message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.deliver_seconds = Histogram(
            "bsm_deliver_seconds",
            "Upstream delivery or quarantine per message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.message_seconds = Histogram(
            "bsm_message_seconds", "End of DATA to reply", buckets=LATENCY_BUCKETS, registry=r
        )
        self.sessions = Gauge("bsm_open_sessions", "SMTP sessions open now", registry=r)
        self.policy_reloads = Counter(
            "bsm_policy_reloads", "SIGHUP reloads by result", ["result"], registry=r
        )
        if quarantine_dir is not None:
            r.register(_QuarantineSize(quarantine_dir))

    def message(self, action: str, ev: Evaluation, upstream_code: int | None,
                inspect: float, deliver: float) -> None:  # fmt: skip
        self.messages.labels(action).inc()
        for f in ev.verdict.findings:
            self.findings.labels(f.rule, str(f.action)).inc()
        if upstream_code is not None:
            self.upstream.labels(f"{upstream_code // 100}xx" if upstream_code else "error").inc()
        self.inspect_seconds.observe(inspect)
        self.deliver_seconds.observe(deliver)
        self.message_seconds.observe(inspect + deliver)

    def envelope(self, stage: str, rule: str) -> None:
        self.envelope_rejects.labels(stage, rule).inc()

    def refusal(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


class NullMetrics(Metrics):
    """Metrics that nobody scrapes (tests of the pipeline alone)."""


class MetricsServer:
    """GET /metrics (Prometheus text format) and GET /healthz (JSON, 200 or 503)."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict[str, Any]]) -> None:
        self.metrics = metrics
        self.health = health
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await asyncio.start_server(self._serve, host, port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)).strip():
                pass  # headers: nothing here needs them
            parts = request.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path.startswith("/metrics"):
                body = await asyncio.to_thread(self.metrics.exposition)
                status, ctype = "200 OK", CONTENT_TYPE_LATEST
            elif path.startswith("/healthz"):
                report = self.health()
                status = "200 OK" if report.get("status") == "ok" else "503 Service Unavailable"
                body, ctype = (json.dumps(report) + "\n").encode(), "application/json"
            else:
                status, ctype, body = (
                    "404 Not Found",
                    "text/plain",
                    b"not found: /metrics, /healthz\n",
                )
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, OSError):
            pass  # a client that hangs up or never finishes its request gets nothing
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
