"""Signals the published record sends; other apps listen (the record never imports them)."""

from django.dispatch import Signal

# Sent by the importers after a transaction that published incidents commits, with
# `incident_ids` (the incidents created or changed) and `source` ("aiaaic", "aiid", …).
incidents_imported = Signal()
