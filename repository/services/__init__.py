"""Writes to the published record, one module per concern:

- `publishing`: every change to an incident is a revision (`incident_publish`), and revert;
- `taxonomy`: resolving names to terms and entities, keeping their spellings;
- `references`: link health and source metadata;
- `snapshots`: the dataset files;
- `merging`: two incidents that describe one event become one (`incident_merge`);
- `curation`: renaming, merging, moving and splitting terms and entities, audited and undoable;
- `synonyms`: the spellings that a search treats as one.

Callers import from `repository.services`; the modules import each other one way
(publishing uses taxonomy; merging and curation use publishing; nothing imports them but
callers).
"""

from .curation import (
    CurationRefused,
    curation_event_incidents,
    curation_undo,
    entity_incident_count,
    entity_incidents_touched,
    entity_merge,
    entity_rename,
    entity_roles_of,
    entity_split,
    placeholders_release,
    term_incident_count,
    term_incidents_touched,
    term_merge,
    term_move,
    term_rename,
)
from .merging import MergeRefused, MergeResult, incident_merge, incident_merge_undo
from .publishing import (
    IncidentMerged,
    PublishItem,
    PublishResult,
    StaleRevision,
    incident_publish,
    incident_revert,
    incident_search_refresh,
    incidents_publish,
)
from .references import (
    reference_check,
    references_check_due,
    source_metadata_fetch,
    source_metadata_request,
    source_metadata_requeue,
)
from .snapshots import (
    SNAPSHOT_LOCK,
    SnapshotInProgress,
    dataset_snapshot_create,
    dataset_snapshots_prune,
)
from .synonyms import SynonymRefused, search_synonym_add, search_synonym_remove
from .taxonomy import Taxonomy, make_slug, unique_slug

__all__ = [
    "SNAPSHOT_LOCK",
    "CurationRefused",
    "IncidentMerged",
    "MergeRefused",
    "MergeResult",
    "PublishItem",
    "PublishResult",
    "SnapshotInProgress",
    "StaleRevision",
    "SynonymRefused",
    "Taxonomy",
    "curation_event_incidents",
    "curation_undo",
    "dataset_snapshot_create",
    "dataset_snapshots_prune",
    "entity_incident_count",
    "entity_incidents_touched",
    "entity_merge",
    "entity_rename",
    "entity_roles_of",
    "entity_split",
    "incident_merge",
    "incident_merge_undo",
    "incident_publish",
    "incident_revert",
    "incident_search_refresh",
    "incidents_publish",
    "make_slug",
    "placeholders_release",
    "reference_check",
    "references_check_due",
    "search_synonym_add",
    "search_synonym_remove",
    "source_metadata_fetch",
    "source_metadata_request",
    "source_metadata_requeue",
    "term_incident_count",
    "term_incidents_touched",
    "term_merge",
    "term_move",
    "term_rename",
    "unique_slug",
]
