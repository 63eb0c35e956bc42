import csv
import shutil
import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import SimpleTestCase, TestCase

from repository.importers import aiid
from repository.importers.reports import ImportReport
from repository.models import Entity, EntityAlias, ExternalId, Incident, IncidentEntity, Reference, Revision
from repository.services import incident_publish
from repository.signals import incidents_imported
from repository.tests.base import entities, publish

FIXTURES = Path(__file__).parent / "fixtures" / "aiid"
SNAPSHOT = FIXTURES / "snapshot"


def import_aiid(path, *args):
    """Run the command; returns what it printed."""
    out = StringIO()
    call_command("import_aiid", str(path), *args, stdout=out)
    return out.getvalue()


def aiid_incident(value):
    return Incident.objects.get(external_ids__scheme="aiid", external_ids__value=str(value))


def everything():
    """What an import may write, to compare before and after."""
    return {
        "incidents": list(Incident.objects.order_by("pk").values()),
        "revisions": list(Revision.objects.order_by("pk").values_list("pk", "document")),
        "entities": list(Entity.objects.order_by("pk").values_list("pk", "name", "kind")),
        "aliases": list(EntityAlias.objects.order_by("pk").values_list("entity_id", "name", "uses")),
        "links": list(IncidentEntity.objects.order_by("pk").values_list("incident_id", "entity_id", "role")),
        "references": list(Reference.objects.order_by("pk").values_list("incident_id", "url", "published")),
        "external_ids": list(ExternalId.objects.order_by("pk").values_list("incident_id", "scheme", "value")),
    }


class SnapshotImportTests(TestCase):
    """A whole snapshot: incidents.csv with entities.csv, reports.csv and duplicates.csv."""

    @classmethod
    def setUpTestData(cls):
        cls.signals = []

        def receiver(sender, incident_ids, source, **kwargs):
            cls.signals.append((sorted(incident_ids), source))

        incidents_imported.connect(receiver)
        try:
            with cls.captureOnCommitCallbacks(execute=True):
                cls.output = import_aiid(SNAPSHOT)
        finally:
            incidents_imported.disconnect(receiver)

    def findings(self, kind):
        report = ImportReport()
        aiid.read_incidents(
            SNAPSHOT / "incidents.csv",
            report,
            aiid.read_entities(SNAPSHOT / "entities.csv", ImportReport()),
            aiid.read_reports(SNAPSHOT / "reports.csv", report),
        )
        aiid.resolve_duplicates(aiid.read_duplicates(SNAPSHOT / "duplicates.csv", report), report)
        return [str(finding) for finding in report.of_kind(kind)]

    def test_columns_are_found_by_name_in_any_order_and_case(self):
        shuttle = aiid_incident(1)
        self.assertEqual(shuttle.headline, "Self-driving shuttle hits pedestrian at crossing")
        self.assertEqual(shuttle.occurred, "2019-06-12")
        self.assertEqual(shuttle.summary, "An autonomous shuttle struck a pedestrian at a marked crossing.")

    def test_the_output_ends_with_the_counts(self):
        self.assertIn("Read incidents.csv with entities, reports, duplicates (duplicates.csv)", self.output)
        self.assertIn(
            "7 rows: 5 created, 0 updated, 0 unchanged, 2 merged duplicates, 7 warnings", self.output
        )
        self.assertIn("  5/5 incidents", self.output)

    def test_aiid_ids_become_external_ids_that_resolve(self):
        shuttle = aiid_incident(1)
        self.assertEqual(list(shuttle.external_ids.values_list("scheme", "value")), [("aiid", "1")])
        self.assertRedirects(self.client.get("/id/aiid/1"), shuttle.get_absolute_url())

    def test_names_come_from_entities_csv_else_from_the_slug(self):
        self.assertEqual(entities(aiid_incident(1), "deployer"), ["Keolis North America"])
        self.assertEqual(entities(aiid_incident(2), "developer"), ["OpenAI"])
        self.assertEqual(entities(aiid_incident(2), "deployer"), ["Hartwell & Moss LLP"])
        # Not in entities.csv: named after the slug.
        self.assertEqual(
            entities(aiid_incident(6), "deployer"), ["City of Springfield", "Springfield Police"]
        )
        self.assertEqual(
            set(
                Entity.objects.filter(name__in=["Keolis North America", "OpenAI"]).values_list(
                    "kind", flat=True
                )
            ),
            {Entity.Kind.ORGANISATION},
        )

    def test_a_python_style_list_is_read_with_a_warning_and_a_broken_one_left_out(self):
        camera = aiid_incident(6)
        self.assertEqual(entities(camera, "developer"), [])
        self.assertEqual(entities(camera, "harmed"), ["Springfield Residents"])
        self.assertEqual(camera.occurred, "")  # "sometime in spring"
        self.assertEqual(
            self.findings("ambiguous"),
            [
                "row 6, column 'Alleged deployer of AI system': \"['city-of-springfield', 'springfield-police']\" "
                "is not a JSON list; read as city-of-springfield, springfield-police."
            ],
        )
        self.assertIn(
            "row 6, column 'Alleged developer of AI system': '[\"broken' is not a list; left out.",
            self.findings("unreadable-cell"),
        )
        self.assertIn(
            "row 6, column 'date': cannot read 'sometime in spring' as a year, month or day; left out.",
            self.findings("unreadable-cell"),
        )

    def test_reports_become_news_references(self):
        shuttle = aiid_incident(1)
        self.assertEqual(
            list(shuttle.references.values_list("category", "url", "title", "publisher", "published")),
            [
                (
                    "news",
                    "https://citynews.example/shuttle-crash",
                    "Shuttle hits pedestrian",
                    "citynews.example",
                    "2019-06-13",
                ),
                (
                    "news",
                    "https://transit.example/navya-responds",
                    "Shuttle maker responds",
                    "transit.example",
                    "2019-06-14",
                ),
            ],
        )
        self.assertEqual(shuttle.source_url, "https://incidentdatabase.ai/cite/1/")

    def test_a_missing_report_or_unreadable_date_is_a_warning(self):
        self.assertEqual(
            self.findings("missing-report"), ["row 3, column 'reports': Report 99 is not in reports.csv."]
        )
        sanctions = Reference.objects.get(url="https://courts.example/sanctions")
        self.assertEqual((sanctions.title, sanctions.published), ("Judge sanctions lawyers", ""))
        self.assertIn("reports.csv: report 4's date", "\n".join(self.findings("unreadable-cell")))

    def test_a_chain_of_duplicates_folds_into_the_true_incident(self):
        # 5 → 4 → 2: one incident carrying the three AIID ids, their names and references.
        chatbot = aiid_incident(2)
        self.assertEqual(aiid_incident(4), chatbot)
        self.assertEqual(aiid_incident(5), chatbot)
        self.assertEqual(Incident.objects.count(), 5)
        self.assertEqual(list(chatbot.external_ids.values_list("value", flat=True)), ["2", "4", "5"])
        self.assertEqual(chatbot.headline, "Chatbot invents legal citations in court filing")
        self.assertEqual(chatbot.occurred, "2023-05-27")
        self.assertEqual(
            entities(chatbot, "harmed"), ["Opposing counsel", "The Court", "Hartwell and Moss Clients"]
        )
        self.assertEqual(
            list(chatbot.references.values_list("url", flat=True)),
            [
                "https://lawweekly.example/chatbot-cases?utm_source=aiid",
                "https://courts.example/sanctions",
                "https://finance.example/fine",
            ],
        )
        # The duplicates' own titles and dates are kept, not dropped.
        extra = chatbot.current_revision.document["extra"]
        self.assertEqual(extra["AIID 4: title"], "Lawyers sanctioned for fake AI citations")
        self.assertEqual(extra["AIID 5: date"], "2023-06")
        self.assertRedirects(self.client.get("/id/aiid/5"), chatbot.get_absolute_url())

    def test_a_duplicate_that_names_an_unknown_role_fills_it(self):
        # Incident 2's deployer was "unknown-deployer"; its duplicate 4 names the firm.
        document = aiid_incident(2).current_revision.document
        self.assertEqual(document["placeholders"], {})
        self.assertEqual(document["entities"]["deployer"], ["Hartwell & Moss LLP"])

    def test_a_cycle_of_duplicates_is_a_warning_and_nothing_merges(self):
        self.assertNotEqual(aiid_incident(7), aiid_incident(8))
        self.assertEqual(
            self.findings("duplicate-cycle"),
            ["Incidents 7 → 8 → 7 are each other's duplicates; none of them is merged."],
        )

    def test_harmed_parties_are_kept_and_shown(self):
        shuttle = aiid_incident(1)
        self.assertEqual(entities(shuttle, "harmed"), ["Pedestrians"])
        page = self.client.get(shuttle.get_absolute_url())
        self.assertContains(
            page,
            '<span class="label">Harmed parties:</span> <a href="/entities/pedestrians/">Pedestrians</a>',
            html=False,
        )
        entity_page = self.client.get("/entities/pedestrians/")
        self.assertContains(entity_page, "Harmed parties: 1")
        self.assertContains(entity_page, shuttle.headline)

    def test_the_browse_page_has_a_harmed_parties_facet(self):
        response = self.client.get("/incidents/")
        facets = {facet.name: facet for facet in response.context["facets"]}
        self.assertEqual(facets["harmed"].label, "Harmed parties")
        self.assertEqual({value.name: value.count for value in facets["harmed"].values}["Teenagers"], 2)
        narrowed = self.client.get("/incidents/?harmed=pedestrians")
        self.assertEqual(
            [incident.headline for incident in narrowed.context["page"].object_list],
            ["Self-driving shuttle hits pedestrian at crossing"],
        )
        self.assertContains(narrowed, "Harmed parties: Pedestrians")

    def test_an_unknown_column_is_a_warning_and_its_values_are_kept(self):
        self.assertEqual(
            aiid_incident(1).current_revision.document["extra"],
            {"editor_notes": "Checked against the police report"},
        )
        self.assertEqual(
            self.findings("unknown-column"),
            ["column 'editor_notes': 1 non-blank value, kept under 'Other source columns'."],
        )

    def test_listeners_hear_of_the_imported_incidents_after_commit(self):
        self.assertEqual(self.signals, [(sorted(Incident.objects.values_list("pk", flat=True)), "aiid")])

    def test_each_incident_has_one_revision_saying_where_it_came_from(self):
        self.assertEqual(
            set(Revision.objects.values_list("number", "summary")),
            {(1, "Imported from the AI Incident Database: Created")},
        )

    def test_importing_the_same_snapshot_again_changes_nothing(self):
        before = everything()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            output = import_aiid(SNAPSHOT / "incidents.csv")  # the file: its siblings are found
        self.assertIn("7 rows: 0 created, 0 updated, 5 unchanged, 2 merged duplicates", output)
        self.assertEqual(everything(), before)
        self.assertEqual(callbacks, [])  # nothing changed, nothing to announce


class SlugsOnlyTests(TestCase):
    """incidents.csv alone: names from slugs, the AIID page as each incident's source."""

    @classmethod
    def setUpTestData(cls):
        cls.output = import_aiid(FIXTURES / "slugs-only")

    def test_names_are_derived_from_slugs(self):
        self.assertEqual(entities(aiid_incident(10), "deployer"), ["Keolis North America", "Open Ai"])
        self.assertEqual(entities(aiid_incident(10), "harmed"), ["Bus Passengers"])

    def test_two_slugs_of_one_name_are_one_entity_keeping_both_spellings(self):
        # "open-ai" and "openai" fold together.
        self.assertEqual(entities(aiid_incident(11), "developer"), ["Open Ai"])
        entity = Entity.objects.get(name="Open Ai")
        self.assertEqual(set(entity.aliases.values_list("name", flat=True)), {"Open Ai", "Openai"})

    def test_unknown_slugs_say_the_role_is_unknown_and_make_no_entity(self):
        self.assertEqual(
            aiid_incident(10).current_revision.document["placeholders"], {"developer": "Unknown developer"}
        )
        self.assertEqual(aiid_incident(11).current_revision.document["placeholders"], {"harmed": "Unknown"})
        self.assertFalse(Entity.objects.filter(name__istartswith="unknown").exists())
        page = self.client.get(aiid_incident(10).get_absolute_url())
        self.assertContains(
            page, '<span class="unknown" title="The source does not say who">Unknown developer</span>'
        )

    def test_the_source_is_the_aiid_page_and_no_reference_is_invented(self):
        incident = aiid_incident(10)
        self.assertEqual(incident.source_url, "https://incidentdatabase.ai/cite/10/")
        self.assertFalse(incident.references.exists())
        self.assertIn("Read incidents.csv alone", self.output)
        self.assertIn(
            "2 rows: 2 created, 0 updated, 0 unchanged, 0 merged duplicates, 0 warnings", self.output
        )


class FoldingIntoAiaaicTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.aiaaic = publish(
            "Chatbot makes up quotes for a newspaper",
            external_id="AIAAIC0901",
            entities={"deployer": ["Daily Planet"], "developer": ["OpenAI"]},
        )
        import_aiid(FIXTURES / "slugs-only")

    def test_an_aiid_slug_joins_the_organisation_an_aiaaic_import_made(self):
        openai = Entity.objects.get(name="OpenAI")
        self.assertEqual(Entity.objects.filter(aliases__key="openai").distinct().count(), 1)
        self.assertEqual(entities(aiid_incident(11), "developer"), ["OpenAI"])
        self.assertEqual(entities(aiid_incident(10), "deployer"), ["Keolis North America", "OpenAI"])
        self.assertEqual(set(openai.aliases.values_list("name", flat=True)), {"OpenAI", "Openai", "Open Ai"})
        page = self.client.get(openai.get_absolute_url())
        self.assertContains(page, self.aiaaic.headline)
        self.assertContains(page, "Chatbot leaks conversation titles")

    def test_the_aiaaic_incident_is_untouched(self):
        self.assertEqual(self.aiaaic.revisions.count(), 1)


class IncidentFromElsewhereTests(TestCase):
    """An incident published from another source that already carries an AIID id."""

    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Bus routing software leaves riders stranded",
            occurred="2020-01",
            external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0950"}, {"scheme": "aiid", "value": "10"}],
            source_url="https://www.aiaaic.org/aiaaic-repository/bus-routing",
            entities={"deployer": ["Keolis North America"]},
        )
        cls.output = import_aiid(FIXTURES / "slugs-only")

    def test_the_snapshot_joins_it_instead_of_making_another(self):
        self.assertEqual(aiid_incident(10), self.incident)
        self.assertIn("2 rows: 1 created, 1 updated, 0 unchanged", self.output)
        self.incident.refresh_from_db()
        # Its own values stay; the snapshot fills what it lacked and adds names.
        self.assertEqual(self.incident.headline, "Bus routing software leaves riders stranded")
        self.assertEqual(self.incident.occurred, "2020-01")
        self.assertEqual(self.incident.source_url, "https://www.aiaaic.org/aiaaic-repository/bus-routing")
        self.assertEqual(self.incident.summary, "A routing system stranded passengers.")
        self.assertEqual(entities(self.incident, "deployer"), ["Keolis North America", "Open Ai"])
        self.assertEqual(entities(self.incident, "harmed"), ["Bus Passengers"])
        self.assertIn("0 created, 0 updated, 2 unchanged", import_aiid(FIXTURES / "slugs-only"))


class LaterSnapshotTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        import_aiid(SNAPSHOT)

    def test_a_later_snapshot_updates_what_it_says_and_keeps_the_rest(self):
        output = import_aiid(FIXTURES / "later")
        self.assertIn("2 rows: 0 created, 1 updated, 1 unchanged, 0 merged duplicates, 0 warnings", output)
        shuttle = aiid_incident(1)
        self.assertEqual(
            shuttle.summary, "An autonomous shuttle struck a pedestrian; the operator paused the service."
        )
        # "2019-06" is vaguer than the stored day it contains.
        self.assertEqual(shuttle.occurred, "2019-06-12")
        self.assertIn(
            "row 2, column 'date': 2019-06-12 kept: the snapshot's 2019-06 is less precise.", output
        )
        self.assertEqual(entities(shuttle, "harmed"), ["Pedestrians", "Shuttle Passengers"])
        self.assertEqual(
            list(shuttle.references.values_list("url", flat=True)),
            [
                "https://citynews.example/shuttle-crash",
                "https://transit.example/navya-responds",
                "https://citynews.example/service-paused",
            ],
        )
        self.assertEqual(
            shuttle.current_revision.document["extra"], {"editor_notes": "Checked against the police report"}
        )
        # Blank cells keep what incident 2 had, its merged duplicates included.
        chatbot = aiid_incident(2)
        self.assertEqual(chatbot.revisions.count(), 1)
        self.assertEqual(entities(chatbot, "deployer"), ["Hartwell & Moss LLP"])
        self.assertEqual(chatbot.occurred, "2023-05-27")
        self.assertEqual(list(chatbot.external_ids.values_list("value", flat=True)), ["2", "4", "5"])
        self.assertIn("0 created, 0 updated, 2 unchanged", import_aiid(FIXTURES / "later"))

    def test_a_value_an_editor_changed_is_kept(self):
        shuttle = aiid_incident(1)
        document = shuttle.current_revision.document
        incident_publish(
            document={
                **document,
                "headline": "Autonomous shuttle hits pedestrian in Las Vegas",
                "summary": "An editor's summary.",
            },
            incident=shuttle,
            summary="Edited",
        )
        revisions = Revision.objects.count()
        self.assertIn("0 created, 0 updated, 5 unchanged", import_aiid(SNAPSHOT))
        self.assertEqual(Revision.objects.count(), revisions)

        output = import_aiid(FIXTURES / "later")
        shuttle.refresh_from_db()
        self.assertEqual(shuttle.headline, "Autonomous shuttle hits pedestrian in Las Vegas")
        self.assertEqual(shuttle.summary, "An editor's summary.")
        self.assertIn("Values an editor changed since the last import (the site's kept): 1", output)
        # What only the snapshot changed still arrives.
        self.assertEqual(entities(shuttle, "harmed"), ["Pedestrians", "Shuttle Passengers"])
        # And the next run of the same snapshot leaves the editor's values alone.
        self.assertIn("0 created, 0 updated, 2 unchanged", import_aiid(FIXTURES / "later"))
        shuttle.refresh_from_db()
        self.assertEqual(shuttle.headline, "Autonomous shuttle hits pedestrian in Las Vegas")


class DuplicatesOfStoredIncidentsTests(TestCase):
    """A snapshot whose duplicates file points at incidents it does not list."""

    @classmethod
    def setUpTestData(cls):
        import_aiid(SNAPSHOT)

    def setUp(self):
        self.folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.folder)
        head = ["incident_id", "title", "Alleged harmed or nearly harmed parties"]
        rows = [["30", "Shuttle crash, reported again", '["cyclists"]'], ["31", "An orphan duplicate", "[]"]]
        with (self.folder / "incidents.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([head, *rows])
        with (self.folder / "duplicates.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(
                [["duplicate_incident_number", "true_incident_number"], ["30", "1"], ["31", "404"]]
            )

    def test_a_duplicate_of_a_stored_incident_joins_it(self):
        output = import_aiid(self.folder)
        shuttle = aiid_incident(1)
        self.assertEqual(aiid_incident(30), shuttle)
        self.assertEqual(entities(shuttle, "harmed"), ["Pedestrians", "Cyclists"])
        self.assertEqual(shuttle.headline, "Self-driving shuttle hits pedestrian at crossing")
        self.assertIn("2 rows: 1 created, 1 updated, 0 unchanged, 1 merged duplicates, 1 warnings", output)
        self.assertIn("0 created, 0 updated, 2 unchanged", import_aiid(self.folder))

    def test_a_duplicate_of_an_incident_nowhere_is_kept_as_its_own(self):
        output = import_aiid(self.folder)
        self.assertIn(
            "row 3: Incident 31 is a duplicate of 404, which is neither in the file nor on the site; "
            "imported as an incident of its own.",
            output,
        )
        self.assertEqual(aiid_incident(31).headline, "An orphan duplicate")


class CommandTests(TestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.folder)

    def write(self, name, rows):
        with (self.folder / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)

    def assertRefused(self, path, message):
        with self.assertRaisesMessage(CommandError, message):
            import_aiid(path)
        self.assertEqual(Incident.objects.count(), 0)

    def test_a_missing_path_or_incidents_file_is_a_clear_error(self):
        self.assertRefused(self.folder / "nowhere", "No such file or directory")
        self.write("entities.csv", [["entity_id", "name"]])
        self.assertRefused(self.folder, f"No incidents.csv in {self.folder}.")

    def test_a_file_that_is_not_csv_is_refused(self):
        (self.folder / "incidents.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
        self.assertRefused(self.folder, "incidents.csv is not UTF-8 text")

    def test_an_incidents_file_without_its_id_or_title_column_is_refused(self):
        self.write("incidents.csv", [["id", "title"], ["1", "Something"]])
        self.assertRefused(
            self.folder, "incidents.csv is not an AI Incident Database file: it has no 'incident_id' column"
        )
        self.write("incidents.csv", [["incident_id", "name"], ["1", "Something"]])
        self.assertRefused(self.folder, "it has no 'title' column")

    def test_a_row_without_an_id_is_skipped_with_a_warning(self):
        self.write(
            "incidents.csv", [["incident_id", "title"], ["", "No id"], ["x1", "Bad id"], ["3", "Fine"]]
        )
        output = import_aiid(self.folder)
        self.assertIn("row 2, column 'incident_id': No incident_id; the row is skipped.", output)
        self.assertIn(
            "row 3, column 'incident_id': 'x1' is not an incident number; the row is skipped.", output
        )
        self.assertEqual(list(Incident.objects.values_list("headline", flat=True)), ["Fine"])

    def test_implicated_systems_are_systems_and_an_overlong_title_is_kept_whole(self):
        title = "Chatbot " + "very " * 70 + "long title"
        self.write(
            "incidents.csv",
            [
                ["incident_id", "title", "Alleged implicated AI systems", "Alleged deployer of AI system"],
                ["40", title, '["chatgpt"]', '["openai"]'],
            ],
        )
        output = import_aiid(self.folder)
        incident = aiid_incident(40)
        self.assertEqual(entities(incident, "system"), ["Chatgpt"])
        self.assertEqual(Entity.objects.get(name="Chatgpt").kind, Entity.Kind.SYSTEM)
        self.assertLessEqual(len(incident.headline), 300)
        self.assertTrue(incident.headline.endswith("…"))
        self.assertEqual(incident.current_revision.document["extra"], {"title": title})
        self.assertIn("the headline is shortened and the whole title kept", output)

    def test_strict_refuses_a_snapshot_with_warnings_and_writes_the_report(self):
        report = self.folder / "report.csv"
        with self.assertRaisesMessage(
            CommandError, "The snapshot has 7 warnings and --strict was given; nothing was imported."
        ):
            import_aiid(SNAPSHOT, "--strict", "--report", str(report))
        self.assertEqual(Incident.objects.count(), 0)
        self.assertEqual(Entity.objects.count(), 0)
        with report.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual(sum(row["warning"] == "yes" for row in rows), 7)
        self.assertIn(
            {
                "kind": "missing-report",
                "warning": "yes",
                "row": "3",
                "column": "reports",
                "message": "Report 99 is not in reports.csv.",
            },
            rows,
        )

    def test_strict_imports_a_snapshot_without_warnings(self):
        output = import_aiid(FIXTURES / "later", "--strict")
        self.assertIn("2 rows: 2 created", output)

    def test_the_report_lists_warnings_and_notes(self):
        report = self.folder / "report.csv"
        output = import_aiid(SNAPSHOT, "--report", str(report))
        self.assertIn(f"Report written to {report}.", output)
        with report.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual(
            [(row["kind"], row["warning"]) for row in rows if row["kind"] == "duplicate-merged"],
            [("duplicate-merged", "no"), ("duplicate-merged", "no")],
        )


class ReadingTests(SimpleTestCase):
    def test_slugs_become_names(self):
        self.assertEqual(aiid.name_from_slug("keolis-north-america"), "Keolis North America")
        self.assertEqual(aiid.name_from_slug("bank-of-america"), "Bank of America")
        self.assertEqual(aiid.name_from_slug("unknown-deployer", sentence=True), "Unknown deployer")
        self.assertEqual(aiid.name_from_slug("Already A Name"), "Already A Name")

    def test_list_cells(self):
        self.assertEqual(aiid.parse_list('["a-b", "c"]'), (["a-b", "c"], False))
        self.assertEqual(aiid.parse_list("[1, 2]"), (["1", "2"], False))
        self.assertEqual(aiid.parse_list("['a', 'b']"), (["a", "b"], True))
        self.assertEqual(aiid.parse_list("a, b"), (["a", "b"], True))
        self.assertEqual(aiid.parse_list("[a, b]"), (["a", "b"], True))
        self.assertEqual(aiid.parse_list(""), ([], False))
        for broken in ('["a"', '[["a"]]', '{"a": 1}'):
            with self.subTest(broken), self.assertRaises(ValueError):
                aiid.parse_list(broken)

    def test_duplicate_chains_end_at_their_true_incident_and_loops_merge_nothing(self):
        report = ImportReport()
        roots = aiid.resolve_duplicates({5: 4, 4: 2, 9: 10, 10: 11, 11: 10, 12: 11}, report)
        self.assertEqual(roots, {5: 2, 4: 2})
        self.assertEqual(
            [str(finding) for finding in report.of_kind("duplicate-cycle")],
            ["Incidents 10 → 11 → 10 are each other's duplicates; none of them is merged."],
        )


class DatedSnapshotTests(TestCase):
    def test_an_older_snapshot_after_a_newer_one_changes_nothing(self):
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        newer, older = folder / "aiid-snapshot-2026-02-01", folder / "aiid-snapshot-2025-06-15"
        shutil.copytree(FIXTURES / "later", newer)
        shutil.copytree(SNAPSHOT, older)
        result = aiid.aiid_import(path_or_dir=newer)
        self.assertEqual(result.as_of.isoformat(), "2026-02-01")
        shuttle = aiid_incident(1)
        summary = shuttle.summary
        again = aiid.aiid_import(path_or_dir=older)
        self.assertIn("as of 2025-06-15 (read from its name)", again.as_of_note)
        self.assertEqual(again.older, 2)
        shuttle.refresh_from_db()
        self.assertEqual(shuttle.summary, summary)
