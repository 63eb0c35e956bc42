"""Imports that live beside editors: each chunk commits on its own, a run stopped half-way is
finished by running it again, every revision carries its import batch, and a batch can be
listed and undone."""

import csv
import importlib
import shutil
import tempfile
import threading
import time
import unittest
from io import StringIO
from pathlib import Path
from unittest import mock

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase

from repository.importers.batches import UndoRefused, import_batch_undo
from repository.importers.sheet import SheetError, sheet_import
from repository.importers.sheet import run as sheet_run
from repository.models import Entity, ImportBatch, Incident, Revision, SourceRecord, Term
from repository.services import incident_publish
from repository.tests.base import make_document
from repository.tests.test_import_speed import sheet_of

SMALL_CHUNK = 20  # rows a chunk in these tests: many chunks from a small sheet


class Killed(BaseException):
    """The process ends here (nothing catches it, as nothing catches a SIGKILL)."""


def state():
    """The published record as an import leaves it, independent of row ids."""
    numbers = dict(Incident.objects.values_list("pk", "number"))
    incidents = {
        incident.number: (
            incident.slug,
            incident.current_revision.document,
            incident.revisions.count(),
            numbers.get(incident.merged_into_id),
        )
        for incident in Incident.objects.select_related("current_revision")
    }
    records = {
        (numbers[incident_id], source): document
        for incident_id, source, document in SourceRecord.objects.values_list(
            "incident_id", "source", "document"
        )
    }
    return {
        "incidents": incidents,
        "records": records,
        "terms": sorted(Term.objects.values_list("vocabulary__slug", "name", "slug")),
        "entities": sorted(Entity.objects.values_list("name", "kind", "slug")),
    }


@unittest.skipUnless(connection.vendor == "postgresql", "locks between connections need PostgreSQL")
@mock.patch.object(sheet_run, "CHUNK", SMALL_CHUNK)
class ImportBesideEditorsTests(TransactionTestCase):
    def setUp(self):
        # The vocabularies come with the migrations; a TransactionTestCase empties the tables.
        migration = importlib.import_module("repository.migrations.0002_vocabularies_and_search_index")
        migration.create_vocabularies(apps, None)

    def test_an_approval_during_an_import_completes_while_the_import_runs(self):
        from submissions import services
        from submissions.models import Submission

        editor, _ = services.editor_create(username="alice", email="a@example.org", password=None)
        report = services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT,
            proposed=make_document("Warehouse robot injures worker", occurred="2024", type="incident"),
        )
        data = sheet_of(6 * SMALL_CHUNK)
        inside, approved = threading.Event(), threading.Event()
        times, outcome = {}, {}
        real_publish_rows, calls = sheet_run._publish_rows, []

        def publish_rows(*args, **kwargs):
            calls.append(1)
            if len(calls) == 5:
                # The last chunks wait (before taking any lock) until the approval is done, or
                # give up after 15 s: an approval blocked by the import would not be done then.
                approved.wait(timeout=15)
            real_publish_rows(*args, **kwargs)
            if len(calls) == 3:
                # The chunk holds publishing's number lock until it commits: the approval,
                # starting now, waits for this chunk (not for the file).
                inside.set()
                time.sleep(0.5)

        def run_import():
            try:
                with mock.patch.object(sheet_run, "_publish_rows", publish_rows):
                    outcome["result"] = sheet_import(data=data)
            except Exception as exc:
                outcome["error"] = exc
            finally:
                times["import done"] = time.monotonic()
                connection.close()

        def run_approval():
            try:
                inside.wait(timeout=15)
                times["approval started"] = time.monotonic()
                outcome["approved"] = services.submission_approve(submission=report, editor=editor)
            except Exception as exc:
                outcome["approval error"] = exc
            finally:
                times["approval done"] = time.monotonic()
                approved.set()
                connection.close()

        threads = [threading.Thread(target=run_import), threading.Thread(target=run_approval)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertNotIn("error", outcome)
        self.assertNotIn("approval error", outcome)
        self.assertEqual(outcome["result"].created, 6 * SMALL_CHUNK)  # the import carried on
        self.assertLess(times["approval done"], times["import done"])
        self.assertLess(times["approval done"] - times["approval started"], 2)
        numbers = list(Incident.objects.values_list("number", flat=True))
        self.assertEqual(len(numbers), 6 * SMALL_CHUNK + 1)
        self.assertEqual(sorted(numbers), list(range(1, 6 * SMALL_CHUNK + 2)))  # no collision, no gap
        approval = Incident.objects.get(headline="Warehouse robot injures worker")
        self.assertIsNone(approval.current_revision.import_batch)


@mock.patch.object(sheet_run, "CHUNK", SMALL_CHUNK)
class StoppedRunTests(TransactionTestCase):
    def setUp(self):
        # The vocabularies come with the migrations; a TransactionTestCase empties the tables.
        migration = importlib.import_module("repository.migrations.0002_vocabularies_and_search_index")
        migration.create_vocabularies(apps, None)

    def test_a_run_killed_after_some_chunks_then_run_again_ends_as_one_clean_run(self):
        data = sheet_of(5 * SMALL_CHUNK)

        class Clean(Exception):
            pass

        with self.assertRaises(Clean), transaction.atomic():
            sheet_import(data=data)
            clean = state()
            raise Clean  # undone: the database is empty again
        self.assertFalse(Incident.objects.exists())

        real_publish_chunk, calls = sheet_run._publish_chunk, []

        def killed_at_the_third_chunk(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise Killed
            return real_publish_chunk(*args, **kwargs)

        with (
            mock.patch.object(sheet_run, "_publish_chunk", killed_at_the_third_chunk),
            self.assertRaises(Killed),
        ):
            sheet_import(data=data)
        self.assertEqual(Incident.objects.count(), 2 * SMALL_CHUNK)  # two chunks committed
        stopped = ImportBatch.objects.get()
        self.assertIsNone(stopped.finished_at)

        result = sheet_import(data=data)
        self.assertEqual((result.created, result.unchanged), (3 * SMALL_CHUNK, 2 * SMALL_CHUNK))
        self.assertEqual([f.kind for f in result.report.notes if f.kind == "run-again"], ["run-again"])
        self.assertIn(
            f"import {stopped.pk} ", str(next(f for f in result.report.notes if f.kind == "run-again"))
        )
        stopped.refresh_from_db()
        self.assertIsNotNone(stopped.finished_at)
        self.assertEqual(state(), clean)


class ImportBatchTests(TestCase):
    def setUp(self):
        self.data = sheet_of(6)

    def test_every_revision_of_an_import_carries_its_batch(self):
        result = sheet_import(data=self.data)
        batch = ImportBatch.objects.get(pk=result.batch)
        self.assertEqual((batch.source, batch.created, batch.updated), ("aiaaic", 6, 0))
        self.assertIsNotNone(batch.finished_at)
        self.assertEqual(Revision.objects.filter(import_batch=batch).count(), 6)
        self.assertFalse(Revision.objects.filter(import_batch__isnull=True).exists())

    def test_a_dry_run_changes_nothing_and_says_what_it_would(self):
        result = sheet_import(data=self.data, dry_run=True)
        self.assertTrue(result.dry_run)
        self.assertEqual(result.created, 6)
        self.assertEqual([state for state, *_rest in result.changes], ["created"] * 6)
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(ImportBatch.objects.exists())
        self.assertFalse(Term.objects.filter(name="Hartwell & Moss LLP").exists())
        out = StringIO()
        call_command("import_sheet", "--dry-run", str(self.write(self.data)), stdout=out)
        self.assertIn(
            "Dry run: nothing was changed. The import would give: Layout 2024, 6 rows: 6 created",
            out.getvalue(),
        )
        self.assertFalse(Incident.objects.exists())

    def write(self, text):
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        path = folder / "sheet.csv"
        path.write_text(text, encoding="utf-8")
        return path

    def test_a_file_that_cannot_be_read_to_its_end_changes_nothing(self):
        # A cell past the csv module's limit on its last row: the rows before it are fine, and
        # still nothing is written (the whole file is read before the first chunk).
        limit = csv.field_size_limit(1000)
        self.addCleanup(csv.field_size_limit, limit)
        broken = self.data + "AIAAIC9999," + "x" * 2000 + "\n"
        with self.assertRaisesMessage(SheetError, "The file is not valid CSV"):
            sheet_import(data=broken.encode())
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(ImportBatch.objects.exists())

    def test_undo_publishes_each_incident_back_and_removes_the_ones_it_created(self):
        sheet_import(data=self.data)
        first = {
            i.number: i.current_revision.document for i in Incident.objects.select_related("current_revision")
        }
        changed = self.data.replace("(copy 0)", "(copy 0, revised)") + sheet_of(7).splitlines()[-1] + "\n"
        second = sheet_import(data=changed)
        self.assertEqual((second.created, second.updated), (1, 1))
        published, removed = import_batch_undo(batch=ImportBatch.objects.get(pk=second.batch))
        self.assertEqual((published, removed), (1, 1))
        after = {
            i.number: i.current_revision.document for i in Incident.objects.select_related("current_revision")
        }
        self.assertEqual(after, first)  # the created incident is gone, the updated one is back
        revised = Incident.objects.get(headline__endswith="(copy 0)")
        self.assertEqual(revised.revisions.count(), 3)  # imported, revised, undone
        self.assertEqual(revised.current_revision.summary.split(":")[0], f"Undid import {second.batch}")
        self.assertIsNotNone(ImportBatch.objects.get(pk=second.batch).undone_at)
        with self.assertRaisesMessage(UndoRefused, "undone already"):
            import_batch_undo(batch=ImportBatch.objects.get(pk=second.batch))

    def test_undo_is_refused_when_an_incident_changed_since(self):
        result = sheet_import(data=self.data)
        incident = Incident.objects.select_related("current_revision").order_by("number").first()
        incident_publish(
            document={**incident.current_revision.document, "summary": "An editor's summary."},
            incident=incident,
        )
        with self.assertRaisesMessage(UndoRefused, f"1 of its incidents changed since (#{incident.number})"):
            import_batch_undo(batch=ImportBatch.objects.get(pk=result.batch))
        self.assertEqual(Incident.objects.count(), 6)
        with self.assertRaisesMessage(CommandError, "changed since"):
            call_command("import_batches", "--undo", str(result.batch), stdout=StringIO())

    def test_the_command_lists_the_batches(self):
        result = sheet_import(data=self.data)
        ImportBatch.objects.create(source="aiid", file_name="aiid-snapshot")
        out = StringIO()
        call_command("import_batches", stdout=out)
        lines = out.getvalue().splitlines()
        self.assertIn(
            "aiid-snapshot: 0 incidents; did not finish (run the import again to finish it)", lines[0]
        )
        self.assertIn(f"{result.batch}", lines[1])
        self.assertIn(": 6 incidents; 6 created, 0 updated", lines[1])
