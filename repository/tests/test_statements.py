"""Dated statements: three exports of one sheet, of three dates, imported in every order, give
the same record; importing any of them again changes nothing; an editor's decision stands."""

import datetime
import itertools
import json

from django.db import transaction
from django.test import TestCase

from repository import documents, provenance
from repository.importers.common import fold_statements
from repository.importers.dating import date_in_text, export_date
from repository.importers.sheet import sheet_import
from repository.models import Incident, SourceRecord
from repository.services import incident_publish
from repository.tests.base import terms
from repository.tests.test_sheet_exports import LINK, sheet

COLUMNS = [
    "AIAAIC ID#",
    "Headline",
    "Occurred",
    "Country(ies)",
    "Sector(s)",
    "Issue(s)",
    "Deployer(s)",
    "Description/links",
]


NAMES = {
    "Country": "Country(ies)",
    "Sector": "Sector(s)",
    "Issue": "Issue(s)",
    "Occurred": "Occurred",
    "Deployer": "Deployer(s)",
}


def line(number, headline, page, **cells):
    return {
        "AIAAIC ID#": f"AIAAIC{number:04d}",
        "Headline": headline,
        "Description/links": LINK + page,
        **{NAMES[name]: value for name, value in cells.items()},
    }


def export(title, rows):
    return sheet(rows, columns=COLUMNS, title=title)


# Three exports of one sheet: values edited, blanks, rows reordered and dropped, an id reused
# for another story, a headline rewritten, a row linking to another incident's page, a list
# item dropped.
JUNE = export(
    "AIAAIC Repository, updated 15 June 2025",
    [
        line(1, "Chatbot gives wrong tax advice", "tax-chatbot", Country="UK", Issue="Accuracy/reliability"),
        line(2, "Delivery robot blocks ambulance", "robot-ambulance", Occurred="2021", Sector="Transport"),
        line(3, "Face recognition misidentifies shopper", "shopper-face", Country="USA"),
        line(4, "Exam algorithm downgrades students", "exam-algorithm", Country="UK", Sector="Education"),
        line(7, "Smart speaker records private conversations", "smart-speaker", Issue="Privacy"),
    ],
)
OCTOBER = export(
    "AIAAIC Repository, updated 2025-10-01",
    [
        line(4, "Exam algorithm downgrades students", "exam-algorithm", Country="UK", Sector="Education"),
        line(
            1,
            "Chatbot gives wrong tax advice",
            "tax-chatbot",
            Issue="Accuracy/reliability; Privacy",  # Country blank: says nothing
        ),
        line(2, "Delivery robot blocks ambulance", "robot-ambulance", Occurred="March 2021", Sector="Health"),
        line(3, "Face recognition misidentifies shopper", "shopper-face", Country="USA"),
    ],
)
FEBRUARY = export(
    "AIAAIC Repository",  # dated by its file name
    [
        # The same story under a rewritten headline (same id, same page).
        line(3, "Retail store bars customer after biometric match", "shopper-face", Country="USA"),
        line(2, "Delivery robot blocks ambulance", "robot-ambulance", Occurred="2021", Sector="Health"),
        line(
            1,
            "Chatbot gives wrong tax advice",
            "tax-chatbot",
            Country="Ireland",
            Issue="Accuracy/reliability",
        ),
        # A new row linking, by the source's mistake, to another incident's page.
        line(6, "Deepfake advert uses celebrity likeness", "exam-algorithm", Country="UK"),
        # An id reused for another story.
        line(7, "Tenant screening AI rejects applicants", "tenant-screening", Country="USA"),
    ],
)
EXPORTS = {
    "june": (JUNE, "aiaaic-repository.csv"),
    "october": (OCTOBER, "aiaaic-repository.csv"),
    "february": (FEBRUARY, "aiaaic-repository-2026-02.csv"),
}


def run(name):
    data, file_name = EXPORTS[name]
    return sheet_import(data=data, file_name=file_name)


def record():
    """Every incident's document, by what it says (not its number, slug or revisions), with its
    provenance: each value's source and the date since which the source has said it."""
    return sorted(
        json.dumps(incident.current_revision.document, sort_keys=True)
        for incident in Incident.objects.filter(merged_into=None).select_related("current_revision")
    )


def incident_of(external_id, headline_word=""):
    found = [
        incident
        for incident in Incident.objects.filter(external_ids__value=external_id)
        if headline_word in incident.headline
    ]
    assert len(found) == 1, found
    return found[0]


class ExportDateTests(TestCase):
    def test_the_date_is_read_from_the_title_row_the_file_name_or_given(self):
        self.assertEqual(date_in_text("Updated 15 June 2025"), datetime.date(2025, 6, 15))
        self.assertEqual(date_in_text("aiaaic-repository-2026-02.csv"), datetime.date(2026, 2, 1))
        self.assertEqual(date_in_text("AIAAIC Repository (beta) [ REPORT INCIDENT ]"), None)
        self.assertEqual(
            export_date(title_rows=[["Updated Feb 2026", ""]], file_name="x-2025-01-01.csv"),
            (datetime.date(2026, 2, 1), "title"),
        )
        self.assertEqual(
            export_date(given=datetime.date(2024, 1, 2), title_rows=[["2026-02-15"]]),
            (datetime.date(2024, 1, 2), "given"),
        )
        self.assertEqual(export_date(title_rows=[["AIAAIC"]], file_name="sheet.csv"), (None, "undated"))

    def test_the_import_says_which_date_it_used(self):
        result = run("february")
        self.assertEqual(result.as_of, datetime.date(2026, 2, 1))
        self.assertIn("as of 2026-02-01 (read from its name)", result.as_of_note)
        self.assertIn("no date", sheet_import(data=export("AIAAIC", [line(9, "Robot", "robot")])).as_of_note)


class FoldTests(TestCase):
    def test_the_newest_statement_that_says_something_wins_per_field(self):
        june, october = datetime.date(2025, 6, 15), datetime.date(2025, 10, 1)
        view = fold_statements(
            [
                (october, "b", {"headline": "New", "terms:issue": ["Privacy"]}, []),
                (None, "z", {"headline": "Undated", "terms:country": ["UK"], "occurred": "2021-03"}, []),
                (june, "a", {"headline": "Old", "terms:sector": ["Health"], "occurred": "2021"}, []),
            ]
        )
        self.assertEqual(
            view,
            {
                "headline": "New",
                "terms:issue": ["Privacy"],
                "terms:country": ["UK"],
                "terms:sector": ["Health"],
                "occurred": "2021-03",  # a less precise period never replaces one within it
            },
        )
        cleared = fold_statements(
            [(june, "a", {"terms:sector": ["Health"]}, []), (october, "b", {}, ["terms:sector"])]
        )
        self.assertEqual(cleared, {})


class AnyOrderTests(TestCase):
    def test_every_order_gives_the_same_record_and_a_re_import_changes_nothing(self):
        records = {}
        for order in itertools.permutations(EXPORTS):
            with transaction.atomic():
                for name in order:
                    run(name)
                records[order] = record()
                for name in EXPORTS:
                    again = run(name)
                    self.assertEqual((again.created, again.updated), (0, 0), (order, name))
                self.assertEqual(record(), records[order])
                self.assertEqual(SourceRecord.objects.count(), 14)  # one statement per row
                transaction.set_rollback(True)
        first = records[("june", "october", "february")]
        for order, found in records.items():
            self.assertEqual(found, first, order)

    def test_the_record_is_what_the_newest_export_says_field_by_field(self):
        for name in ("february", "june", "october"):
            run(name)
        tax = incident_of("AIAAIC0001")
        self.assertEqual(terms(tax, "country"), ["Ireland"])
        self.assertEqual(terms(tax, "issue"), ["Accuracy/reliability"])  # the dropped item stays dropped
        robot = incident_of("AIAAIC0002")
        self.assertEqual(terms(robot, "sector"), ["Health"])
        self.assertEqual(robot.occurred, "2021-03")  # "2021" is less precise than "March 2021"
        shopper = incident_of("AIAAIC0003")
        self.assertEqual(shopper.headline, "Retail store bars customer after biometric match")
        self.assertEqual(Incident.objects.filter(external_ids__value="AIAAIC0003").count(), 1)
        # The wrong link joins nothing: the exam story keeps its own headline and id alone.
        exam = incident_of("AIAAIC0004")
        self.assertEqual(exam.headline, "Exam algorithm downgrades students")
        self.assertEqual(
            documents.external_id_values(exam.current_revision.document, "aiaaic"), ["AIAAIC0004"]
        )
        self.assertEqual(incident_of("AIAAIC0006").headline, "Deepfake advert uses celebrity likeness")

    def test_each_value_says_since_when_the_source_has_said_it_whatever_the_order(self):
        run("october")
        run("june")  # older: it changes no value, and dates back what it said already
        shopper = incident_of("AIAAIC0003")  # the same in both exports: only its dates move back
        self.assertEqual(shopper.revisions.count(), 2)
        self.assertTrue(shopper.current_revision.summary.endswith(": Where values came from"))
        history = self.client.get(f"{shopper.get_absolute_url()}history/")
        self.assertContains(history, "Where values came from")
        self.assertContains(self.client.get(f"{shopper.get_absolute_url()}v/2/"), "2025-06-15")
        tax = incident_of("AIAAIC0001")
        said = provenance.expand(tax.current_revision.document)
        june = {"kind": "source", "source": "aiaaic", "form": "export", "as_of": "2025-06-15"}
        october = {**june, "as_of": "2025-10-01"}
        self.assertEqual(said["headline"], june)  # said in June and again in October
        self.assertEqual(said["terms.country"], {"uk": june})  # October's blank says nothing
        # The list changed in October (a privacy issue added).
        self.assertEqual(list(said["terms.issue"].values()), [october, october])
        page = self.client.get(tax.get_absolute_url())
        self.assertContains(page, "the AIAAIC export of 2025-06-15")
        run("february")  # newer, and says another country
        said = provenance.expand(incident_of("AIAAIC0001").current_revision.document)
        self.assertEqual(said["terms.country"], {"ireland": {**june, "as_of": "2026-02-01"}})
        self.assertEqual(said["headline"], june)

    def test_a_row_linking_to_another_incidents_page_is_reported(self):
        run("june")
        result = run("february")
        [finding] = [str(finding) for finding in result.report.of_kind("other-link")]
        self.assertIn("AIAAIC0006 links to the page of incident", finding)
        self.assertIn("AIAAIC0004", finding)
        # The reused id: two stories, two incidents.
        self.assertEqual(Incident.objects.filter(external_ids__value="AIAAIC0007").count(), 2)

    def test_a_reused_id_is_reported_with_a_merge_proposal(self):
        run("june")
        result = run("february")
        self.assertEqual(result.doubts, 1)
        reused = [str(finding) for finding in result.report.of_kind("id-reused")]
        self.assertEqual(len(reused), 1)
        self.assertIn("AIAAIC0007", reused[0])
        self.assertIn("merge is proposed", reused[0])


class EditorDecisionTests(TestCase):
    def test_an_editors_correction_survives_an_older_export_and_a_newer_change_is_proposed(self):
        run("october")
        robot = incident_of("AIAAIC0002")
        edited = {**robot.current_revision.document}
        edited["terms"] = {**edited["terms"], "sector": ["Emergency services"]}
        incident_publish(document=edited, incident=robot, summary="Corrected by an editor")
        older = run("june")  # says Transport, older than October's Health: nothing to change
        self.assertEqual(older.proposals, 0)
        robot.refresh_from_db()
        self.assertEqual(terms(robot, "sector"), ["Emergency services"])
        newer = export(
            "AIAAIC Repository, updated 2026-05-01",
            [line(2, "Delivery robot blocks ambulance", "robot-ambulance", Sector="Logistics")],
        )
        result = sheet_import(data=newer)
        self.assertEqual((result.updated, result.proposals), (0, 1))
        self.assertIn("sector", str(result.report.of_kind("proposed")[0]))
        robot.refresh_from_db()
        self.assertEqual(terms(robot, "sector"), ["Emergency services"])
        self.assertEqual(sheet_import(data=newer).proposals, 0)  # the same file again: nothing new

    def test_an_editors_headline_does_not_hide_the_story_the_source_told(self):
        run("june")
        speaker = incident_of("AIAAIC0007")
        edited = {**speaker.current_revision.document, "headline": "Voice assistant keeps household audio"}
        incident_publish(document=edited, incident=speaker, summary="Corrected by an editor")
        moved = export(
            "AIAAIC Repository, updated 2026-05-01",
            [line(7, "Smart speaker records private conversations", "speaker-moved", Issue="Privacy")],
        )
        result = sheet_import(data=moved)
        self.assertEqual((result.created, result.doubts), (0, 0))
        speaker.refresh_from_db()
        self.assertEqual(speaker.headline, "Voice assistant keeps household audio")


class UndatedPageTests(TestCase):
    def test_a_page_never_overwrites_what_a_dated_export_gives(self):
        from repository.importers.pages import page_import, parse_page
        from repository.tests.test_page_import import page_text

        run("october")
        tax = incident_of("AIAAIC0001")
        page = parse_page(
            page_text(
                **{
                    "Welfare fraud algorithm wrongly flags single parents": "Chatbot tells taxpayers to file late",
                    "Issue: Bias/discrimination - income; Accountability; Privacy": "Issue: Accountability",
                    "Sector: Govt - welfare": "Sector: Govt - tax",
                }
            )
        )
        page_import(pages=[(tax.slug, page)])
        tax.refresh_from_db()
        self.assertEqual(tax.headline, "Chatbot gives wrong tax advice")  # the export's, dated
        self.assertEqual(terms(tax, "issue"), ["Accuracy/reliability", "Privacy"])
        self.assertEqual(terms(tax, "sector"), ["Govt - tax"])  # what no dated export says: the page's
        self.assertEqual(tax.occurred, "2021-02")
        # And the other way round: the export imported after the page gives the same values.
        run("june")
        tax.refresh_from_db()
        self.assertEqual(terms(tax, "issue"), ["Accuracy/reliability", "Privacy"])
        self.assertEqual(terms(tax, "country"), ["UK"])


class IdentityByEvidenceTests(TestCase):
    def test_the_id_with_an_overlapping_period_and_an_organisation_shared_through_aliases_joins(self):
        from repository.documents import fold
        from repository.models import Entity, EntityAlias

        june = export(
            "AIAAIC, 2025-06-15",
            [line(8, "Photo app tags people as animals", "photo-tags", Occurred="2015", Deployer="Facebook")],
        )
        sheet_import(data=june)
        facebook = Entity.objects.get(name="Facebook")
        EntityAlias.objects.create(entity=facebook, name="Meta", key=fold("Meta"), uses=0)
        rewritten = export(
            "AIAAIC, 2026-02-01",
            [line(8, "Image labelling insults users", "image-labels", Occurred="June 2015", Deployer="Meta")],
        )
        result = sheet_import(data=rewritten)
        self.assertEqual((result.created, result.updated, result.doubts), (0, 1, 0))
        self.assertEqual(incident_of("AIAAIC0008").headline, "Image labelling insults users")

    def test_the_id_without_any_evidence_is_another_story(self):
        june = export(
            "AIAAIC, 2025-06-15",
            [line(8, "Photo app tags people as animals", "photo-tags", Occurred="2015", Deployer="Facebook")],
        )
        sheet_import(data=june)
        other = export(
            "AIAAIC, 2026-02-01",
            [line(8, "Image labelling insults users", "image-labels", Occurred="2019", Deployer="Facebook")],
        )
        result = sheet_import(data=other)
        self.assertEqual((result.created, result.doubts), (1, 1))


class UndoTests(TestCase):
    def test_undoing_an_export_drops_its_statements_and_importing_it_again_gives_the_same_record(self):
        from repository.importers.batches import import_batch_undo
        from repository.models import ImportBatch

        run("june")
        before = record()
        october = run("october")
        after = record()
        import_batch_undo(batch=ImportBatch.objects.get(pk=october.batch))
        self.assertEqual(record(), before)
        self.assertEqual(
            set(SourceRecord.objects.values_list("as_of", flat=True)), {datetime.date(2025, 6, 15)}
        )
        run("october")
        self.assertEqual(record(), after)


class AsOfOptionTests(TestCase):
    def test_import_sheet_takes_the_date_given_and_says_so(self):
        import tempfile
        from io import StringIO
        from pathlib import Path

        from django.core.management import call_command

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "aiaaic-2025-06-15.csv"
            path.write_text(JUNE, encoding="utf-8")
            out = StringIO()
            call_command("import_sheet", str(path), "--as-of", "2024-01-02", stdout=out)
        self.assertIn("The export is as of 2024-01-02 (given with --as-of)", out.getvalue())
        self.assertEqual(
            set(SourceRecord.objects.values_list("as_of", flat=True)), {datetime.date(2024, 1, 2)}
        )
