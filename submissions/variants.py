"""The taxonomy desk's probable variants, worked out in the background.

Finding the look-alikes of a vocabulary, of the organisations or of the systems reads every
name of it with its incident count (`repository.lookalikes`): a second at real sizes, half a
minute at 100,000 names, which no request should wait for. So a worker works them out
(`variants_refresh`) and keeps them in the cache with the published state they hold for (the
freshness token, renewed by every publish, merge and curation); the desk shows what was kept,
says when it was worked out, and asks for a new one when the record has changed since. Without
a broker (the quick start) the task runs in the request, as every task does there.
"""

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from repository import freshness
from repository.lookalikes import clusters, variant_pairs
from repository.models import Entity, Term

ENTITY_SCOPES = {Entity.Kind.ORGANISATION.value: "Organisations", Entity.Kind.SYSTEM.value: "Systems"}
KEY = "taxonomy-variants:{}"
QUEUED_KEY = "taxonomy-variants-queued:{}"
QUEUED_SECONDS = 300  # a refresh asked for once in this time, however many editors look meanwhile


def variant_rows(scope):
    """[(pk, name, incidents carrying it)] of the unmerged terms of a vocabulary (its slug) or
    the unmerged entities of a kind."""
    if scope in ENTITY_SCOPES:
        return list(
            Entity.objects.filter(kind=scope, merged_into__isnull=True)
            .annotate(n=Count("incident_entities__incident", distinct=True))
            .values_list("pk", "name", "n")
        )
    return list(
        Term.objects.filter(vocabulary__slug=scope, merged_into__isnull=True)
        .annotate(n=Count("incident_terms"))
        .values_list("pk", "name", "n")
    )


def variants_compute(scope):
    """Work out a scope's clusters and keep them: {"token", "at", "clusters"}. The token is read
    first, so a publish while this runs leaves them marked out of date."""
    token = freshness.token()
    rows = variant_rows(scope)
    names = [name for _pk, name, _n in rows]
    kept = {"token": token, "at": timezone.now(), "clusters": clusters(scope, rows, variant_pairs(names))}
    cache.set(KEY.format(scope), kept, timeout=None)
    cache.delete(QUEUED_KEY.format(scope))
    return kept


def variants_kept(scope):
    """What was kept for a scope, with `fresh` (nothing published since), or None."""
    kept = freshness.cache_get(KEY.format(scope))
    if kept is None:
        return None
    return {**kept, "fresh": kept["token"] == freshness.token()}


def variants_refresh_ask(scope):
    """Ask for a scope's clusters to be worked out again, once however many ask meanwhile."""
    from .tasks import variants_refresh  # the tasks import the services

    if cache.add(QUEUED_KEY.format(scope), 1, QUEUED_SECONDS):
        variants_refresh.delay(scope)
