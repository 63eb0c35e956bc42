import shutil
import tempfile
from datetime import date
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone

from repository.importers.pages import PageError, parse_page
from repository.models import Entity, Incident, Reference, Revision, Term
from repository.tests.base import entities, terms

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
GOOD_PAGE = PAGES / "welfare-fraud-algorithm-flags-single-parents.txt"
SLUG = "welfare-fraud-algorithm-flags-single-parents"


def import_pages(*paths):
    """Run the management command; returns what it printed."""
    out = StringIO()
    call_command("import_page", *map(str, paths), stdout=out)
    return out.getvalue()


def line_number(path, text):
    """The 1-based number of the line of `path` that is `text`."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return lines.index(text) + 1


def page_text(**replacements):
    text = GOOD_PAGE.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


class PageFileTestCase(TestCase):
    """Gives each test a scratch directory for edited copies of the fixture pages."""

    def setUp(self):
        self.directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.directory)

    def write_page(self, text, name=f"{SLUG}.txt"):
        path = self.directory / name
        path.write_text(text, encoding="utf-8")
        return path


class GoodPageImportTests(PageFileTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = import_pages(GOOD_PAGE)
        cls.incident = Incident.objects.get()

    def test_it_creates_the_incident_named_after_the_file(self):
        self.assertIn(f"created   /incidents/{SLUG}/", self.output)
        self.assertIn("1 page(s): 1 created, 0 updated, 0 unchanged.", self.output)
        self.assertEqual(self.incident.slug, SLUG)
        self.assertIsNone(self.incident.aiaaic_id)
        self.assertEqual(self.incident.current_revision.number, 1)
        self.assertEqual(self.incident.current_revision.summary, "Imported from an incident page: Created")

    def test_it_reads_the_headline(self):
        self.assertEqual(self.incident.headline, "Welfare fraud algorithm wrongly flags single parents")

    def test_it_reads_occurred_at_month_precision(self):
        self.assertEqual(self.incident.occurred, "2021-02")
        self.assertEqual(self.incident.occurred_precision, "month")
        self.assertEqual(self.incident.occurred_start, date(2021, 2, 1))
        self.assertEqual(self.incident.occurred_end, date(2021, 2, 28))
        self.assertEqual(self.incident.occurred_display, "February 2021")

    def test_the_narrative_keeps_paragraphs_and_the_sub_heading(self):
        self.assertEqual(
            self.incident.narrative,
            "A risk-scoring system used by the social affairs ministry to look for benefit fraud marked "
            "thousands of single parents as high risk, a newspaper investigation found.\n\n"
            "Families flagged by the system had their payments frozen while officials reviewed their "
            "files, often for months and without being told why.\n\n"
            "## Parliamentary inquiry\n\n"
            "A parliamentary committee later found that the ministry could not explain how the scores "
            "were calculated.\nIt recommended switching the system off until an independent audit was "
            "complete.",
        )

    def test_the_narrative_leaves_out_the_invitation_and_the_classification(self):
        self.assertNotIn("Can you improve this page?", self.incident.narrative)
        self.assertNotIn("Share your insights", self.incident.narrative)
        self.assertNotIn("Operator:", self.incident.narrative)

    def test_the_summary_is_the_first_paragraph(self):
        self.assertTrue(self.incident.summary.startswith("A risk-scoring system used by"))
        self.assertTrue(self.incident.summary.endswith("a newspaper investigation found."))

    def test_the_operator_line_gives_the_deployers(self):
        self.assertEqual(
            entities(self.incident, "deployer"), ["Ministry of Social Affairs", "Eastvale Municipality"]
        )

    def test_the_developer_line_gives_the_developers(self):
        self.assertEqual(entities(self.incident, "developer"), ["Scorewell Analytics"])
        self.assertEqual(entities(self.incident, "system"), [])

    def test_each_vocabulary_line_gives_its_terms(self):
        expected = {
            "country": ["Netherlands"],
            "sector": ["Govt - welfare"],
            "purpose": ["Detect welfare fraud"],
            "technology": ["Risk assessment algorithm", "Machine learning"],
            "issue": ["Bias/discrimination - income", "Accountability", "Privacy"],
            "transparency": ["Black box", "Complaints/appeals"],
        }
        for vocabulary, names in expected.items():
            with self.subTest(vocabulary=vocabulary):
                self.assertEqual(terms(self.incident, vocabulary), names)
        self.assertEqual(self.incident.current_revision.document["terms"], expected)
        self.assertEqual(Term.objects.get(name="Govt - welfare").parent.name, "Govt")

    def test_references_are_kept_in_their_five_categories(self):
        found = {}
        for reference in self.incident.references.order_by("position"):
            found.setdefault(reference.category, []).append(reference.url)
        self.assertEqual(
            found,
            {
                "system": ["https://example.org/b"],
                "legal": ["https://example.org/a"],
                "investigations": ["https://example.org/inquiry-report"],
                "news": ["https://example.org/news/fraud-flags", "https://example.org/news/follow-up"],
            },
        )
        self.assertEqual(self.incident.current_revision.document["references"]["research"], [])

    def test_a_reference_line_with_bars_gives_title_publisher_and_date(self):
        reference = self.incident.references.get(url="https://example.org/a")
        self.assertEqual(reference.category, Reference.Category.LEGAL)
        self.assertEqual(reference.title, "Court ruling on FraudScore")
        self.assertEqual(reference.publisher, "District Court of Eastvale")
        self.assertEqual(reference.published, "2021-02-09")

    def test_a_reference_date_can_be_written_in_words(self):
        reference = self.incident.references.get(url="https://example.org/news/fraud-flags")
        self.assertEqual(reference.title, "Thousands of parents wrongly flagged by fraud algorithm")
        self.assertEqual(reference.publisher, "Daily Ledger")
        self.assertEqual(reference.published, "2021-02-12")

    def test_a_reference_line_with_a_dash_gives_the_title(self):
        reference = self.incident.references.get(url="https://example.org/b")
        self.assertEqual(reference.category, Reference.Category.SYSTEM)
        self.assertEqual(
            (reference.title, reference.publisher, reference.published),
            ("FraudScore model documentation", "", ""),
        )

    def test_a_bare_address_is_a_reference_without_a_title(self):
        reference = self.incident.references.get(url="https://example.org/news/follow-up")
        self.assertEqual((reference.title, reference.publisher), ("", ""))

    def test_a_second_import_reports_unchanged_and_adds_no_revision(self):
        updated_at = Incident.objects.get().updated_at
        output = import_pages(GOOD_PAGE)
        self.assertIn("1 page(s): 0 created, 0 updated, 1 unchanged.", output)
        self.assertEqual(Revision.objects.count(), 1)
        self.assertEqual(Incident.objects.get().updated_at, updated_at)

    def test_an_edited_page_updates_the_same_incident_with_a_new_revision(self):
        path = self.write_page(
            page_text(
                **{
                    "Occurred: February 2021": "Occurred: March 2021",
                    "Country: Netherlands": "Country: Netherlands; Belgium",
                    "Research, advocacy\n": "Research, advocacy\nRisk scoring in welfare - https://example.org/study\n",
                }
            )
        )
        output = import_pages(path)
        self.assertIn("1 page(s): 0 created, 1 updated, 0 unchanged.", output)
        incident = Incident.objects.get()
        self.assertEqual(incident.pk, self.incident.pk)
        self.assertEqual(incident.number, self.incident.number)
        self.assertEqual(incident.occurred, "2021-03")
        self.assertEqual(terms(incident, "country"), ["Netherlands", "Belgium"])
        self.assertEqual(
            list(incident.references.filter(category="research").values_list("title", flat=True)),
            ["Risk scoring in welfare"],
        )
        self.assertEqual(list(incident.revisions.values_list("number", flat=True)), [2, 1])
        self.assertEqual(incident.current_revision.number, 2)

    def test_link_health_survives_an_edit_that_keeps_the_reference(self):
        checked_at = timezone.now()
        Reference.objects.filter(url="https://example.org/a").update(checked_at=checked_at, status_code=404)
        import_pages(self.write_page(page_text(**{"Occurred: February 2021": "Occurred: 2021"})))
        reference = Reference.objects.get(url="https://example.org/a")
        self.assertEqual((reference.checked_at, reference.status_code), (checked_at, 404))

    def test_a_reference_dated_only_by_month_keeps_its_precision_in_the_document(self):
        path = self.write_page(
            page_text(**{"| 12 February 2021 |": "| February 2021 |"}),
        )
        self.assertIn("1 updated", import_pages(path))
        incident = Incident.objects.get()
        [news] = incident.current_revision.document["references"]["news"][:1]
        self.assertEqual(news["published"], "2021-02")
        self.assertEqual(Reference.objects.get(url=news["url"]).published, "2021-02")
        self.assertIn("0 updated, 1 unchanged", import_pages(path))


class PageAfterSheetTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("import_sheet", str(FIXTURES / "sheet-2024.csv"), stdout=StringIO())
        cls.sheet_incident = Incident.objects.get(external_ids__value="AIAAIC0904")
        cls.output = import_pages(GOOD_PAGE)

    def test_a_page_with_the_slug_of_a_sheet_incident_updates_it(self):
        self.assertIn("1 page(s): 0 created, 1 updated, 0 unchanged.", self.output)
        self.assertEqual(Incident.objects.count(), 6)
        incident = Incident.objects.get(slug=SLUG)
        self.assertEqual(incident.pk, self.sheet_incident.pk)
        self.assertEqual(incident.aiaaic_id, "AIAAIC0904")
        self.assertEqual(incident.current_revision.number, 2)
        self.assertEqual(incident.occurred, "2021-02")
        self.assertIn("## Parliamentary inquiry", incident.narrative)

    def test_what_the_page_gives_replaces_the_sheet_values(self):
        incident = Incident.objects.get(slug=SLUG)
        self.assertEqual(
            entities(incident, "deployer"), ["Ministry of Social Affairs", "Eastvale Municipality"]
        )
        self.assertEqual(entities(incident, "developer"), ["Scorewell Analytics"])
        self.assertEqual(
            terms(incident, "issue"), ["Bias/discrimination - income", "Accountability", "Privacy"]
        )

    def test_what_the_page_leaves_out_stays_as_the_sheet_gave_it(self):
        incident = Incident.objects.get(slug=SLUG)
        self.assertEqual(incident.type, "incident")
        self.assertEqual(incident.released, "2018")
        self.assertEqual(incident.source_url, self.sheet_incident.source_url)
        self.assertEqual(entities(incident, "system"), ["FraudScore"])
        self.assertEqual(terms(incident, "news-trigger"), ["Media investigation"])
        self.assertEqual(terms(incident, "harm-legal"), ["Litigation"])

    def test_names_the_sheet_already_has_are_reused(self):
        self.assertEqual(Entity.objects.filter(name="Ministry of Social Affairs").count(), 1)
        self.assertEqual(
            Term.objects.filter(vocabulary__slug="technology", name="Machine learning").count(), 1
        )


class MalformedPageTests(PageFileTestCase):
    def assertPageError(self, path, line_text, fragment):
        with self.assertRaises(CommandError) as caught:
            import_pages(path)
        message = str(caught.exception)
        self.assertIn(str(path), message)
        self.assertIn(f"line {line_number(path, line_text)}:", message)
        self.assertIn(fragment, message)
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(Term.objects.exists())
        self.assertFalse(Entity.objects.exists())
        return message

    def test_a_page_without_an_occurred_line_is_an_error_naming_file_and_line(self):
        message = self.assertPageError(
            PAGES / "page-without-occurred.txt", "Can you improve this page?", "expected 'Occurred:"
        )
        self.assertIn("line 3:", message)

    def test_sections_out_of_order_are_an_error_naming_file_and_line(self):
        self.assertPageError(PAGES / "page-sections-out-of-order.txt", "Legal, regulatory", "out of order")

    def test_a_reference_without_an_address_is_an_error_naming_file_and_line(self):
        self.assertPageError(
            PAGES / "page-reference-without-url.txt",
            "Council apologises for sensor errors | Northgate Echo | 2020-06-01",
            "needs a web address",
        )

    def test_an_unknown_label_after_the_classification_is_an_error_naming_file_and_line(self):
        self.assertPageError(
            PAGES / "page-unknown-label.txt", "Severity: moderate", "not a classification line"
        )

    def test_an_unreadable_occurred_value_is_an_error_naming_file_and_line(self):
        path = self.write_page(page_text(**{"Occurred: February 2021": "Occurred: sometime"}))
        self.assertPageError(path, "Occurred: sometime", "cannot read 'sometime'")

    def test_a_label_given_twice_is_an_error_naming_file_and_line(self):
        path = self.write_page(
            page_text(**{"Country: Netherlands\n": "Country: Netherlands\nCountry: Belgium\n"})
        )
        self.assertPageError(path, "Country: Belgium", "given twice")

    def test_one_bad_page_among_good_ones_imports_nothing(self):
        bad = PAGES / "page-unknown-label.txt"
        with self.assertRaises(CommandError) as caught:
            import_pages(GOOD_PAGE, bad)
        self.assertIn(str(bad), str(caught.exception))
        self.assertNotIn(str(GOOD_PAGE), str(caught.exception))
        self.assertFalse(Incident.objects.exists())

    def test_every_bad_page_is_listed(self):
        paths = sorted(PAGES.glob("page-*.txt"))
        self.assertEqual(len(paths), 4)
        with self.assertRaises(CommandError) as caught:
            import_pages(*paths)
        for path in paths:
            self.assertIn(str(path), str(caught.exception))

    def test_a_missing_file_is_an_error_naming_it(self):
        path = self.directory / "missing.txt"
        with self.assertRaises(CommandError) as caught:
            import_pages(path)
        self.assertIn(f"{path}: cannot be read", str(caught.exception))


class ParsePageTests(TestCase):
    def test_an_empty_page_is_an_error(self):
        with self.assertRaisesMessage(PageError, "line 1: the page is empty"):
            parse_page("\n\n")

    def test_a_page_must_start_with_its_headline(self):
        with self.assertRaisesMessage(PageError, "line 2: the page must start with its headline"):
            parse_page("\nOccurred: 2021\n")

    def test_a_reference_title_keeps_its_closing_parenthesis(self):
        page = parse_page(page_text(**{"FraudScore model documentation - ": "FraudScore manual (pdf) - "}))
        self.assertEqual(page.references["system"][0]["title"], "FraudScore manual (pdf)")

    def test_an_address_with_balanced_parentheses_is_kept_whole(self):
        url = "https://en.wikipedia.org/wiki/Scorewell_(company)"
        page = parse_page(page_text(**{"https://example.org/news/follow-up": url}))
        self.assertEqual(page.references["news"][1]["url"], url)

    def test_an_address_in_parentheses_loses_the_parentheses(self):
        page = parse_page(
            page_text(**{"https://example.org/news/follow-up": "Follow-up (https://example.org/f)."})
        )
        self.assertEqual(
            page.references["news"][1],
            {"url": "https://example.org/f", "title": "Follow-up", "publisher": "", "published": ""},
        )

    def test_a_page_without_reference_sections_leaves_references_alone(self):
        text = page_text().split("\nSystem\n")[0]
        self.assertIsNone(parse_page(text).references)

    def test_a_bulleted_reference_loses_its_bullet(self):
        page = parse_page(
            page_text(**{"https://example.org/news/follow-up": "- https://example.org/news/follow-up"})
        )
        self.assertEqual(page.references["news"][1]["url"], "https://example.org/news/follow-up")


class PageOfAMergedIncidentTests(PageFileTestCase):
    def test_a_page_named_after_a_merged_incident_is_a_clear_error(self):
        from repository.services import incident_merge
        from repository.tests.base import publish

        import_pages(GOOD_PAGE)
        merged = Incident.objects.get(slug=SLUG)
        survivor = publish("Benefit fraud algorithm targets single parents", slug="benefit-fraud")
        incident_merge(survivor=survivor, merged=merged, editor=None)
        edited = self.write_page(page_text(**{"Occurred: February 2021": "Occurred: March 2021"}))
        with self.assertRaises(CommandError) as caught:
            import_pages(edited)
        self.assertIn(
            f"{SLUG}: this incident was merged into incident #{survivor.number} (benefit-fraud)",
            str(caught.exception),
        )
        self.assertEqual(Incident.objects.get(slug=SLUG).revisions.count(), 2)
