import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from io import StringIO
from pathlib import Path
from unittest import mock

from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from repository import documents, snapshots, tasks
from repository.importers.reports import ImportReport
from repository.importers.sheet import detect_layout
from repository.models import (
    DatasetSnapshot,
    Entity,
    EntityAlias,
    Incident,
    Revision,
    Term,
    TermAlias,
    Vocabulary,
)
from repository.services import (
    SNAPSHOT_LOCK,
    SnapshotInProgress,
    dataset_snapshot_create,
    dataset_snapshots_prune,
    incident_merge,
)
from repository.tests.base import publish

FIXTURES = Path(__file__).parent / "fixtures"


def read_csv(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def documents_by_slug():
    """{slug: the values of its document} (a CSV carries no provenance)."""
    return {
        incident.slug: documents.values_of(incident.current_revision.document)
        for incident in Incident.objects.select_related("current_revision")
    }


def identities():
    """{slug: (number, the values of its document)} of every incident."""
    return {
        incident.slug: (incident.number, documents.values_of(incident.current_revision.document))
        for incident in Incident.objects.select_related("current_revision")
    }


def wipe_published_record():
    """Empty the published record (the vocabularies stay, as in a new database)."""
    Incident.objects.update(current_revision=None)
    Revision.objects.all().delete()
    Incident.objects.all().delete()
    Term.objects.update(parent=None, merged_into=None)
    TermAlias.objects.all().delete()
    Term.objects.all().delete()
    EntityAlias.objects.all().delete()
    Entity.objects.all().delete()


class ExportDirMixin:
    def setUp(self):
        super().setUp()
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, True)
        self.export_dir = Path(directory) / "exports"
        settings = override_settings(EXPORT_DIR=self.export_dir, EXPORT_KEEP=3)
        settings.enable()
        self.addCleanup(settings.disable)

    def snapshot(self):
        with self.captureOnCommitCallbacks(execute=True):
            rows, _removed = dataset_snapshot_create()
        return {row.format: row for row in rows}

    def read(self, row):
        return (self.export_dir / row.file_name).read_bytes()


class SnapshotTests(ExportDirMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("import_sheet", str(FIXTURES / "sheet-2024.csv"), stdout=StringIO())
        cls.own = publish(
            "Council chatbot tells tenants to leave",
            occurred="March 2022 - June 2023",
            type="issue",
            released="2021",
            terms={
                "country": ["UK"],
                "sector": ["Govt - housing", "Govt - welfare"],
                "harm-individual": ["Distress"],
                "harm-legal": ["Complaint"],
                "consequence": ["Apology"],
            },
            entities={"deployer": ["Northtown Council"], "developer": ["Chatty Ltd", "Open AI"]},
            summary="Not in the sheet layout.",
            references={"news": [{"url": "https://news.example.org/council-bot", "title": "Bot"}]},
        )

    def test_it_writes_csv_and_json_with_their_size_and_sha256(self):
        rows = self.snapshot()
        self.assertEqual(set(rows), {"csv", "json"})
        for row in rows.values():
            data = self.read(row)
            self.assertEqual(row.size, len(data))
            self.assertEqual(row.sha256, hashlib.sha256(data).hexdigest())
            self.assertEqual(row.incident_count, 7)
            self.assertTrue(row.file_name.startswith("incidents-"))
        self.assertEqual(rows["csv"].created_at, rows["json"].created_at)
        self.assertEqual(
            sorted(path.name for path in self.export_dir.iterdir()),
            sorted(r.file_name for r in rows.values()),
        )

    def test_the_csv_has_the_newest_sheet_layout_first_then_every_other_field(self):
        table = read_csv(self.read(self.snapshot()["csv"]))
        report = ImportReport()
        layout = detect_layout(table, report, Vocabulary.objects.all())
        self.assertEqual((layout.name, layout.data_start), ("snapshot", 3))
        self.assertEqual(report.findings, [])  # the importer knows every column
        self.assertEqual(
            table[1][:12],
            [
                "AIAAIC ID#",
                "Headline",
                "Occurred",
                "Deployer",
                "Developer",
                "System name",
                "Technology",
                "Purpose",
                "News trigger (taxonomy)",
                "Ethical issue (taxonomy)",
                "Impacted area",
                "",
            ],
        )
        self.assertEqual(table[2][10:12], ["Jurisdiction", "Sector"])
        targets = {column.target for column in layout.columns}
        for target in ("summary", "narrative", "external_ids", "references:news", "type", "released"):
            self.assertIn(target, targets)
        self.assertEqual(len(table), 3 + 7)

    def test_an_incident_without_an_aiaaic_id_has_a_blank_id_and_its_permalink(self):
        table = read_csv(self.read(self.snapshot()["csv"]))
        header = table[1]
        row = next(row for row in table[3:] if row[1] == "Council chatbot tells tenants to leave")
        self.assertEqual(row[0], "")
        self.assertEqual(row[header.index("Occurred")], "March 2022 - June 2023")
        self.assertEqual(row[header.index("Type")], "Issue")
        self.assertTrue(row[header.index("Permalink")].endswith(f"/incidents/{self.own.slug}/"))
        self.assertIn("AIAAIC0901", [row[0] for row in table[3:]])

    def test_the_json_holds_every_current_document(self):
        items = json.loads(self.read(self.snapshot()["json"]))
        self.assertEqual(len(items), 7)
        by_slug = {item["slug"]: item for item in items}
        own = by_slug[self.own.slug]
        self.assertEqual(own["number"], self.own.number)
        stored = Revision.objects.get(pk=self.own.current_revision_id).document
        self.assertEqual(own["document"], documents.published(stored))
        self.assertEqual(own["document"]["summary"], "Not in the sheet layout.")

    def test_it_reads_the_incidents_in_chunks_and_misses_none(self):
        chunks = list(snapshots._chunks(size=2))
        self.assertEqual([len(chunk) for chunk in chunks], [2, 2, 2, 1])
        numbers = [number for chunk in chunks for number, *_rest in chunk]
        self.assertEqual(numbers, sorted(Incident.objects.values_list("number", flat=True)))

    def test_it_keeps_the_newest_snapshots_of_each_format(self):
        made = [self.snapshot() for _ in range(5)]
        kept = DatasetSnapshot.objects.all()
        self.assertEqual(kept.filter(format="csv").count(), 3)
        self.assertEqual(kept.filter(format="json").count(), 3)
        newest = {rows["csv"].file_name for rows in made[2:]} | {rows["json"].file_name for rows in made[2:]}
        self.assertEqual(set(kept.values_list("file_name", flat=True)), newest)
        self.assertEqual({path.name for path in self.export_dir.iterdir()}, newest)

    def test_two_snapshots_in_one_second_get_distinct_names(self):
        first, second = self.snapshot(), self.snapshot()
        self.assertNotEqual(first["csv"].file_name, second["csv"].file_name)

    def test_pruning_removes_leftover_temporary_files_but_not_fresh_ones(self):
        self.export_dir.mkdir(parents=True)
        old = self.export_dir / ".incidents-abc.part"
        fresh = self.export_dir / ".incidents-def.part"
        old.write_text("x")
        fresh.write_text("x")
        os.utime(old, (0, 0))
        with self.captureOnCommitCallbacks(execute=True):
            dataset_snapshots_prune(keep=3)
        self.assertFalse(old.exists())
        self.assertTrue(fresh.exists())

    def test_a_failed_write_leaves_no_file_and_no_row(self):
        with (
            mock.patch.object(snapshots, "sheet_row", side_effect=RuntimeError("disk on fire")),
            self.assertRaises(RuntimeError),
        ):
            dataset_snapshot_create()
        self.assertEqual(list(self.export_dir.iterdir()), [])
        self.assertFalse(DatasetSnapshot.objects.exists())

    def test_the_command_prints_names_sizes_and_checksums(self):
        out = StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("export_dataset", stdout=out)
        for row in DatasetSnapshot.objects.all():
            self.assertIn(row.file_name, out.getvalue())
            self.assertIn(f"{row.size:,} bytes", out.getvalue())
            self.assertIn(row.sha256, out.getvalue())

    def test_the_quick_starts_first_snapshot_is_written_once(self):
        out = StringIO()
        with self.captureOnCommitCallbacks(execute=True):
            call_command("export_dataset", "--if-none", stdout=out)
            call_command("export_dataset", "--if-none", stdout=out)
        self.assertEqual(DatasetSnapshot.objects.count(), 2)  # one CSV, one JSON
        self.assertIn("A dataset snapshot exists already", out.getvalue())

    def test_only_one_snapshot_is_written_at_a_time(self):
        cache.add(SNAPSHOT_LOCK, 1, timeout=60)
        self.addCleanup(cache.delete, SNAPSHOT_LOCK)
        with self.assertRaises(SnapshotInProgress):
            dataset_snapshot_create()
        self.assertEqual(tasks.dataset_snapshot_create.delay().result, [])
        with self.assertRaisesMessage(CommandError, "Another snapshot is being written"):
            call_command("export_dataset", stdout=StringIO())
        self.assertFalse(DatasetSnapshot.objects.exists())
        cache.delete(SNAPSHOT_LOCK)
        self.assertEqual(len(self.snapshot()), 2)
        self.assertTrue(cache.add(SNAPSHOT_LOCK, 1, timeout=60))  # released after the write

    def test_the_nightly_task_writes_a_snapshot_and_may_run_twice(self):
        with self.captureOnCommitCallbacks(execute=True):
            tasks.dataset_snapshot_create.delay()
            tasks.dataset_snapshot_create.delay()
        self.assertEqual(DatasetSnapshot.objects.count(), 4)


class RoundTripTests(ExportDirMixin, TestCase):
    def round_trip(self):
        """Snapshot as CSV, empty the record, import the CSV: the documents before and after."""
        before = documents_by_slug()
        data = self.read(self.snapshot()["csv"])
        wipe_published_record()
        path = self.export_dir / "round-trip.csv"
        path.write_bytes(data)
        output = StringIO()
        call_command("import_sheet", str(path), stdout=output)
        return before, documents_by_slug(), output.getvalue(), data

    def test_the_csv_rebuilds_identical_documents(self):
        call_command("import_sheet", str(FIXTURES / "sheet-2024.csv"), stdout=StringIO())
        publish(
            "Council chatbot tells tenants to leave",
            occurred="2023-",
            type="issue",
            released="2021; 2022",
            source_url="https://example.org/council-bot",
            summary="A summary citing https://example.org/elsewhere in its text.",
            narrative="First paragraph.\n\n## A heading\n\n- a list item; with a semicolon\n- =SUM(A1) in prose",
            terms={
                "country": ["Korea, Republic of", "UK"],
                "sector": ["Govt - housing"],
                "technology": ["Chatbot"],
                "harm-societal": ["Loss of trust"],
                "harm-financial": ["Compensation"],
            },
            entities={"deployer": ["Northtown Council"], "system": ["TenantBot"], "harmed": ["Tenants"]},
            placeholders={"developer": "Unclear/unknown", "country": "Multiple", "purpose": "Various"},
            external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0042"}, {"scheme": "aiid", "value": "77"}],
            references={
                "legal": [
                    {"url": "https://court.example.org/ruling", "title": "Ruling", "published": "2023-02"}
                ],
                "news": [
                    {
                        "url": "https://news.example.org/a",
                        "title": "=cmd|' /C calc'!A0",
                        "publisher": "+Paper",
                    }
                ],
            },
            extra={"Notes": "@checked by hand"},
        )
        publish("Exam software flags tics as cheating", occurred="12 May 2020", external_id="AIAAIC0043")
        publish("Month range", occurred="February 2021 - 2022", terms={"transparency": ["Black box"]})
        publish("-5% accuracy after update", summary="'=quoted formula already")

        before, after, output, _data = self.round_trip()
        self.assertIn("0 warnings", output)
        self.assertEqual(set(after), set(before))
        for slug, document in before.items():
            with self.subTest(slug):
                self.assertEqual(after[slug], document)

    def shared_id_incidents(self):
        """Two stories under one AIAAIC id (AIAAIC reuses ids), and one of our own."""
        publish("Police face scanner misidentifies shoppers", external_id="AIAAIC0042", occurred="2021")
        publish(
            "Chatbot gives dangerous diet advice",
            external_id="AIAAIC0042",
            occurred="2023",
            terms={"technology": ["Chatbot"]},
        )
        publish("Council chatbot tells tenants to leave", occurred="2022")
        self.assertEqual(Incident.objects.filter(external_ids__value="AIAAIC0042").count(), 2)

    def test_incidents_sharing_an_aiaaic_id_round_trip_into_an_empty_database(self):
        self.shared_id_incidents()
        Incident.objects.filter(slug__startswith="council").update(number=17)  # numbers with a gap
        before = identities()
        _docs, _after, output, _data = self.round_trip()
        self.assertIn("Snapshot read as: a restore", output)
        self.assertIn("3 created", output)
        self.assertEqual(identities(), before)

    def test_a_snapshot_back_into_its_own_installation_changes_nothing(self):
        self.shared_id_incidents()
        before, revisions = identities(), Revision.objects.count()
        path = self.export_dir / "same.csv"
        path.write_bytes(self.read(self.snapshot()["csv"]))
        output = StringIO()
        call_command("import_sheet", str(path), stdout=output)
        self.assertIn("0 created, 0 updated, 3 unchanged", output.getvalue())
        self.assertIn("Snapshot read as: this installation's", output.getvalue())
        self.assertEqual((identities(), Revision.objects.count()), (before, revisions))

    def test_a_snapshot_back_after_a_merge_leaves_the_merge_as_it_is(self):
        self.shared_id_incidents()
        path = self.export_dir / "before-merge.csv"
        path.write_bytes(self.read(self.snapshot()["csv"]))
        survivor, merged = Incident.objects.filter(external_ids__value="AIAAIC0042").order_by("number")
        incident_merge(survivor=survivor, merged=merged, editor=None)
        output = StringIO()
        call_command("import_sheet", str(path), stdout=output)
        self.assertIn("Snapshot read as: this installation's", output.getvalue())
        self.assertIn("0 created", output.getvalue())
        self.assertIn(f"incident {merged.number} was merged here into an incident row", output.getvalue())
        self.assertEqual(Incident.objects.count(), 3)  # the merged incident is not made again
        self.assertEqual(Incident.objects.get(pk=merged.pk).merged_into_id, survivor.pk)

    def test_a_snapshot_into_another_installation_is_an_ordinary_sheet(self):
        self.shared_id_incidents()
        data = self.read(self.snapshot()["csv"])
        wipe_published_record()
        # Another installation: its numbers 1-3 are other incidents.
        for headline in ("Delivery robot blocks ramp", "Voice clone scams bank", "Hiring tool ranks names"):
            publish(headline, occurred="2020")
        others = identities()
        path = self.export_dir / "other.csv"
        path.write_bytes(data)
        output = StringIO()
        call_command("import_sheet", str(path), stdout=output)
        self.assertIn("Snapshot read as: another installation's", output.getvalue())
        self.assertIn("3 created, 0 updated", output.getvalue())
        after = identities()
        for slug, (number, document) in others.items():
            self.assertEqual(after[slug], (number, document))  # left as they were
        new = {slug: number for slug, (number, _document) in after.items() if slug not in others}
        self.assertEqual(sorted(new.values()), [4, 5, 6])  # numbers of this installation
        shared = [slug for slug, (_n, document) in after.items() if "AIAAIC0042" in str(document)]
        self.assertEqual(len(shared), 2)  # still two stories, as an ordinary sheet keeps them

    def test_cells_a_spreadsheet_would_run_as_formulas_are_escaped(self):
        publish('=HYPERLINK("https://evil.example")', summary="+1 203 555", narrative="@SUM(1)")
        publish("-2 for the model", entities={"deployer": ["\tTabbed Ltd"]})
        table = read_csv(self.read(self.snapshot()["csv"]))
        cells = [cell for row in table[3:] for cell in row if cell]
        self.assertIn('\'=HYPERLINK("https://evil.example")', cells)
        self.assertIn("'+1 203 555", cells)
        self.assertIn("'@SUM(1)", cells)
        self.assertIn("'-2 for the model", cells)
        self.assertFalse([cell for cell in cells if cell[0] in "=+-@\t\r"])

    def test_the_whole_real_2024_sheet_round_trips_without_a_field_changed(self):
        # The real data as `make real-data` loads it: the sheet, and its seed page on top.
        loaded = StringIO()
        call_command("load_real_data", stdout=loaded)
        self.assertIn("1,670 sheet rows: 1,670 created", loaded.getvalue())
        seed = Incident.objects.get(slug="dahua-real-time-uyghur-warnings")
        self.assertEqual((seed.occurred, seed.aiaaic_id), ("2021-02", "AIAAIC0563"))
        self.assertIn("Amazon thermal cameras contract", seed.narrative)
        numbers = dict(Incident.objects.values_list("slug", "number"))
        before, after, output, data = self.round_trip()
        self.assertEqual(dict(Incident.objects.values_list("slug", "number")), numbers)
        self.assertEqual(len(before), 1670)
        self.assertIn("1,670 created", output)
        self.assertEqual(set(after), set(before))
        differing = [slug for slug, document in before.items() if after[slug] != document]
        self.assertEqual(differing, [])
        self.assertFalse([cell for row in read_csv(data)[3:] for cell in row if cell and cell[0] in "=+-@"])


class ExportPageTests(ExportDirMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        publish("Robot blocks ambulance", external_id="AIAAIC0905")

    def test_it_says_so_when_there_is_no_snapshot_yet(self):
        response = self.client.get(reverse("repository:export"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "No snapshot has been made yet")

    def test_it_lists_snapshots_newest_first_in_one_query(self):
        older, newer = self.snapshot(), self.snapshot()
        with self.assertNumQueries(1):  # the snapshots
            response = self.client.get("/export/")
        html = response.content.decode()
        self.assertLess(html.index(newer["csv"].file_name), html.index(older["csv"].file_name))
        for row in (*older.values(), *newer.values()):
            self.assertContains(response, row.sha256)
            self.assertContains(response, f'href="/export/{row.pk}/download/"')
        self.assertContains(response, "CSV")

    def test_a_snapshot_downloads_as_its_file(self):
        row = self.snapshot()["csv"]
        response = self.client.get(row.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(b"".join(response.streaming_content), self.read(row))
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn(f'attachment; filename="{row.file_name}"', response["Content-Disposition"])

    def test_an_unknown_snapshot_is_not_found(self):
        self.assertEqual(self.client.get("/export/999999/download/").status_code, 404)
        self.assertEqual(self.client.get("/export/../settings.py").status_code, 404)

    def test_a_snapshot_whose_file_is_gone_is_not_found(self):
        row = self.snapshot()["json"]
        (self.export_dir / row.file_name).unlink()
        self.assertEqual(self.client.get(row.get_absolute_url()).status_code, 404)

    def test_a_file_name_with_a_path_can_be_neither_stored_nor_served(self):
        with self.assertRaises(ValueError):
            snapshots.snapshot_path("../config/settings.py")
        for name in ("../settings.py", "sub/x.csv", ".hidden.csv"):
            with self.subTest(name), self.assertRaises(IntegrityError), transaction.atomic():
                DatasetSnapshot.objects.create(
                    format="csv",
                    file_name=name,
                    created_at=timezone.now(),
                    size=1,
                    sha256="0" * 64,
                    incident_count=1,
                )


class ScheduleTests(TestCase):
    def test_the_beat_schedule_names_real_tasks(self):
        from django.conf import settings

        from config.celery import app

        app.loader.import_default_modules()
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            with self.subTest(entry["task"]):
                self.assertIn(entry["task"], app.tasks)
