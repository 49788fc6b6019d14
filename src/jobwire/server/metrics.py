"""Prometheus metrics at ``/metrics``, collected when scraped."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.exceptions import HTTPException

from .deps import Who
from .errors import ErrorResponse, error_responses
from .state import ServerState

router = APIRouter()


class _Collector:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("jobwire_jobs", "Jobs in the store by status", labels=["status"])
        for status, n in self.state.app.store.counts().items():
            jobs.add_metric([status], n)
        yield jobs
        hits = CounterMetricFamily(
            "jobwire_cache_hits", "Submits answered by a cached result", labels=["task"]
        )
        misses = CounterMetricFamily(
            "jobwire_cache_misses",
            "Submits of a task with a result cache that ran a new job",
            labels=["task"],
        )
        for task, counts in sorted(self.state.app.store.cache_stats().items()):
            hits.add_metric([task], counts.hits)
            misses.add_metric([task], counts.misses)
        yield hits
        yield misses
        worker = self.state.app.worker
        if worker is not None:
            done = CounterMetricFamily(
                "jobwire_worker_events", "Worker events in this process", labels=["event"]
            )
            for name, n in worker.stats.items():
                done.add_metric([name], n)
            yield done
            yield GaugeMetricFamily(
                "jobwire_worker_running", "Attempts running here", value=worker.running
            )
        yield GaugeMetricFamily(
            "jobwire_stream_listeners",
            "Open streams in this process",
            value=self.state.hub.listeners,
        )
        yield CounterMetricFamily(
            "jobwire_stream_deliveries",
            "Messages handed to streams",
            value=self.state.hub.delivered,
        )


@router.get(
    "/metrics",
    tags=["server"],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401),
        403: {"model": ErrorResponse, "description": "Not an admin"},
    },
)
def metrics(request: Request, who: Who) -> Response:
    """Prometheus text format. With authentication on, an admin's credential is needed (a
    scraper sends an API key made with `jobwire keys create --role admin`)."""
    if not who.admin or who.job_scope is not None:
        raise HTTPException(403, "Metrics need an admin credential")
    state: ServerState = request.app.state.jobwire
    registry = CollectorRegistry()
    registry.register(_Collector(state))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")
