"""What every importer does the same way: publishing a chunk of documents, keeping what a
source said (its `SourceRecord`), telling the other apps once the import has committed, and
the words for a document the site refuses."""

from django.core.validators import URLValidator
from django.db import transaction

from ..bulk import insert_rows
from ..documents import DocumentError
from ..models import Incident, SourceRecord
from ..services import IncidentMerged, StaleRevision, incidents_publish
from ..signals import incidents_imported

# A source or reference link: an http(s) address (raises ValidationError otherwise).
validate_web_address = URLValidator(schemes=["http", "https"])

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


def changed_meanwhile_text(where):
    return f"{where}: an incident was changed on the site while the import ran; nothing was imported. Run the import again."


def chunk_publish(*, items, taxonomy, where, refresh_search=True):
    """Publish a chunk of PublishItems (`incidents_publish`); returns a PublishResult each.
    Raises ChunkRefused with one text for every importer ("rows 2-201: …") when publishing
    refuses the chunk; nothing of the chunk is written then."""
    try:
        return incidents_publish(items=items, taxonomy=taxonomy, refresh_search=refresh_search)
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


def source_records_save(*, source, views, records):
    """Keep what `source` says now of each incident (`views`: {incident id: document}) as the
    base of its next import: new records inserted, changed ones updated, in bulk."""
    new, changed = [], []
    for incident_id, view in views.items():
        record = records.get(incident_id)
        if record is None:
            new.append({"incident_id": incident_id, "source": source, "document": view})
        elif record.document != view:
            record.document = view
            changed.append(record)
    insert_rows(SourceRecord, new)
    SourceRecord.objects.bulk_update(changed, ["document"], batch_size=RECORD_BATCH)


def imported_on_commit(*, incident_ids, source):
    """Send `incidents_imported` once the transaction that published them commits (at once
    outside one), when any incident was created or changed."""
    ids = list(incident_ids)
    if ids:
        transaction.on_commit(
            lambda: incidents_imported.send(sender=Incident, incident_ids=ids, source=source)
        )
