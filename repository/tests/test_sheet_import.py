import csv
import tempfile
from datetime import date
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase

from repository import documents
from repository.documents import document_from_incident
from repository.importers.sheet import SheetError, sheet_import
from repository.models import (
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Reference,
    Revision,
    Term,
    TermAlias,
)
from repository.tests.base import entities, terms

FIXTURES = Path(__file__).parent / "fixtures"
LINK = "https://www.aiaaic.org/aiaaic-repository/ai-algorithmic-and-automation-incidents/"


def import_sheet(name):
    """Run the management command on a fixture; returns what it printed."""
    out = StringIO()
    call_command("import_sheet", str(FIXTURES / name), stdout=out)
    return out.getvalue()


def fixture_text(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def snapshot():
    """Everything an import may write, to compare before and after."""
    return {
        "incidents": list(Incident.objects.order_by("pk").values()),
        "revisions": list(Revision.objects.order_by("pk").values_list("pk", "document")),
        "terms": list(Term.objects.order_by("pk").values_list("pk", "name", "parent_id")),
        "term_aliases": TermAlias.objects.count(),
        "entities": list(Entity.objects.order_by("pk").values_list("pk", "name")),
        "entity_aliases": EntityAlias.objects.count(),
        "incident_terms": IncidentTerm.objects.count(),
        "incident_entities": IncidentEntity.objects.count(),
        "references": Reference.objects.count(),
    }


class Sheet2024ImportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = import_sheet("sheet-2024.csv")

    def incident(self, external_id):
        return Incident.objects.get(external_ids__value=external_id)

    def test_it_creates_one_incident_per_row(self):
        self.assertEqual(
            list(Incident.objects.order_by("number").values_list("number", "external_ids__value")),
            [
                (1, "AIAAIC0901"),
                (2, "AIAAIC0902"),
                (3, "AIAAIC0903"),
                (4, "AIAAIC0904"),
                (5, "AIAAIC0905"),
                (6, "AIAAIC0906"),
            ],
        )

    def test_each_incident_has_a_first_revision_naming_the_layout(self):
        for incident in Incident.objects.select_related("current_revision"):
            with self.subTest(incident=incident.aiaaic_id):
                self.assertEqual(incident.current_revision.number, 1)
                self.assertEqual(
                    incident.current_revision.summary, "Imported from the AIAAIC sheet (2024 layout): Created"
                )
        self.assertEqual(Revision.objects.count(), 6)

    def test_the_rows_agree_with_the_published_document(self):
        for incident in Incident.objects.select_related("current_revision"):
            with self.subTest(incident=incident.aiaaic_id):
                self.assertEqual(
                    document_from_incident(incident), documents.values_of(incident.current_revision.document)
                )

    def test_it_trims_the_headline(self):
        self.assertEqual(
            self.incident("AIAAIC0902").headline, "Harbour City gait cameras flag pupils as intruders"
        )

    def test_it_reads_the_type_whatever_its_case_and_spaces_and_keeps_a_blank_one(self):
        types = dict(Incident.objects.values_list("external_ids__value", "type"))
        self.assertEqual(
            types,
            {
                "AIAAIC0901": "incident",
                "AIAAIC0902": "issue",
                "AIAAIC0903": "",
                "AIAAIC0904": "incident",
                "AIAAIC0905": "incident",
                "AIAAIC0906": "data",
            },
        )

    def test_it_keeps_released_including_several_years_and_blanks(self):
        released = dict(Incident.objects.values_list("external_ids__value", "released"))
        self.assertEqual(released["AIAAIC0901"], "2023")
        self.assertEqual(released["AIAAIC0902"], "2022; 2023")
        self.assertEqual(released["AIAAIC0905"], "")

    def test_it_reads_a_year_range(self):
        incident = self.incident("AIAAIC0902")
        self.assertEqual(incident.occurred, "2019/2024")
        self.assertEqual(
            (incident.occurred_start, incident.occurred_end), (date(2019, 1, 1), date(2024, 12, 31))
        )
        self.assertEqual(incident.occurred_precision, "year")
        self.assertEqual(incident.occurred_display, "2019-2024")

    def test_it_reads_an_open_range(self):
        incident = self.incident("AIAAIC0903")
        self.assertEqual(incident.occurred, "2023/..")
        self.assertEqual(incident.occurred_start, date(2023, 1, 1))
        self.assertIsNone(incident.occurred_end)
        self.assertEqual(incident.occurred_display, "2023-")

    def test_it_keeps_a_blank_occurred_blank(self):
        incident = self.incident("AIAAIC0904")
        self.assertEqual(incident.occurred, "")
        self.assertIsNone(incident.occurred_start)
        self.assertIsNone(incident.occurred_end)
        self.assertEqual(incident.occurred_precision, "")

    def test_it_reads_a_single_year(self):
        incident = self.incident("AIAAIC0905")
        self.assertEqual(incident.occurred, "2021")
        self.assertEqual(
            (incident.occurred_start, incident.occurred_end), (date(2021, 1, 1), date(2021, 12, 31))
        )

    def test_it_splits_countries_on_commas_and_semicolons(self):
        self.assertEqual(terms(self.incident("AIAAIC0902"), "country"), ["UK", "Ireland"])
        self.assertEqual(terms(self.incident("AIAAIC0905"), "country"), ["USA", "Canada"])
        self.assertEqual(terms(self.incident("AIAAIC0901"), "country"), ["USA"])

    def test_a_country_spelled_twice_is_one_term(self):
        self.assertEqual(Term.objects.filter(vocabulary__slug="country", name="USA").count(), 1)
        self.assertEqual(
            sorted(Term.objects.filter(vocabulary__slug="country").values_list("name", flat=True)),
            ["Canada", "Global", "Ireland", "Netherlands", "UK", "USA"],
        )

    def test_it_keeps_sectors_with_their_parents(self):
        self.assertEqual(terms(self.incident("AIAAIC0902"), "sector"), ["Govt - police", "Education"])
        self.assertEqual(terms(self.incident("AIAAIC0906"), "sector"), ["Technology", "Research/academia"])
        police = Term.objects.get(vocabulary__slug="sector", name="Govt - police")
        welfare = Term.objects.get(vocabulary__slug="sector", name="Govt - welfare")
        self.assertEqual(police.parent.name, "Govt")
        self.assertEqual(welfare.parent, police.parent)
        self.assertIsNone(police.parent.parent)

    def test_parents_come_only_from_the_vocabularys_known_hierarchy(self):
        # Issue is a flat vocabulary: its " - " is part of the name, not a parent.
        age = Term.objects.get(vocabulary__slug="issue", name="Bias/discrimination - age")
        self.assertIsNone(age.parent)
        self.assertFalse(Term.objects.filter(vocabulary__slug="issue", name="Bias/discrimination").exists())

    def test_a_term_without_a_dash_has_no_parent(self):
        self.assertIsNone(Term.objects.get(vocabulary__slug="sector", name="Education").parent)

    def test_it_links_deployers_developers_and_systems_by_role(self):
        incident = self.incident("AIAAIC0902")
        self.assertEqual(entities(incident, "deployer"), ["Harbour City Police", "Harbour City Schools"])
        self.assertEqual(entities(incident, "developer"), ["Gaitwise", "OpenAI"])
        self.assertEqual(entities(incident, "system"), ["StrideID"])
        self.assertEqual(entities(self.incident("AIAAIC0903"), "deployer"), [])

    def test_a_system_name_is_a_system_entity(self):
        self.assertEqual(Entity.objects.get(name="StrideID").kind, Entity.Kind.SYSTEM)
        self.assertEqual(Entity.objects.get(name="Gaitwise").kind, Entity.Kind.ORGANISATION)

    def test_one_organisation_can_deploy_and_develop(self):
        incident = self.incident("AIAAIC0905")
        self.assertEqual(entities(incident, "deployer"), ["RoboRun"])
        self.assertEqual(entities(incident, "developer"), ["RoboRun"])
        self.assertEqual(Entity.objects.filter(name="RoboRun").count(), 1)

    def test_variant_spellings_of_an_entity_fold_into_one_with_an_alias(self):
        openai = Entity.objects.get(name="OpenAI")
        # Every spelling met is kept as an alias, with how often the sheet used it.
        self.assertEqual(
            sorted(openai.aliases.values_list("name", "key", "uses")),
            [("Open AI", "openai", 1), ("OpenAI", "openai", 2), ("openai", "openai", 1)],
        )
        self.assertFalse(
            Entity.objects.exclude(pk=openai.pk).filter(name__iregex=r"^\s*open\s*ai\s*$").exists()
        )
        developed = IncidentEntity.objects.filter(entity=openai, role="developer")
        self.assertEqual(
            sorted(developed.values_list("incident__external_ids__value", flat=True)),
            ["AIAAIC0901", "AIAAIC0902", "AIAAIC0903", "AIAAIC0906"],
        )

    def test_variant_spellings_of_a_term_fold_into_the_most_common_one(self):
        machine_learning = Term.objects.filter(vocabulary__slug="technology", name__iexact="machine learning")
        self.assertEqual(list(machine_learning.values_list("name", flat=True)), ["Machine learning"])
        term = machine_learning.get()
        self.assertEqual(
            sorted(term.aliases.values_list("name", "uses")),
            [("Machine Learning", 1), ("Machine learning", 2), ("machine learning", 1)],
        )
        self.assertEqual(
            sorted(term.incident_terms.values_list("incident__external_ids__value", flat=True)),
            ["AIAAIC0903", "AIAAIC0904", "AIAAIC0905", "AIAAIC0906"],
        )
        self.assertEqual(
            terms(self.incident("AIAAIC0903"), "technology"), ["Generative AI", "Machine learning"]
        )

    def test_every_term_has_an_alias_for_its_own_name(self):
        self.assertFalse(Term.objects.filter(aliases__isnull=True).exists())
        self.assertFalse(Entity.objects.filter(aliases__isnull=True).exists())

    def test_it_keeps_technologies_purposes_and_issues(self):
        incident = self.incident("AIAAIC0901")
        self.assertEqual(terms(incident, "technology"), ["Chatbot", "Large language model"])
        self.assertEqual(terms(incident, "purpose"), ["Draft legal documents"])
        self.assertEqual(terms(incident, "issue"), ["Accuracy/reliability", "Liability"])

    def test_media_triggers_go_into_the_news_trigger_vocabulary(self):
        self.assertEqual(terms(self.incident("AIAAIC0901"), "news-trigger"), ["Court ruling"])
        self.assertEqual(terms(self.incident("AIAAIC0904"), "news-trigger"), ["Media investigation"])

    def test_it_keeps_transparency(self):
        self.assertEqual(
            terms(self.incident("AIAAIC0904"), "transparency"), ["Black box", "Complaints/appeals"]
        )
        self.assertEqual(terms(self.incident("AIAAIC0905"), "transparency"), [])

    def test_it_keeps_every_external_and_internal_harm_in_its_own_vocabulary(self):
        incident = self.incident("AIAAIC0904")
        harms = {
            "harm-individual": ["Financial loss"],
            "harm-societal": ["Loss of trust"],
            "harm-environmental": [],
            "harm-strategic": ["Reputational damage"],
            "harm-operational": ["Service suspension"],
            "harm-financial": ["Compensation"],
            "harm-legal": ["Litigation"],
        }
        for vocabulary, names in harms.items():
            with self.subTest(vocabulary=vocabulary):
                self.assertEqual(terms(incident, vocabulary), names)
        self.assertEqual(terms(self.incident("AIAAIC0902"), "harm-individual"), ["Privacy loss", "Distress"])

    def test_blank_cells_leave_their_vocabulary_out_of_the_document(self):
        document = self.incident("AIAAIC0903").current_revision.document
        self.assertNotIn("transparency", document["terms"])
        self.assertNotIn("harm-individual", document["terms"])
        self.assertEqual(document["entities"]["deployer"], [])

    def test_it_keeps_the_description_link_as_the_source(self):
        self.assertEqual(
            self.incident("AIAAIC0904").source_url, LINK + "welfare-fraud-algorithm-flags-single-parents"
        )

    def test_the_slug_comes_from_the_description_link(self):
        self.assertEqual(self.incident("AIAAIC0902").slug, "harbour-city-gait-cameras-flag-pupils")
        self.assertEqual(self.incident("AIAAIC0903").slug, "video-generator-reproduces-cartoon-characters")

    def test_the_output_shows_progress_warnings_and_the_final_counts(self):
        self.assertIn("Importing", self.output)
        self.assertIn("6/6 rows", self.output)
        self.assertIn("Variant spellings folded into one name (kept as aliases): 2", self.output)
        self.assertIn(
            "'Open AI' (1×, first on row 5), 'openai' (1×, first on row 6) folded into 'OpenAI' (2×)",
            self.output,
        )
        self.assertIn(
            "'Machine Learning' (1×, first on row 6), 'machine learning' (1×, first on row 7) folded into "
            "'Machine learning' (2×)",
            self.output,
        )
        self.assertIn(
            "Layout 2024, 6 rows: 6 created, 0 updated, 0 unchanged, 0 skipped, 0 warnings", self.output
        )
        self.assertIn(f"{Term.objects.count()} new terms, {Entity.objects.count()} new entities", self.output)

    def test_a_second_import_changes_nothing(self):
        before = snapshot()
        output = import_sheet("sheet-2024.csv")
        self.assertIn("6 rows: 0 created, 0 updated, 6 unchanged", output)
        self.assertIn("(0 new terms, 0 new entities, 0 spellings kept)", output)
        self.assertEqual(snapshot(), before)

    def test_the_2026_layout_updates_the_incident_it_shares(self):
        incident = self.incident("AIAAIC0902")
        output = import_sheet("sheet-2026.csv")
        self.assertIn("Layout 2026, 3 rows: 2 created, 1 updated, 0 unchanged", output)
        self.assertEqual(Incident.objects.count(), 8)
        updated = Incident.objects.get(external_ids__value="AIAAIC0902")
        self.assertEqual(updated.pk, incident.pk)
        self.assertEqual(updated.slug, incident.slug)
        self.assertEqual(updated.number, incident.number)
        self.assertEqual(updated.headline, "Harbour City gait cameras wrongly flag pupils as intruders")
        self.assertEqual(updated.current_revision.number, 2)
        self.assertTrue(
            updated.current_revision.summary.startswith(
                "Imported from the AIAAIC sheet (2026 layout): Changed Headline"
            ),
            updated.current_revision.summary,
        )
        self.assertEqual(terms(updated, "country"), ["United Kingdom", "Ireland"])
        self.assertEqual(terms(updated, "issue"), ["Privacy", "Fairness"])
        self.assertEqual(terms(updated, "consequence"), ["Contract suspended"])
        self.assertEqual(terms(updated, "response"), ["Apology"])
        self.assertEqual(entities(updated, "deployer"), ["Harbour City Police"])
        self.assertEqual(entities(updated, "developer"), ["Gaitwise"])
        self.assertEqual(
            updated.summary,
            "Pupils walking between lessons were repeatedly flagged as intruders by the school gait cameras.",
        )
        self.assertEqual(updated.source_url, LINK + "harbour-city-gait-cameras-flag-pupils")

    def test_the_2026_layout_keeps_what_only_the_2024_layout_has(self):
        import_sheet("sheet-2026.csv")
        updated = Incident.objects.get(external_ids__value="AIAAIC0902")
        self.assertEqual(updated.type, "issue")
        self.assertEqual(updated.released, "2022; 2023")
        self.assertEqual(terms(updated, "transparency"), ["Black box"])

    def test_an_import_after_the_2026_layout_is_unchanged_again(self):
        import_sheet("sheet-2026.csv")
        before = snapshot()
        self.assertIn("0 created, 0 updated, 3 unchanged", import_sheet("sheet-2026.csv"))
        self.assertEqual(snapshot(), before)


class Sheet2026ImportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = import_sheet("sheet-2026.csv")

    def test_it_creates_one_incident_per_row(self):
        self.assertIn(
            "Layout 2026, 3 rows: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 warnings", self.output
        )
        self.assertEqual(
            sorted(Incident.objects.values_list("external_ids__value", flat=True)),
            ["AIAAIC0902", "AIAAIC1701", "AIAAIC1702"],
        )

    def test_jurisdiction_and_sector_under_impacted_area_become_country_and_sector(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1702")
        self.assertEqual(terms(incident, "country"), ["Kenya"])
        self.assertEqual(terms(incident, "sector"), ["Agriculture"])
        self.assertEqual(
            terms(Incident.objects.get(external_ids__value="AIAAIC0902"), "country"),
            ["United Kingdom", "Ireland"],
        )

    def test_the_grouped_and_renamed_columns_go_to_their_vocabularies(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1701")
        self.assertEqual(terms(incident, "news-trigger"), ["Legal complaint"])
        self.assertEqual(terms(incident, "issue"), ["Accuracy/reliability"])
        self.assertEqual(terms(incident, "harm-individual"), ["Loss of liberty"])
        self.assertEqual(terms(incident, "consequence"), ["Review ordered"])
        self.assertEqual(terms(incident, "response"), ["Policy change"])
        self.assertEqual(
            terms(Incident.objects.get(external_ids__value="AIAAIC1702"), "harm-environmental"),
            ["Environmental damage"],
        )
        self.assertEqual(Term.objects.get(name="Govt - immigration").parent.name, "Govt")

    def test_deployer_developer_and_system_name_are_entities_by_role(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1701")
        self.assertEqual(entities(incident, "deployer"), ["Border Agency"])
        self.assertEqual(entities(incident, "developer"), ["LinguaNet"])
        self.assertEqual(entities(incident, "system"), ["LinguaNet Translate"])

    def test_summary_links_give_the_source_and_the_summary(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1701")
        self.assertEqual(incident.source_url, "https://example.org/lingua-story")
        self.assertEqual(
            incident.summary, "Claims were refused after an app mistranslated what applicants said."
        )

    def test_a_summary_without_a_link_leaves_the_source_blank(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1702")
        self.assertEqual(incident.source_url, "")
        self.assertEqual(
            incident.summary, "Pesticide from an autonomous drone drifted onto a school playground."
        )

    def test_it_reads_a_month_and_year(self):
        incident = Incident.objects.get(external_ids__value="AIAAIC1702")
        self.assertEqual(incident.occurred, "2024-05")
        self.assertEqual(incident.occurred_precision, "month")
        self.assertEqual(incident.occurred_end, date(2024, 5, 31))

    def test_the_2024_layout_then_updates_the_incident_it_shares(self):
        output = import_sheet("sheet-2024.csv")
        self.assertIn("5 created, 1 updated, 0 unchanged", output)
        self.assertEqual(Incident.objects.filter(external_ids__value="AIAAIC0902").count(), 1)
        self.assertEqual(
            terms(Incident.objects.get(external_ids__value="AIAAIC0902"), "country"), ["UK", "Ireland"]
        )


class SheetImportServiceTests(TestCase):
    def test_it_returns_the_counts_and_reports_progress(self):
        calls = []
        result = sheet_import(
            data=(FIXTURES / "sheet-2024.csv").read_bytes(),
            progress=lambda done, total: calls.append((done, total)),
        )
        self.assertEqual(result.layout, "2024")
        self.assertEqual((result.rows, result.created, result.updated, result.unchanged), (6, 6, 0, 0))
        self.assertEqual(result.warnings, [])
        self.assertEqual([finding.kind for finding in result.report.notes], ["folded", "folded"])
        self.assertEqual(result.terms_created, Term.objects.count())
        self.assertEqual(result.entities_created, Entity.objects.count())
        self.assertEqual(calls, [(6, 6)])  # after each chunk of rows published

    def test_it_reads_text_as_well_as_bytes_and_a_byte_order_mark(self):
        sheet_import(data=fixture_text("sheet-2024.csv"))
        result = sheet_import(data=b"\xef\xbb\xbf" + (FIXTURES / "sheet-2024.csv").read_bytes())
        self.assertEqual((result.created, result.unchanged), (0, 6))

    def test_a_second_import_reports_nothing_changed(self):
        sheet_import(data=fixture_text("sheet-2024.csv"))
        result = sheet_import(data=fixture_text("sheet-2024.csv"))
        self.assertEqual((result.created, result.updated, result.unchanged), (0, 0, 6))
        self.assertEqual((result.terms_created, result.entities_created), (0, 0))

    def test_an_edited_cell_updates_only_its_incident(self):
        sheet_import(data=fixture_text("sheet-2024.csv"))
        edited = fixture_text("sheet-2024.csv").replace("Deliver food", "Deliver groceries")
        result = sheet_import(data=edited)
        self.assertEqual((result.created, result.updated, result.unchanged), (0, 1, 5))
        incident = Incident.objects.get(external_ids__value="AIAAIC0905")
        self.assertEqual(terms(incident, "purpose"), ["Deliver groceries"])
        self.assertEqual(incident.current_revision.number, 2)
        self.assertEqual(Revision.objects.count(), 7)

    def test_a_page_imported_first_is_updated_by_the_row_with_its_slug(self):
        call_command(
            "import_page",
            str(FIXTURES / "pages" / "welfare-fraud-algorithm-flags-single-parents.txt"),
            stdout=StringIO(),
        )
        page_incident = Incident.objects.get()
        self.assertIsNone(page_incident.aiaaic_id)
        result = sheet_import(data=fixture_text("sheet-2024.csv"))
        self.assertEqual((result.created, result.updated), (5, 1))
        incident = Incident.objects.get(external_ids__value="AIAAIC0904")
        self.assertEqual(incident.pk, page_incident.pk)
        self.assertEqual(incident.number, page_incident.number)
        # What the sheet has no column for stays as the page gave it.
        self.assertIn("## Parliamentary inquiry", incident.narrative)
        self.assertEqual(incident.references.count(), 5)
        self.assertEqual(incident.source_url, LINK + "welfare-fraud-algorithm-flags-single-parents")
        self.assertEqual(Incident.objects.count(), 6)


class SheetErrorTests(TestCase):
    """Only a file that cannot be read at all is refused; nothing is written then."""

    def assertNothingWritten(self):
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(Revision.objects.exists())
        self.assertFalse(Term.objects.exists())
        self.assertFalse(TermAlias.objects.exists())
        self.assertFalse(Entity.objects.exists())
        self.assertFalse(EntityAlias.objects.exists())

    def assertSheetError(self, data, *fragments):
        with self.assertRaises(SheetError) as caught:
            sheet_import(data=data)
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))
        self.assertNothingWritten()
        return str(caught.exception)

    def test_a_missing_file_is_an_error_naming_it(self):
        path = FIXTURES / "no-such-sheet.csv"
        with self.assertRaises(CommandError) as caught:
            call_command("import_sheet", str(path), stdout=StringIO())
        self.assertEqual(str(caught.exception), f"No such file: {path}")

    def test_a_file_without_a_column_row_is_an_error(self):
        self.assertSheetError("Title only\nsome,cells,here\n", "No column row found", "AIAAIC ID#")

    def test_a_sheet_without_a_headline_column_is_an_error(self):
        rows = fixture_text("sheet-2026.csv").splitlines()
        rows[1] = rows[1].replace("Headline,", ",")
        self.assertSheetError("\n".join(rows), "no headline column")

    def test_a_sheet_without_an_id_column_is_an_error(self):
        rows = fixture_text("sheet-2026.csv").splitlines()
        rows[1] = rows[1].replace("AIAAIC ID#,", "Number,")
        self.assertSheetError("\n".join(rows), "no id ('AIAAIC ID#') column")

    def test_strict_refuses_the_file_on_any_warning(self):
        with self.assertRaises(CommandError) as caught:
            call_command("import_sheet", str(FIXTURES / "bad-row.csv"), "--strict", stdout=StringIO())
        self.assertIn("--strict: 1 warning(s); nothing was imported", str(caught.exception))
        self.assertIn("row 6, column 'Occurred'", str(caught.exception))
        self.assertNothingWritten()

    def test_strict_accepts_a_clean_file(self):
        call_command("import_sheet", str(FIXTURES / "sheet-2024.csv"), "--strict", stdout=StringIO())
        self.assertEqual(Incident.objects.count(), 6)


class SheetRowProblemTests(TestCase):
    """A row problem is a warning naming its row and column: the rest is imported."""

    def findings(self, result, kind):
        return [str(finding) for finding in result.report.of_kind(kind)]

    def test_an_unreadable_period_is_left_out_of_its_row_and_the_rest_imported(self):
        output = import_sheet("bad-row.csv")
        self.assertIn("3 created", output)
        self.assertIn(
            "row 6, column 'Occurred': cannot read 'sometime' as a year, month or day; left out.", output
        )
        incident = Incident.objects.get(external_ids__value="AIAAIC0953")
        self.assertEqual(incident.occurred, "")
        self.assertEqual(terms(incident, "country"), ["Canada"])

    def test_an_unknown_type_is_left_out_with_a_warning(self):
        data = fixture_text("sheet-2024.csv").replace(",Incident,2018,", ",Accident,2018,")
        result = sheet_import(data=data)
        self.assertEqual(
            self.findings(result, "unreadable-cell"),
            ["row 7, column 'Type': 'Accident' is not a type (incident, issue, system, data); left out."],
        )
        incident = Incident.objects.get(external_ids__value="AIAAIC0904")
        self.assertEqual(incident.type, "")
        self.assertEqual(incident.released, "2018")

    def test_every_problem_is_listed_in_row_order_by_kind(self):
        data = (
            fixture_text("sheet-2024.csv")
            .replace(",Incident,2018,", ",Accident,2018,")
            .replace(",2023-,", ",2023-13,")
        )
        result = sheet_import(data=data)
        problems = self.findings(result, "unreadable-cell")
        self.assertEqual(len(problems), 2, problems)
        self.assertTrue(problems[0].startswith("row 6, column 'Occurred'"))
        self.assertTrue(problems[1].startswith("row 7, column 'Type'"))
        self.assertEqual(Incident.objects.count(), 6)

    def test_a_too_long_headline_is_shortened_and_kept_whole(self):
        long = "Delivery robot blocks ambulance " + "at a crossing again " * 16
        data = fixture_text("sheet-2024.csv").replace("Delivery robot blocks ambulance at crossing", long)
        result = sheet_import(data=data)
        incident = Incident.objects.get(external_ids__value="AIAAIC0905")
        self.assertLessEqual(len(incident.headline), 300)
        self.assertTrue(incident.headline.endswith("…"))
        self.assertEqual(incident.current_revision.document["extra"], {"Headline": " ".join(long.split())})
        self.assertIn("row 8, column 'Headline'", self.findings(result, "unreadable-cell")[0])

    def test_a_bad_released_part_is_left_out_and_the_good_one_kept(self):
        data = fixture_text("sheet-2024.csv").replace(",2022; 2023,", ",2022; soon,")
        result = sheet_import(data=data)
        self.assertEqual(Incident.objects.get(external_ids__value="AIAAIC0902").released, "2022")
        self.assertEqual(
            self.findings(result, "unreadable-cell"),
            ["row 5, column 'Released': 'soon' cannot be read as a year or date; left out, kept 2022."],
        )

    def test_a_bad_link_in_summary_links_is_left_out_with_a_warning_naming_that_column(self):
        data = fixture_text("sheet-2026.csv").replace(
            "https://example.org/lingua-story", "https://lingua_story/x"
        )
        result = sheet_import(data=data)
        self.assertEqual(Incident.objects.get(external_ids__value="AIAAIC1701").source_url, "")
        self.assertIn(
            "row 5, column 'Summary/links': 'https://lingua_story/x' is not a web address; left out.",
            result.warnings,
        )

    def test_a_bad_description_link_is_left_out_with_a_warning(self):
        data = fixture_text("sheet-2024.csv").replace(
            LINK + "delivery-robot-blocks-ambulance", "see the website"
        )
        result = sheet_import(data=data)
        self.assertEqual(Incident.objects.get(external_ids__value="AIAAIC0905").source_url, "")
        self.assertIn(
            "row 8, column 'Description/links': 'see the website' is not a web address; left out.",
            result.warnings,
        )

    def test_a_row_without_an_id_is_imported_without_one(self):
        data = fixture_text("sheet-2024.csv").replace("AIAAIC0903,", ",")
        result = sheet_import(data=data)
        self.assertEqual(
            self.findings(result, "missing-id"), ["row 6: the row has no id: imported without one."]
        )
        incident = Incident.objects.get(slug="video-generator-reproduces-cartoon-characters")
        self.assertEqual(incident.current_revision.document["external_ids"], [])
        again = sheet_import(data=data)  # found again by its source link
        self.assertEqual((again.created, again.unchanged), (0, 6))

    def test_a_malformed_id_is_kept_under_other_columns(self):
        data = fixture_text("sheet-2024.csv").replace("AIAAIC0903,", "AIAIC903,")
        result = sheet_import(data=data)
        self.assertIn(
            "row 6, column 'AIAAIC ID#': 'AIAIC903' is not an AIAAIC id",
            self.findings(result, "missing-id")[0],
        )
        incident = Incident.objects.get(slug="video-generator-reproduces-cartoon-characters")
        self.assertEqual(incident.current_revision.document["extra"], {"AIAAIC ID#": "AIAIC903"})

    def test_a_row_with_an_id_and_no_headline_is_skipped(self):
        data = fixture_text("sheet-2024.csv") + "AIAAIC0907,,,,,,,,,,,,,,,,,,,,,,\n"
        result = sheet_import(data=data)
        self.assertEqual(
            self.findings(result, "skipped-row"),
            ["row 10: AIAAIC0907 has no headline (a withdrawn or placeholder entry): skipped."],
        )
        self.assertEqual((result.rows, result.created, result.skipped), (7, 6, 1))

    def test_an_id_repeated_is_imported_once_its_copies_merged_and_disagreements_reported(self):
        rows = fixture_text("sheet-2024.csv").splitlines()
        # A copy of row 4 with fewer values, one of them different, and one the first lacks.
        copy = rows[3].split(",")
        copy[2], copy[3] = "", "2024"  # blank type; released disagrees
        copy[14] = "Governance; Marketing"  # transparency disagrees
        rows.append(",".join(copy))
        rows[5] = rows[5].replace(",Copyright,,", ",Copyright,Black box,")
        result = sheet_import(data="\n".join(rows) + "\n")
        self.assertEqual(result.created, 6)
        self.assertEqual(
            self.findings(result, "repeated-id"),
            ["row 4: AIAAIC0901 is also on row(s) 10: imported once."],
        )
        disagreements = self.findings(result, "disagreement")
        self.assertEqual(len(disagreements), 2, disagreements)
        self.assertIn("released is '2023' on row 4 and '2024' here; the first is kept.", disagreements[0])
        incident = Incident.objects.get(external_ids__value="AIAAIC0901")
        self.assertEqual(incident.type, "incident")
        self.assertEqual(incident.released, "2023")

    def test_a_column_it_does_not_know_is_kept_and_reported_with_its_count(self):
        output = import_sheet("unknown-layout.csv")
        self.assertIn(
            "column 'Notes': not a column this site knows; its 1 non-blank cell(s) are kept under "
            "'Other source columns' of each incident.",
            output,
        )
        incident = Incident.objects.get(external_ids__value="AIAAIC0961")
        self.assertEqual(incident.current_revision.document["extra"], {"Notes": "checked by hand"})
        self.assertEqual(entities(incident, "deployer"), ["Talentia"])  # Operator(s) is the deployer

    def test_a_utf16_file_is_read(self):
        sheet_import(data=fixture_text("sheet-2024.csv").encode("utf-16"))
        self.assertEqual(Incident.objects.count(), 6)

    def test_a_windows_1252_file_is_read_with_a_warning(self):
        data = (
            fixture_text("sheet-2024.csv").replace("RoboRun courier", "RoboRun coursier é").encode("cp1252")
        )
        result = sheet_import(data=data)
        self.assertIn("was read as Windows-1252", self.findings(result, "ambiguous")[0])
        self.assertEqual(
            entities(Incident.objects.get(external_ids__value="AIAAIC0905"), "system"), ["RoboRun coursier é"]
        )

    def test_the_report_file_lists_every_finding(self):
        path = Path(self.enterContext(tempfile.TemporaryDirectory())) / "report.csv"
        call_command("import_sheet", str(FIXTURES / "bad-row.csv"), "--report", str(path), stdout=StringIO())
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        self.assertEqual(
            [
                (row["kind"], row["warning"], row["row"], row["column"])
                for row in rows
                if row["warning"] == "yes"
            ],
            [("unreadable-cell", "yes", "6", "Occurred")],
        )


class MissingVocabularyTests(TestCase):
    def test_a_missing_vocabulary_is_one_clear_error(self):
        from repository.models import Vocabulary

        Vocabulary.objects.filter(slug="harm-legal").delete()
        with self.assertRaises(SheetError) as caught:
            sheet_import(data=(FIXTURES / "sheet-2024.csv").read_bytes())
        self.assertIn("The site has no vocabulary harm-legal", str(caught.exception))
        self.assertEqual(Incident.objects.count(), 0)
