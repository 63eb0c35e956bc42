"""Signals the published record sends; other apps listen (the record never imports them)."""

from django.dispatch import Signal

# Sent by the importers after a transaction that published incidents commits, with
# `incident_ids` (the incidents created or changed) and `source` ("aiaaic", "aiid", …).
incidents_imported = Signal()

# Sent by the importers after a transaction commits, with `proposals`: [{"incident_id",
# "document", "fields", "note"}]: a source changed a value that an editor (or another source)
# gave since; the change is for editors to decide (the incident keeps its value meanwhile).
import_changes_proposed = Signal()

# Sent by the importers after a transaction commits, with `doubts`: [{"incident_id",
# "other_incident_id", "reasons": [{"kind", "text"}]}]: a row carried the id of an incident
# whose story it does not tell, and became an incident of its own; editors may merge the two.
import_identities_doubted = Signal()
