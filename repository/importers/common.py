"""What every importer does the same way: publishing a chunk of documents, keeping what a
source said (its `SourceRecord`), telling the other apps once the import has committed, and
the words for a document the site refuses."""

from contextlib import contextmanager, nullcontext

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..bulk import insert_rows
from ..documents import DocumentError, is_web_address
from ..models import ImportBatch, Incident, Revision, SourceRecord, statement_order
from ..periods import more_precise
from ..services import IncidentMerged, StaleRevision, incidents_publish
from ..signals import import_changes_proposed, import_identities_doubted, incidents_imported


def validate_web_address(url):
    """A source or reference link: an http(s) address (raises ValidationError otherwise)."""
    if not is_web_address(url):
        raise ValidationError("Enter a valid URL.", code="invalid")


RECORD_BATCH = 500


class ChunkRefused(Exception):
    """Publishing refused a chunk: a document the site does not take, or an incident changed
    (or merged) on the site since the import read it. `message` says which, and where."""

    def __init__(self, message, error):
        super().__init__(message)
        self.error = error


def problem_text(error):
    """One text for why a document was refused: 'terms.mood: There is no vocabulary 'mood''
    for a DocumentError (each path and its messages), the message otherwise."""
    if isinstance(error, DocumentError):
        return "; ".join(
            f"{path or 'document'}: {' '.join(messages).rstrip('.')}"
            for path, messages in error.message_dict.items()
        )
    return str(error)


def changed_meanwhile_text(where, committed=False):
    done = (
        "the chunks before it were imported; run the import again to finish it (what is imported "
        "already is left as it is)"
        if committed
        else "nothing was imported. Run the import again"
    )
    return f"{where}: an incident was changed on the site while the import ran; {done}."


def chunk_publish(*, items, taxonomy, where, import_batch=None, refresh_search=True):
    """Publish a chunk of PublishItems (`incidents_publish`); returns a PublishResult each.
    Raises ChunkRefused with one text for every importer ("rows 2-201: …") when publishing
    refuses the chunk; nothing of the chunk is written then."""
    try:
        return incidents_publish(
            items=items, taxonomy=taxonomy, refresh_search=refresh_search, import_batch=import_batch
        )
    except (StaleRevision, IncidentMerged) as exc:
        raise ChunkRefused(changed_meanwhile_text(where), exc) from None
    except DocumentError as exc:
        raise ChunkRefused(f"{where}: {problem_text(exc)}", exc) from None


def source_records(*, source, incident_ids):
    """{incident id: SourceRecord} of what `source` said of these incidents at its last import."""
    return {
        record.incident_id: record
        for record in SourceRecord.objects.filter(source=source, incident_id__in=incident_ids)
    }


def source_records_save(*, source, views, records, as_of=None):
    """Keep what `source` says now of each incident (`views`: {incident id: document}) as the
    base of its next import, one record per incident, as of the file's date (`as_of`): new
    records inserted, changed ones updated, in bulk."""
    new, changed = [], []
    for incident_id, view in views.items():
        record = records.get(incident_id)
        if record is None:
            new.append({"incident_id": incident_id, "source": source, "document": view, "as_of": as_of})
        elif record.document != view or record.as_of != as_of:
            record.document, record.as_of = view, as_of
            changed.append(record)
    insert_rows(SourceRecord, new)
    SourceRecord.objects.bulk_update(changed, ["document", "as_of"], batch_size=RECORD_BATCH)


# Statements: what a source said of an incident as of a date ------------------------------------

PERIOD_TARGETS = ("occurred", "released")


def statements_of(*, source, incident_ids):
    """{incident id: [SourceRecord]} of every statement `source` made of these incidents, in
    their order (undated first, then by date, then by the file's hash)."""
    found = {}
    for record in SourceRecord.objects.filter(source=source, incident_id__in=list(incident_ids)):
        found.setdefault(record.incident_id, []).append(record)
    for records in found.values():
        records.sort(key=lambda record: record.order)
    return found


def statements_with_others(*, source, incident_ids):
    """(statements_of(source), {incident id: [documents other sources said of it]}) in one
    query; an incident's others include what they said of the incidents merged into it."""
    ids = list(incident_ids)
    mine, others = {}, {}
    if not ids:
        return mine, others
    for record in SourceRecord.objects.filter(
        Q(incident_id__in=ids) | Q(incident__merged_into_id__in=ids)
    ).annotate(survivor=F("incident__merged_into_id")):
        if record.source == source:
            if record.incident_id in ids:
                mine.setdefault(record.incident_id, []).append(record)
        else:
            others.setdefault(record.survivor or record.incident_id, []).append(record.document)
    for records in mine.values():
        records.sort(key=lambda record: record.order)
    return mine, others


def fold_statements(statements):
    """The source's view of an incident: {target: value}, per target the value of the newest
    statement that says something of it (a blank cell says nothing, unless its statement was
    imported with --blank-clears: then it clears what older ones said). A list (the terms of
    one vocabulary, the entities of one role, the references of one section) is one value,
    taken whole. A less precise period never replaces a more precise one that it contains.

    `statements`: (as_of, file_hash, document, clears) tuples or SourceRecords, any order."""
    view = {}
    for _order, document, clears in sorted(
        (_statement_parts(statement) for statement in statements), key=lambda parts: parts[0]
    ):
        for target, value in document.items():
            if target in PERIOD_TARGETS and target in view:
                value = more_precise(view[target], value)
            view[target] = value
        for target in clears:
            if target not in document:
                view.pop(target, None)
    return view


def _statement_parts(statement):
    if isinstance(statement, SourceRecord):
        return statement.order, statement.document, statement.clears
    as_of, file_hash, document, clears = statement
    return statement_order(as_of, file_hash), document, clears


def statements_save(*, source, as_of, file_hash, statements, existing, import_batch=None):
    """Keep this file's statements (`statements`: {incident id: (document, clears)}): a new
    one inserted; the one of the same source, date and file (the file imported again)
    updated when it now says otherwise. `existing`: statements_of() of these incidents."""
    new, changed = [], []
    for incident_id, (document, clears) in statements.items():
        same = next(
            (
                record
                for record in existing.get(incident_id, ())
                if record.as_of == as_of and record.file_hash == file_hash
            ),
            None,
        )
        if same is None:
            new.append(
                {
                    "incident_id": incident_id,
                    "source": source,
                    "as_of": as_of,
                    "file_hash": file_hash,
                    "document": document,
                    "clears": sorted(clears),
                    "import_batch_id": import_batch.pk if import_batch is not None else None,
                }
            )
        elif same.document != document or same.clears != sorted(clears):
            same.document, same.clears = document, sorted(clears)
            changed.append(same)
    insert_rows(SourceRecord, new)
    SourceRecord.objects.bulk_update(changed, ["document", "clears"], batch_size=RECORD_BATCH)


def proposals_on_commit(*, proposals=(), doubts=()):
    """Once the import commits, tell the other apps of the changes editors must decide
    (`proposals`: [{"incident_id", "document", "fields", "note"}], a source's change to a value
    an editor or another source gave) and of the rows whose id named an incident whose story
    they do not tell (`doubts`: [{"incident_id", "other_incident_id", "reasons"}])."""
    proposals, doubts = list(proposals), list(doubts)
    if proposals:
        transaction.on_commit(lambda: import_changes_proposed.send(sender=Incident, proposals=proposals))
    if doubts:
        transaction.on_commit(
            lambda: import_identities_doubted.send(sender=Incident, doubts=doubts), robust=True
        )


def imported_on_commit(*, incident_ids, source):
    """Send `incidents_imported` once the transaction that published them commits (at once
    outside one), when any incident was created or changed."""
    ids = list(incident_ids)
    if ids:
        transaction.on_commit(
            lambda: incidents_imported.send(sender=Incident, incident_ids=ids, source=source)
        )


class DryRun(Exception):
    """Raised at the end of an import run with `dry_run`, to roll back all it wrote."""


@contextmanager
def import_run(*, whole):
    """The transaction around a whole import: one for all of it when `whole` (a dry run, or
    --strict, which must be able to write nothing), none otherwise (each chunk commits)."""
    with transaction.atomic() if whole else nullcontext():
        yield


def import_batch_start(*, source, file_name, report):
    """A new ImportBatch for a run of `source`, and the earlier runs of the source that never
    finished (a run stopped half-way, or one still running): this run finishes them, since an
    import run again leaves what it imported already as it is. The report says so."""
    stopped = list(
        ImportBatch.objects.filter(source=source, finished_at__isnull=True, undone_at__isnull=True).order_by(
            "pk"
        )
    )
    for batch in stopped:
        report.add(
            "run-again",
            f"import {batch.pk} ({batch.file_name or source}, started {batch.started_at:%Y-%m-%d %H:%M} UTC) "
            "did not finish (or is still running): this run finishes what it left.",
        )
    return ImportBatch.objects.create(source=source, file_name=file_name[:255]), stopped


def import_batch_finish(batch, *, stopped, created, updated, incident_ids, source):
    """Mark the run (and the stopped runs it finished) done, and tell the other apps, once
    this commits, of every incident the run (`incident_ids`) and the stopped runs created or
    changed."""
    now = timezone.now()
    ImportBatch.objects.filter(pk=batch.pk).update(finished_at=now, created=created, updated=updated)
    ids = list(incident_ids)
    if stopped:
        ImportBatch.objects.filter(pk__in=[b.pk for b in stopped], finished_at__isnull=True).update(
            finished_at=now
        )
        ids += [pk for pk in batch_incident_ids(*stopped) if pk not in set(ids)]
    imported_on_commit(incident_ids=ids, source=source)


def batch_incident_ids(*batches):
    return Revision.objects.filter(import_batch__in=batches).values_list("incident_id", flat=True).distinct()
