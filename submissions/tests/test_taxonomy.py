"""The editors' taxonomy desk: finding, previewing, confirming, undoing."""

from repository.models import CurationEvent, Entity, Term
from repository.services import term_merge, term_rename
from repository.tests.base import entities, publish, terms
from submissions.tests.base import SubmissionsTestCase


def country(name):
    return Term.objects.get(vocabulary__slug="country", name=name)


class TaxonomyPagesTests(SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.usa_incident = publish(
            "Border cameras misidentify travellers",
            terms={"country": ["USA"]},
            entities={"deployer": ["Meta/Facebook"]},
        )
        cls.us_incident = publish("Chatbot invents a court case", terms={"country": ["US"]})

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def test_the_index_lists_vocabularies_with_their_term_counts(self):
        response = self.client.get("/moderation/taxonomy/")
        counts = {v.slug: v.term_count for v in response.context["vocabularies"]}
        self.assertEqual(counts["country"], 3)  # China, USA, US
        self.assertEqual(counts["technology"], 1)
        self.assertContains(response, "Probable variants to merge")

    def test_the_search_finds_terms_and_entities_by_any_spelling(self):
        term_rename(term=country("USA"), name="United States", editor=self.editor)
        response = self.client.get("/moderation/taxonomy/", {"q": "usa"})
        self.assertEqual(
            [(t.name, t.incident_count) for t in response.context["terms"]], [("United States", 1)]
        )
        response = self.client.get("/moderation/taxonomy/", {"q": "facebook"})
        self.assertEqual(
            [(e.name, e.incident_count) for e in response.context["entities"]], [("Meta/Facebook", 1)]
        )

    def test_the_index_and_search_cost_the_same_whatever_the_number_of_terms(self):
        # session; user; user permissions; group permissions; vocabularies with counts;
        # entity count; the header count
        with self.assertNumQueries(7):
            self.client.get("/moderation/taxonomy/")
        # with a search: session; user; user permissions; group permissions; terms count;
        # entities count; the header count; the page of terms; the page of entities
        with self.assertNumQueries(9):
            self.client.get("/moderation/taxonomy/", {"q": "a"})
        for n in range(15):
            publish(f"More {n}", terms={"country": [f"Land {n}"]}, entities={"deployer": [f"Agency {n}"]})
        with self.assertNumQueries(7):
            self.client.get("/moderation/taxonomy/")
        with self.assertNumQueries(9):
            response = self.client.get("/moderation/taxonomy/", {"q": "a"})
        self.assertGreater(len(response.context["terms"].object_list), 15)

    def test_variants_pair_probable_duplicates_with_the_incidents_each_merge_touches(self):
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "country"})
        pairs = [
            (a["name"], a["count"], b["name"], b["count"]) for a, b in response.context["page"].object_list
        ]
        self.assertEqual(pairs, [("US", 1, "USA", 1)])
        self.assertContains(response, "“US” into “USA” (1 incident)")
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "organisation"})
        self.assertEqual(response.context["page"].object_list, [])

    def test_variants_include_terms_whose_names_fold_alike(self):
        # Two rows of one name but for case, as an older database may hold.
        twin = Term.objects.create(vocabulary=country("USA").vocabulary, name="usa", slug="usa-2")
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "country"})
        pairs = {(a["pk"], b["pk"]) for a, b in response.context["page"].object_list}
        self.assertIn((country("USA").pk, twin.pk), pairs)

    def test_the_variants_page_costs_the_same_whatever_the_number_of_terms(self):
        # session; user; user permissions; group permissions; vocabularies; the names with
        # their incident counts; the header count
        with self.assertNumQueries(7):
            self.client.get("/moderation/taxonomy/variants/?scope=country")
        for n in range(15):
            publish(f"More {n}", terms={"country": [f"Republic {n}", f"Rep {n}"]})
        with self.assertNumQueries(7):
            response = self.client.get("/moderation/taxonomy/variants/?scope=country")
        self.assertGreater(response.context["page"].paginator.count, 1)

    def test_the_term_page_costs_the_same_whatever_its_history(self):
        us = country("US")
        # session; user; user permissions; group permissions; the term; its aliases; its
        # incident count; its curation events; the header count
        with self.assertNumQueries(9):
            self.client.get(f"/moderation/taxonomy/terms/{us.pk}/")
        for n in range(5):
            term_rename(
                term=country("US" if n % 2 == 0 else "U.S."),
                name="U.S." if n % 2 == 0 else "US",
                editor=self.editor,
            )
        with self.assertNumQueries(9):
            response = self.client.get(f"/moderation/taxonomy/terms/{us.pk}/")
        self.assertEqual(len(response.context["events"]), 5)

    def test_the_entity_page(self):
        entity = Entity.objects.get(name="Meta/Facebook")
        # session; user; user permissions; group permissions; the entity; its aliases; its
        # incident count; its curation events; the header count
        with self.assertNumQueries(9):
            response = self.client.get(f"/moderation/taxonomy/entities/{entity.pk}/")
        self.assertEqual(response.context["split_form"]["names"].value(), "Meta\nFacebook")

    def test_a_rename_is_confirmed_before_it_is_made(self):
        usa = country("USA")
        url = f"/moderation/taxonomy/terms/{usa.pk}/rename/"
        response = self.client.post(url, {"name": "United States", "note": "full name"})
        self.assertContains(response, "1 incident will get a new revision")
        self.assertContains(response, 'name="confirmed" value="yes"')
        self.assertEqual(country("USA").name, "USA")
        response = self.client.post(url, {"name": "United States", "note": "full name", "confirmed": "yes"})
        self.assertRedirects(response, f"/moderation/taxonomy/terms/{usa.pk}/")
        self.assertEqual(terms(self.usa_incident, "country"), ["United States"])
        self.assertIn("full name", self.usa_incident.revisions.first().summary)

    def test_a_refused_rename_says_why(self):
        usa = country("USA")
        response = self.client.post(
            f"/moderation/taxonomy/terms/{usa.pk}/rename/", {"name": "US", "confirmed": "yes"}, follow=True
        )
        self.assertContains(response, "merge “USA” into it instead")
        self.assertFalse(CurationEvent.objects.exists())

    def test_an_empty_form_is_shown_again_with_its_error(self):
        usa = country("USA")
        response = self.client.post(f"/moderation/taxonomy/terms/{usa.pk}/merge/", {"into": "Atlantis"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Nothing of that name to merge into.", status_code=400)

    def test_an_editor_merges_a_variant_and_its_old_page_redirects(self):
        us, usa = country("US"), country("USA")
        url = f"/moderation/taxonomy/terms/{us.pk}/merge/"
        response = self.client.post(url, {"into_id": usa.pk})
        self.assertContains(response, "Merge the Country term “US” into “USA”.")
        self.assertContains(response, "1 incident will get a new revision")
        response = self.client.post(url, {"into_id": usa.pk, "confirmed": "yes"})
        self.assertRedirects(response, f"/moderation/taxonomy/terms/{usa.pk}/")
        self.assertEqual(terms(self.us_incident, "country"), ["USA"])
        self.client.logout()
        self.assertRedirects(self.client.get(us.get_absolute_url()), usa.get_absolute_url(), status_code=301)

    def test_an_editor_moves_a_term(self):
        us, usa = country("US"), country("USA")
        self.client.post(f"/moderation/taxonomy/terms/{us.pk}/move/", {"parent": "usa", "confirmed": "yes"})
        self.assertEqual(country("US").parent, usa)

    def test_an_editor_splits_an_entity(self):
        entity = Entity.objects.get(name="Meta/Facebook")
        url = f"/moderation/taxonomy/entities/{entity.pk}/split/"
        response = self.client.post(url, {"names": "Meta\nFacebook"})
        self.assertContains(response, "Split “Meta/Facebook” into “Meta”, “Facebook”.")
        self.client.post(url, {"names": "Meta\nFacebook", "confirmed": "yes"})
        self.assertEqual(entities(self.usa_incident, "deployer"), ["Meta", "Facebook"])

    def test_the_log_undoes_an_event(self):
        event = term_merge(term=country("US"), into=country("USA"), editor=self.editor)
        # session; user; user permissions; group permissions; count; page of events; the
        # header count
        with self.assertNumQueries(7):
            response = self.client.get("/moderation/taxonomy/log/")
        self.assertContains(response, "Undo")
        response = self.client.post(f"/moderation/taxonomy/log/{event.pk}/undo/", follow=True)
        self.assertContains(response, "Undone. 1 incident(s) got a new revision.")
        self.assertEqual(terms(self.us_incident, "country"), ["US"])
        response = self.client.post(f"/moderation/taxonomy/log/{event.pk}/undo/", follow=True)
        self.assertContains(response, "undone already")
        for n in range(5):
            term_rename(
                term=country(f"China {n - 1}" if n else "China"), name=f"China {n}", editor=self.editor
            )
        with self.assertNumQueries(7):
            response = self.client.get("/moderation/taxonomy/log/")
        self.assertEqual(len(response.context["page"].object_list), 7)
