"""Link health of references and what sources say about themselves (title, publisher, date).

The tasks import this module, so it imports them where they are used.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .. import fetching, freshness
from ..metadata import host_name, parse_metadata
from ..models import Reference, SourceMetadata
from .queueing import enqueue_on_commit


def _health_shown(reference):
    """What the incident page shows of a link's health: broken or not, and the error status."""
    return (reference.is_broken, reference.status_code if reference.is_broken else None)


def reference_check(*, reference, force=False, final_attempt=True):
    """Check a reference's link and record what happened: status, final URL, when, error.

    HEAD first; GET when HEAD fails or answers an error (many servers refuse HEAD with 405,
    501 or 403). A reference checked within LINK_CHECK_INTERVAL_DAYS is left alone unless
    `force`, so running twice is harmless. A network error (timeout, connection) is raised
    for the task to retry, and recorded only on the `final_attempt`.
    """
    now = timezone.now()
    fresh_after = now - timedelta(days=settings.LINK_CHECK_INTERVAL_DAYS)
    if not force and reference.checked_at and reference.checked_at > fresh_after:
        return reference
    status, final_url, error = None, "", ""
    try:
        try:
            result = fetching.fetch(reference.url, method="HEAD")
        except (
            fetching.FetchRefused,
            fetching.FetchTooManyRedirects,
            fetching.FetchTimeout,
            fetching.FetchHostBusy,
        ):
            raise
        except fetching.FetchError:
            result = None  # some servers drop the connection on HEAD: GET decides
        if result is None or result.status >= 400:
            result = fetching.fetch(reference.url, method="GET", max_bytes=0)
        status, final_url = result.status, result.final_url
    except fetching.FetchNetworkError as exc:
        if not final_attempt:
            raise
        error = str(exc)
    except fetching.FetchError as exc:
        error = str(exc)
    shown_before = _health_shown(reference)
    fields = {
        "checked_at": now,
        "status_code": status if status is not None and status < 1000 else None,
        "final_url": final_url if len(final_url) <= 2000 else "",
        "check_error": error[:300],
    }
    for field, value in fields.items():
        setattr(reference, field, value)
    # A conditional update: a publish may have removed the reference while we fetched.
    updated = Reference.objects.filter(pk=reference.pk, url=reference.url).update(**fields)
    if updated and shown_before != _health_shown(reference):
        # The incident page marks broken links: pages kept for readers must follow. Only a
        # change of what it shows renews the token, not every check, so checks that find
        # nothing new leave every cached page in place.
        freshness.changed()
    return reference


def references_check_due(*, limit=None):
    """Queue link checks (after commit) for the references most in need: never checked
    first, then those checked longest ago, at most `limit` (LINK_CHECK_BATCH_SIZE).
    Returns the ids queued. Two indexed queries, whatever the size of the table."""
    from .. import tasks

    limit = limit or settings.LINK_CHECK_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=settings.LINK_CHECK_INTERVAL_DAYS)
    ids = list(
        Reference.objects.filter(checked_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit]
    )
    if len(ids) < limit:
        ids += list(
            Reference.objects.filter(checked_at__lt=cutoff)
            .order_by("checked_at", "id")
            .values_list("id", flat=True)[: limit - len(ids)]
        )
    enqueue_on_commit(tasks.reference_check, ids)
    return ids


def source_metadata_request(*, urls):
    """Make sure each URL has a SourceMetadata row and queue a fetch (after commit) for those
    not fetched yet. Returns {url: SourceMetadata}. For the submission forms."""
    from .. import tasks

    urls = [url.strip() for url in urls if url and url.strip()]
    urls = list(dict.fromkeys(url for url in urls if len(url) <= 2000))
    SourceMetadata.objects.bulk_create([SourceMetadata(url=url) for url in urls], ignore_conflicts=True)
    rows = {row.url: row for row in SourceMetadata.objects.filter(url__in=urls)}
    enqueue_on_commit(
        tasks.source_metadata_fetch,
        [row.pk for row in rows.values() if row.status != SourceMetadata.Status.FETCHED],
    )
    return rows


def source_metadata_requeue(*, now=None, limit=100):
    """Queue again the lookups still pending a while after they were asked for (the broker
    may have been down then). Returns the ids queued."""
    from .. import tasks

    cutoff = (now or timezone.now()) - timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER)
    ids = list(
        SourceMetadata.objects.filter(status=SourceMetadata.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue_on_commit(tasks.source_metadata_fetch, ids)
    return ids


def source_metadata_fetch(*, url, refresh=False, final_attempt=True):
    """Fetch what the page at `url` says about itself and store it, once per URL (again only
    with `refresh`). Returns the SourceMetadata row. A network error is raised for the task
    to retry, and recorded as a failure only on the `final_attempt`."""
    row, _ = SourceMetadata.objects.get_or_create(url=url.strip())
    if row.status == SourceMetadata.Status.FETCHED and not refresh:
        return row
    values = {
        "title": "",
        "publisher": "",
        "published": "",
        "final_url": "",
        "status_code": None,
        "error": "",
    }
    try:
        result = fetching.fetch(row.url, method="GET", truncate=True)
    except fetching.FetchNetworkError as exc:
        if not final_attempt:
            raise
        values.update(status=SourceMetadata.Status.FAILED, error=str(exc)[:300])
    except fetching.FetchError as exc:
        values.update(status=SourceMetadata.Status.FAILED, error=str(exc)[:300])
    else:
        values.update(final_url=result.final_url[:2000], status_code=min(result.status, 999))
        if result.status >= 400:
            values.update(
                status=SourceMetadata.Status.FAILED, error=f"The page answered HTTP {result.status}"
            )
        elif result.content_type in {"", "text/html", "application/xhtml+xml"}:
            page = parse_metadata(result.body, url=result.final_url, charset=result.charset)
            values.update(
                status=SourceMetadata.Status.FETCHED,
                title=page.title,
                publisher=page.publisher,
                published=page.published,
            )
        else:  # a PDF, an image…: nothing to read but who serves it
            values.update(status=SourceMetadata.Status.FETCHED, publisher=host_name(result.final_url)[:200])
    for field, value in values.items():
        setattr(row, field, value)
    row.fetched_at = timezone.now()
    row.save(update_fields=[*values, "fetched_at"])
    return row
