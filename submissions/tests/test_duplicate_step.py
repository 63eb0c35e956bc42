"""The report form's duplicate step: nothing chosen for the contributor, each candidate's
summary and why it matched, a way back; sources and organisations compared as people write them."""

from repository import documents
from repository.models import Entity, EntityAlias
from repository.tests.base import make_document, publish
from submissions.duplicates import find_duplicates
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase
from submissions.tests.html import Page


def report(headline="Shop uses face matching", **fields):
    return make_document(headline, **{"occurred": "2021", **fields})


class DuplicateStepTests(SubmissionsTestCase):
    def report_data(self, **changes):
        return {
            "step": "check",
            "headline": "Camera flags ethnic minority for police",
            "occurred": "2021",
            "narrative": "Cameras alerted police.",
            "sources": "https://other.example.org/story",
            **changes,
        }

    def test_nothing_is_chosen_and_each_candidate_shows_its_summary_and_why(self):
        response = self.client.post("/submit/", self.report_data())
        self.assertContains(response, "Is your incident one of these?")
        page = Page(response.content.decode())
        radios = page.find(type="radio", name="duplicate_of")
        self.assertEqual([attrs["value"] for _, attrs in radios], [str(self.incident.pk), "new"])
        self.assertFalse(any("checked" in attrs for _, attrs in radios))
        self.assertContains(response, "A camera maker&#x27;s software alerted police.")
        self.assertContains(response, "Why it may be yours: has a similar headline.")
        self.assertEqual(page.find(role="alert"), [])

    def test_sending_without_choosing_is_refused_with_a_summary(self):
        response = self.client.post("/submit/", {**self.report_data(), "step": "send"})
        self.assertContains(response, "Choose the incident yours is, or say yours is new.")
        page = Page(response.content.decode())
        self.assertTrue(page.title.startswith("Error: "))
        self.assertEqual(len(page.find(role="alert")), 1)
        self.assertEqual(len(page.find(href="#duplicate-choices")), 1)
        self.assertIn("duplicate-choices", page.ids())
        self.assertEqual(page.dangling_describedby(), [])
        self.assertFalse(Submission.objects.exists())

    def test_back_returns_to_the_report_as_typed(self):
        response = self.client.post("/submit/", {**self.report_data(), "step": "edit"})
        self.assertTemplateUsed(response, "submissions/report.html")
        page = Page(response.content.decode())
        [(_, headline)] = page.find(id="id_headline")
        self.assertEqual(headline["value"], "Camera flags ethnic minority for police")
        self.assertEqual(page.find(role="alert"), [])
        self.assertFalse(Submission.objects.exists())


class SameSourceTests(SubmissionsTestCase):
    def test_a_reference_is_the_same_source_whatever_its_spelling(self):
        # The incident cites https://news.example.org/a
        for url in (
            "http://www.news.example.org/a/?utm_source=twitter&utm_medium=social#comments",
            "https://news.example.org/a/amp/",
            "NEWS.example.org/a",
        ):
            with self.subTest(url=url):
                found = find_duplicates(report(references={"news": [{"url": url}]}))
                self.assertEqual([c.incident for c in found], [self.incident])
                self.assertEqual(found[0].reasons, ["cites the same source"])

    def test_an_incidents_source_is_compared_by_its_normalised_key(self):
        sourced = publish("Quiet page", slug="quiet", source_url="https://www.example.org/incidents/quiet/")
        found = find_duplicates(
            report(references={"news": [{"url": "http://example.org/incidents/quiet?fbclid=1"}]})
        )
        self.assertEqual([c.incident for c in found], [sourced])

    def test_another_page_of_the_same_site_is_not_the_same_source(self):
        found = find_duplicates(report(references={"news": [{"url": "https://news.example.org/ab"}]}))
        self.assertEqual(found, [])


class SameOrganisationTests(SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.dahua = publish(
            "Cameras send real-time warnings",
            slug="dahua-warnings",
            occurred="2021",
            entities={"developer": ["Zhejiang Dahua Technology"]},
        )
        cls.meta = publish(
            "Feed ranks outrage", slug="feed", occurred="2021", entities={"deployer": ["Meta Platforms"]}
        )
        entity = Entity.objects.get(name="Meta Platforms")
        EntityAlias.objects.create(entity=entity, name="Facebook", key=documents.fold("Facebook"))

    def test_a_whole_word_of_an_organisations_name_matches_it(self):
        [candidate] = find_duplicates(report(entities={"developer": ["Dahua"]}))
        self.assertEqual(candidate.incident, self.dahua)
        self.assertEqual(
            candidate.reasons,
            ["names the same deployer or developer in the same period: Dahua (Zhejiang Dahua Technology)"],
        )

    def test_short_names_and_parts_of_words_do_not_match(self):
        for name in ("Hua", "Dahu", "Technolog"):
            with self.subTest(name=name):
                self.assertEqual(find_duplicates(report(entities={"developer": [name]})), [])

    def test_an_alias_matches_its_organisation(self):
        [candidate] = find_duplicates(report(entities={"deployer": ["facebook"]}))
        self.assertEqual(candidate.incident, self.meta)
        self.assertIn("facebook (Meta Platforms)", candidate.reasons[0])

    def test_another_period_does_not_match(self):
        self.assertEqual(find_duplicates(report(occurred="2015", entities={"developer": ["Dahua"]})), [])
