"""What a proposal does, and which pending proposals look like it, worked out once when it is
stored (never on each view of the queue).

- Its effect: a short line a queue row shows ("adds 1 source", "changes Summary and
  Technology", "new incident", "merge pair") and a kind to filter on.
- Its sources: the normalised addresses of the references it adds, and which of them the
  incident already cites or another pending proposal for the same incident already proposes
  (the contributor is told, kindly, on their status page).
- Its group: pending proposals for the same incident that add the same source, or reports of
  a new incident that share a source page or have look-alike headlines, share a group
  key; the queue shows them together.
"""

from repository import documents

from .duplicates.similarity import headline_likeness
from .duplicates.words import headline_words
from .models import Submission

LOOKALIKE_HEADLINE = 0.75  # how alike two pending reports' headlines are (duplicates.similarity)
SHOWN_LABELS = 3  # fields named in a row's line before "and 2 more"


def _listed(labels):
    if len(labels) > SHOWN_LABELS:
        labels = [*labels[:SHOWN_LABELS], f"{len(labels) - SHOWN_LABELS} more"]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def proposal_effect(*, kind, base, proposed, labels=None):
    """(effect kind, line) for a proposal: what a queue row says it does."""
    if kind == Submission.Kind.MERGE:
        return Submission.Effect.MERGE, "merge pair"
    if kind == Submission.Kind.NEW_INCIDENT:
        return Submission.Effect.NEW, "new incident"
    changes = documents.diff(base, proposed, labels)
    sources = [change for change in changes if change.path.startswith("references.")]
    fields = [change.label for change in changes if not change.path.startswith("references.")]
    added = sum(len(change.added) for change in sources)
    removed = sum(len(change.removed) for change in sources)
    parts = []
    if fields:
        parts.append(f"changes {_listed(fields)}")
    if added:
        parts.append(f"adds {_count(added, 'source')}")
    if removed:
        parts.append(f"removes {_count(removed, 'source')}")
    if not parts:
        return Submission.Effect.INSIGHT, "shares an insight, no change"
    return (Submission.Effect.FIELDS if fields else Submission.Effect.SOURCES), "; ".join(parts)


def _reference_keys(document):
    return [
        documents.reference_key(reference)
        for references in (document or {}).get("references", {}).values()
        for reference in references
        if isinstance(reference, dict) and reference.get("url")
    ]


def added_source_keys(*, base, proposed):
    """The normalised addresses of the sources `proposed` cites and `base` does not."""
    have = set(_reference_keys(base))
    return sorted({key for key in _reference_keys(proposed) if key not in have})


def _url(reference):
    return reference if isinstance(reference, str) else (reference or {}).get("url") or ""


def sources_already_known(*, base, sent, incident_id, exclude=None):
    """The sources a proposal sends (as typed, before they are read as one) that the incident
    already cites or that another pending proposal for it already proposes:
    [{"url", "where": "page" | "proposal", "submission": id or None}]. One query."""
    have = set(_reference_keys(base))
    flagged, seen = [], set()
    references = sent.get("references") if isinstance(sent, dict) else None
    sent = [
        _url(reference).strip()
        for items in (references.values() if isinstance(references, dict) else [])
        for reference in (items if isinstance(items, list) else [])
        if _url(reference).strip()
    ]
    base_urls = {
        reference["url"]
        for references in (base or {}).get("references", {}).values()
        for reference in references
    }
    new = []
    for url in sent:
        key = documents.reference_key({"url": url})
        if url in base_urls or key in seen:
            continue
        seen.add(key)
        if key in have:
            flagged.append({"url": url, "where": "page", "submission": None})
        else:
            new.append((url, key))
    if new and incident_id is not None:
        others = (
            Submission.objects.filter(
                state=Submission.State.PENDING, kind=Submission.Kind.IMPROVEMENT, incident_id=incident_id
            )
            .exclude(pk=exclude)
            .order_by("created_at", "id")
            .values_list("pk", "source_keys")
        )
        proposed_by = {}
        for pk, keys in others:
            for key in keys or []:
                proposed_by.setdefault(key, pk)
        for url, key in new:
            if key in proposed_by:
                flagged.append({"url": url, "where": "proposal", "submission": proposed_by[key]})
    return flagged


def _report_keys(headline, source_url, references):
    urls = [source_url or ""]
    for items in (references or {}).values() if isinstance(references, dict) else []:
        urls += [item.get("url", "") for item in items if isinstance(item, dict)]
    pages = {documents.reference_key({"url": url}) for url in urls if url}
    return headline if isinstance(headline, str) else "", {page for page in pages if "/" in page}


def _alike(a, b):
    (headline_a, pages_a), (headline_b, pages_b) = a, b
    if pages_a & pages_b:
        return True
    if len(headline_words(headline_a) | headline_words(headline_b)) < 2:
        return False
    return headline_likeness(headline_a, headline_b) >= LOOKALIKE_HEADLINE


def group_key_for(submission):
    """The group key `submission` joins (an existing group's, or a new one shared with the
    first look-alike found), or "" when nothing pending looks like it. Sets the look-alike's
    key too when it had none. One query, and one update at most."""
    if submission.kind == Submission.Kind.MERGE:
        return ""
    pending = Submission.objects.filter(state=Submission.State.PENDING, kind=submission.kind).exclude(
        pk=submission.pk
    )
    match = None
    if submission.kind == Submission.Kind.IMPROVEMENT:
        mine = set(submission.source_keys)
        if not mine:
            return ""
        rows = pending.filter(incident_id=submission.incident_id).order_by("created_at", "id")
        for pk, keys, group_key in rows.values_list("pk", "source_keys", "group_key"):
            if mine & set(keys or []):
                match = (pk, group_key)
                break
    else:
        proposed = submission.proposed
        mine = _report_keys(proposed.get("headline"), proposed.get("source_url"), proposed.get("references"))
        rows = pending.order_by("created_at", "id").values_list(
            "pk", "proposed__headline", "proposed__source_url", "proposed__references", "group_key"
        )
        for pk, headline, source_url, references, group_key in rows:
            if _alike(mine, _report_keys(headline, source_url, references)):
                match = (pk, group_key)
                break
    if match is None:
        return ""
    pk, group_key = match
    if not group_key:
        group_key = f"g{pk}"
        Submission.objects.filter(pk=pk).update(group_key=group_key)
    return group_key


def group_members(keys):
    """{group key: [pending submission ids]} for these keys (a page of queue rows). One query,
    served by the submissions_pending_groups index; none when no row has a group."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    groups = {}
    rows = Submission.objects.filter(state=Submission.State.PENDING, group_key__in=keys).order_by("id")
    for key, pk in rows.values_list("group_key", "pk"):
        groups.setdefault(key, []).append(pk)
    return groups
