"""The restore drill: back up a site with something of everything, destroy it, restore it, and
find every row and document as it was; verifying a backup touches nothing."""

import shutil
import tempfile
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TransactionTestCase, override_settings

from repository.backups import BackupError, backup_create, backup_restore, backup_verify, database_table_stats
from repository.models import CurationEvent, DatasetSnapshot, Incident, Revision, Term
from repository.services import dataset_snapshot_create, incident_merge
from repository.services.curation import term_rename
from repository.tests.base import publish
from submissions import services
from submissions.models import ModerationEvent, Notification, Submission


def documents():
    """Every incident's slug, number, merge and current document, and every revision's."""
    incidents = {
        incident.slug: (incident.number, incident.merged_into_id, incident.current_revision.document)
        for incident in Incident.objects.select_related("current_revision")
    }
    revisions = sorted(Revision.objects.values_list("incident__slug", "number", "document"), key=str)
    return incidents, revisions


class RestoreDrillTests(TransactionTestCase):
    def setUp(self):
        # The vocabularies a migration creates are gone after an earlier test's flush.
        import importlib

        from django.apps import apps

        importlib.import_module(
            "repository.migrations.0002_vocabularies_and_search_index"
        ).create_vocabularies(apps, None)
        folder = Path(tempfile.mkdtemp(prefix="airepo-backup-test-"))
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        self.exports, self.backups = folder / "exports", folder / "backups"
        settings = override_settings(EXPORT_DIR=self.exports)
        settings.enable()
        self.addCleanup(settings.disable)

        editor, _ = services.editor_create(username="edith", email="edith@example.org", password="x" * 20)
        camera = publish(
            "Camera system flags an ethnic minority to police",
            slug="camera-flags-minority",
            occurred="February 2021",
            terms={"country": ["China"], "technology": ["Facial recognition"]},
            entities={"deployer": ["Acme Retail"]},
        )
        publish("Camera flags minority, again reported", slug="camera-again", occurred="2021")
        robot = publish("Delivery robot blocks an ambulance", slug="robot-blocks-ambulance", occurred="2024")
        # Proposals: pending, sent back for changes, a report; their emails wait in the outbox.
        document = camera.current_revision.document
        services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=camera,
            proposed={**document, "summary": "A better summary."},
            insight="The summary misses the police's role.",
            email="contributor@example.org",
        )
        sent_back = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=robot,
            proposed={**robot.current_revision.document, "summary": "Robot and ambulance."},
            email="other@example.org",
        )
        services.submission_claim(submission=sent_back, editor=editor)
        services.submission_ask_changes(submission=sent_back, editor=editor, note="Add a source, please.")
        services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT, proposed={**document, "headline": "Drone films a festival"}
        )
        # A merge and a curation.
        incident_merge(survivor=camera, merged=Incident.objects.get(slug="camera-again"), editor=editor)
        term_rename(term=Term.objects.get(name="Facial recognition"), name="Face recognition", editor=editor)
        # A dataset snapshot, one of whose files is lost before the backup.
        csv_row, json_row = sorted(dataset_snapshot_create()[0], key=lambda row: row.format)
        (self.exports / csv_row.file_name).unlink()
        self.json_file = json_row.file_name

    def test_a_destroyed_site_comes_back_whole_from_its_backup(self):
        self.assertEqual(Submission.objects.filter(state=Submission.State.PENDING).count(), 2)
        self.assertEqual(Submission.objects.filter(state=Submission.State.NEEDS_CHANGES).count(), 1)
        self.assertTrue(Notification.objects.exists())
        self.assertTrue(CurationEvent.objects.exists())
        self.assertTrue(Incident.objects.filter(merged_into__isnull=False).exists())
        before_documents = documents()
        before_tables = database_table_stats()
        counts = {
            model.__name__: model.objects.count()
            for model in (Incident, Revision, Submission, ModerationEvent, Notification, CurationEvent)
        }

        path, manifest = backup_create(destination=self.backups)
        self.assertEqual(manifest["tables"], before_tables)
        self.assertEqual([entry["name"] for entry in manifest["exports"]], [self.json_file])
        manifest, differences = backup_verify(source=path)
        self.assertEqual(differences, [])

        # Destroy: every table, and the exports.
        cascade = " CASCADE" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA foreign_keys = OFF")
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}{cascade}")
        shutil.rmtree(self.exports)
        self.assertEqual(connection.introspection.table_names(), [])

        manifest, differences, rebuilt = backup_restore(source=path)
        self.assertEqual(differences, [])
        self.assertEqual(documents(), before_documents)
        self.assertEqual(
            {
                name: stats
                for name, stats in database_table_stats().items()
                if name != "repository_datasetsnapshot"
            },
            {name: stats for name, stats in before_tables.items() if name != "repository_datasetsnapshot"},
        )
        self.assertEqual(
            counts,
            {
                model.__name__: model.objects.count()
                for model in (Incident, Revision, Submission, ModerationEvent, Notification, CurationEvent)
            },
        )
        # The snapshot file that was lost is rebuilt; the one backed up is back as it was.
        self.assertEqual(len(rebuilt), 2)
        for snapshot in DatasetSnapshot.objects.all():
            self.assertTrue((self.exports / snapshot.file_name).is_file(), snapshot.file_name)
        self.assertTrue((self.exports / self.json_file).is_file())
        self.assertEqual(set(DatasetSnapshot.objects.values_list("format", flat=True)), {"csv", "json"})

    def test_restore_refuses_a_database_in_use_unless_told_to_replace_it(self):
        path, _ = backup_create(destination=self.backups)
        with self.assertRaisesMessage(BackupError, "not empty"):
            backup_restore(source=path)
        Incident.objects.filter(slug="robot-blocks-ambulance").update(headline="Changed after the backup")
        call_command("restore_backup", str(path), "--replace", verbosity=0)
        self.assertEqual(
            Incident.objects.get(slug="robot-blocks-ambulance").headline, "Delivery robot blocks an ambulance"
        )

    def test_verify_finds_a_damaged_backup_and_touches_nothing(self):
        path, manifest = backup_create(destination=self.backups)
        call_command("verify_backup", str(path), verbosity=0)
        dump = path / manifest["database"]["name"]
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
        with self.assertRaisesMessage(CommandError, "does not match its checksum"):
            call_command("verify_backup", str(path), verbosity=0)
        self.assertEqual(Submission.objects.count(), 3)
