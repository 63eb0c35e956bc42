"""Prometheus metrics at /metrics, for an operator's scraper holding METRICS_TOKEN.

Two kinds:
- **Per request**, counted by `MetricsMiddleware` in each process: requests by view, method and
  status, their durations, and the page cache's hits and misses. Under gunicorn's several
  workers the values live in files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's
  multiprocess mode; gunicorn.conf.py empties it at start and forgets a worker's live gauges
  when it exits), and a scrape of any worker adds them all up.
- **The site's own state**, read from the database at scrape time by `SiteCollector` (nothing
  to hook into the code that changes it, and every process reports the same truth): proposals
  waiting by kind and age, the outbox's backlog and its oldest unsent email, notifications that
  failed and source lookups that failed, revisions published, and snapshots' age.

/metrics answers 404 unless METRICS_TOKEN is set, and 403 unless the request carries
`Authorization: Bearer <METRICS_TOKEN>`; it is never cached or compressed.
"""

import hmac
import logging
import os
import time

from django.conf import settings
from django.db.models import Count, Max, Min
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REQUESTS = Counter("airepo_http_requests_total", "Requests answered", ["view", "method", "status"])
DURATION = Histogram(
    "airepo_http_request_duration_seconds",
    "Time to answer a request, in the web process",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PAGE_CACHE = Counter(
    "airepo_page_cache_requests_total", "Public page requests by page-cache result", ["result"]
)

log = logging.getLogger(__name__)

AGE_BUCKETS = (("1h", 3600), ("1d", 86400), ("7d", 7 * 86400), ("older", None))


def view_label(request, response):
    if getattr(request, "page_cache_hit", False):
        return "page_cache"
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or "unnamed"
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


def observe(request, response, seconds):
    view = view_label(request, response)
    REQUESTS.labels(
        view,
        request.method if request.method in {"GET", "HEAD", "POST"} else "other",
        str(response.status_code),
    ).inc()
    DURATION.labels(view).observe(seconds)
    if getattr(request, "page_cache_hit", False):
        PAGE_CACHE.labels("hit").inc()
    elif getattr(request, "_page_cache_tokens", None) is not None and "public" in response.get(
        "Cache-Control", ""
    ):
        PAGE_CACHE.labels("miss").inc()  # a public page, looked for in the cache and rendered


class SiteCollector:
    """The site's state, queried when scraped (a handful of indexed counts)."""

    def collect(self):
        from repository.models import DatasetSnapshot, Revision, SourceMetadata
        from submissions.models import Notification, Submission

        now = timezone.now()
        waiting = GaugeMetricFamily(
            "airepo_proposals_waiting",
            "Proposals waiting for an editor (pending) or a contributor (needs_changes), by kind and age",
            labels=["state", "kind", "age"],
        )
        counts = {}
        for state, kind, created in Submission.objects.filter(
            state__in=[Submission.State.PENDING, Submission.State.NEEDS_CHANGES]
        ).values_list("state", "kind", "created_at"):
            age = (now - created).total_seconds()
            bucket = next(name for name, limit in AGE_BUCKETS if limit is None or age < limit)
            counts[(state, kind, bucket)] = counts.get((state, kind, bucket), 0) + 1
        for state in (Submission.State.PENDING, Submission.State.NEEDS_CHANGES):
            for kind in Submission.Kind.values:
                for bucket, _limit in AGE_BUCKETS:
                    waiting.add_metric([state, kind, bucket], counts.get((state, kind, bucket), 0))
        yield waiting

        unsent = Notification.objects.filter(sent_at__isnull=True, cancelled_at__isnull=True)
        backlog = unsent.aggregate(count=Count("id"), oldest=Min("created_at"))
        yield GaugeMetricFamily(
            "airepo_outbox_unsent", "Notifications written and not yet sent", value=backlog["count"]
        )
        yield GaugeMetricFamily(
            "airepo_outbox_oldest_unsent_seconds",
            "Age of the oldest unsent notification (0 when none)",
            value=(now - backlog["oldest"]).total_seconds() if backlog["oldest"] else 0,
        )
        yield GaugeMetricFamily(
            "airepo_outbox_failing",
            "Unsent notifications whose last attempt failed",
            value=unsent.exclude(last_error="").count(),
        )
        yield GaugeMetricFamily(
            "airepo_source_lookups_failed",
            "Source metadata lookups that failed",
            value=SourceMetadata.objects.filter(status=SourceMetadata.Status.FAILED).count(),
        )
        publishes = CounterMetricFamily("airepo_revisions_published", "Revisions published, ever")
        publishes.add_metric([], Revision.objects.count())
        yield publishes
        newest = DatasetSnapshot.objects.aggregate(newest=Max("created_at"))["newest"]
        yield GaugeMetricFamily(
            "airepo_snapshot_age_seconds",
            "Age of the newest dataset snapshot (-1 when there is none)",
            value=(now - newest).total_seconds() if newest else -1,
        )


def registry():
    """What a scrape reports: every worker's request metrics (or this process's) and the site's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        found = CollectorRegistry()
        multiprocess.MultiProcessCollector(found)
    else:
        found = CollectorRegistry()
        for collector in (REQUESTS, DURATION, PAGE_CACHE):
            found.register(collector)
    found.register(SiteCollector())
    return found


@never_cache
def metrics_view(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return HttpResponseForbidden("A bearer token is needed.\n", content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every request (outermost but for the request id, so it sees them all)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        try:
            observe(request, response, time.perf_counter() - started)
        except Exception:  # a metric must never cost a reader their page
            log.exception("Could not record the request's metrics")
        return response
