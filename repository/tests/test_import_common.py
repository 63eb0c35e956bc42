"""What the importers share (repository.importers.common) and the sheet's table of column
readers (repository.importers.sheet.columns)."""

from collections import Counter
from pathlib import Path

from django.db import transaction
from django.test import TestCase

from repository import documents
from repository.importers.common import (
    imported_on_commit,
    problem_text,
    source_records,
    source_records_save,
)
from repository.importers.pages import page_import, read_pages
from repository.importers.reports import ImportReport
from repository.importers.sheet import parse_row
from repository.importers.sheet.columns import (
    NAMES_READER,
    UNKNOWN_READER,
    Cell,
    LinksReader,
    reader_for,
)
from repository.importers.sheet.layout import Column, SheetLayout
from repository.models import Incident, SourceRecord
from repository.services import PublishItem, incident_publish, incidents_publish
from repository.sheetformat import COLUMN_NAMES
from repository.signals import incidents_imported
from repository.tests.base import make_document

PAGE = Path(__file__).parent / "fixtures" / "pages" / "welfare-fraud-algorithm-flags-single-parents.txt"


class Heard:
    def __init__(self, test):
        self.calls = []
        incidents_imported.connect(self)
        test.addCleanup(incidents_imported.disconnect, self)

    def __call__(self, sender, incident_ids, source, **kwargs):
        self.calls.append((sorted(incident_ids), source))


class ImportedSignalTests(TestCase):
    def test_the_page_import_tells_the_other_apps_only_once_it_has_committed(self):
        heard = Heard(self)
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            results = page_import(pages=read_pages([PAGE]))
        self.assertEqual(heard.calls, [])  # not before the commit
        for callback in callbacks:
            callback()
        self.assertEqual(heard.calls, [([results[0][1].incident.pk], "aiaaic")])

    def test_a_page_import_rolled_back_by_its_caller_tells_no_one(self):
        heard = Heard(self)

        class Undone(Exception):
            pass

        with self.captureOnCommitCallbacks(execute=True), self.assertRaises(Undone), transaction.atomic():
            page_import(pages=read_pages([PAGE]))
            raise Undone
        self.assertEqual(heard.calls, [])
        self.assertFalse(Incident.objects.exists())

    def test_nothing_is_sent_when_nothing_changed(self):
        heard = Heard(self)
        with self.captureOnCommitCallbacks(execute=True):
            imported_on_commit(incident_ids=[], source="aiid")
        self.assertEqual(heard.calls, [])


class SourceRecordTests(TestCase):
    def test_records_are_inserted_then_updated_only_when_the_source_says_something_else(self):
        document = {**documents.empty_document(), "headline": "Chatbot leaks records", "type": "incident"}
        one = incident_publish(document=document).incident
        two = incident_publish(document={**document, "headline": "Chatbot leaks more records"}).incident
        source_records_save(source="aiid", views={one.pk: {"a": 1}, two.pk: {"b": 2}}, records={})
        records = source_records(source="aiid", incident_ids=[one.pk, two.pk])
        self.assertEqual({pk: r.document for pk, r in records.items()}, {one.pk: {"a": 1}, two.pk: {"b": 2}})
        with self.assertNumQueries(1):  # the one changed record (nothing to insert)
            source_records_save(source="aiid", views={one.pk: {"a": 1}, two.pk: {"b": 3}}, records=records)
        self.assertEqual(SourceRecord.objects.get(incident=two, source="aiid").document, {"b": 3})
        self.assertEqual(source_records(source="aaiaic", incident_ids=[one.pk]), {})


class ProblemTextTests(TestCase):
    def test_a_refused_document_reads_the_same_in_every_importer(self):
        error = documents.DocumentError({"terms.mood": ["There is no vocabulary 'mood'."], "": ["Bad."]})
        self.assertEqual(problem_text(error), "terms.mood: There is no vocabulary 'mood'; document: Bad")
        self.assertEqual(problem_text(ValueError("plain")), "plain")


class ColumnReaderTests(TestCase):
    def test_every_column_the_table_names_has_its_own_reader(self):
        for target in COLUMN_NAMES:
            if target == "external_id":
                continue  # read by parse_row itself: the row's identity
            reader = reader_for(target)
            if target.startswith(("terms:", "entities:")):
                self.assertIs(reader, NAMES_READER, target)
            else:
                self.assertIsNot(reader, NAMES_READER, target)
                self.assertIsNot(reader, UNKNOWN_READER, target)

    def test_a_links_cell_gives_a_source_more_references_and_text(self):
        report = ImportReport()
        column = Column(3, "Description/links", "", "source")
        cell = Cell(column, 7, report)
        reader = LinksReader(required=True)
        values = {}
        reader.assign(
            reader.clean("See https://a.example/x and https://b.example/y here", cell), values, "source"
        )
        self.assertEqual(
            values,
            {
                "source_url": "https://a.example/x",
                "more_urls": ["https://b.example/y"],
                "summary": "See and here",
            },
        )
        with self.assertRaisesMessage(ValueError, "is not a web address"):
            reader.clean("no address", cell)

    def test_the_loop_runs_the_readers_and_reports_a_cell_left_out(self):
        layout = SheetLayout(
            "other",
            [
                Column(0, "ID", "", "external_id"),
                Column(1, "Headline", "", "headline"),
                Column(2, "Type", "", "type"),
                Column(3, "Country", "", "terms:country"),
                Column(4, "Notes", "", ""),
            ],
            data_start=1,
        )
        report = ImportReport()
        row = parse_row(
            ["AIAAIC0001", "'=Robot fails", "gadget", "USA, UK", "kept"], 2, layout, report, Counter()
        )
        self.assertEqual(row.external_id, "AIAAIC0001")
        self.assertEqual(row.values["headline"], "=Robot fails")  # the snapshot's escape taken away
        self.assertEqual(row.values["terms:country"], ["USA", "UK"])
        self.assertEqual(row.values["extra"], {"Notes": "kept"})
        self.assertNotIn("type", row.values)
        self.assertEqual([f.kind for f in report.warnings], ["unreadable-cell"])
        self.assertIn("'gadget' is not a type", str(report.warnings[0]))


class NumbersFromPublishingTests(TestCase):
    def test_publishing_grants_the_numbers_asked_for_when_free_and_says_which_were_not(self):
        taken = incident_publish(document=make_document("An incident already here")).incident
        items = [
            PublishItem(document=make_document("Asks for a free number"), number=40),
            PublishItem(document=make_document("Asks for a number in use"), number=taken.number),
            PublishItem(document=make_document("Asks for the number another item got"), number=40),
            PublishItem(document=make_document("Asks for nothing")),
        ]
        results = incidents_publish(items=items)
        self.assertEqual([r.incident.number for r in results], [40, 41, 42, 43])
        self.assertEqual([r.number_refused for r in results], [None, taken.number, 40, None])
