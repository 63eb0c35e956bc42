"""The editors' taxonomy desk: finding, previewing, confirming, undoing."""

from unittest import mock

from django.test import SimpleTestCase

from repository.lookalikes import merge_direction
from repository.models import CurationEvent, Entity, Incident, Term
from repository.services import entity_merge, incident_publish, term_merge, term_rename
from repository.tests.base import entities, make_document, publish, terms
from submissions import tasks
from submissions.tests.base import SubmissionsTestCase


def merges(response):
    """The variants page's suggested merges, (variant, preferred, why), group after group."""
    return [merge for cluster in response.context["page"].object_list for merge in cluster.merges]


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
        pairs = [(a["name"], a["count"], b["name"], b["count"], why) for a, b, why in merges(response)]
        self.assertEqual(pairs, [("US", 1, "USA", 1, "as many uses each: the longer name")])
        self.assertContains(response, "“US” into “USA” (1 incident)")
        self.assertContains(response, 'aria-label="Swap: “USA” into “US” (1 incident)"')
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "organisation"})
        self.assertEqual(response.context["page"].object_list, [])

    def test_variants_include_terms_whose_names_fold_alike(self):
        # Two rows of one name but for case, as an older database may hold.
        twin = Term.objects.create(vocabulary=country("USA").vocabulary, name="usa", slug="usa-2")
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "country"})
        pairs = {frozenset((a["pk"], b["pk"])) for a, b, _why in merges(response)}
        self.assertIn(frozenset((country("USA").pk, twin.pk)), pairs)

    def test_the_variants_page_costs_the_same_whatever_the_number_of_terms(self):
        # session; user; user permissions; group permissions; vocabularies; the header count;
        # with no broker, the first visit after a publish works them out in the request too:
        # the names with their incident counts
        for _visit, queries in (("first", 7), ("kept", 6)):
            with self.assertNumQueries(queries):
                self.client.get("/moderation/taxonomy/variants/?scope=country")
        with self.captureOnCommitCallbacks(execute=True):  # publishing renews the freshness token
            for n in range(15):
                publish(f"More {n}", terms={"country": [f"Republic {n}", f"Rep {n}"]})
        for _visit, queries in (("first", 7), ("kept", 6)):
            with self.assertNumQueries(queries):
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
        url = f"/moderation/taxonomy/log/{event.pk}/undo/"
        response = self.client.post(url)  # not confirmed: the confirmation, nothing undone
        self.assertContains(response, "Confirm the undo")
        self.assertEqual(terms(self.us_incident, "country"), ["USA"])
        response = self.client.post(url, {"confirmed": "yes"}, follow=True)
        self.assertContains(response, "Undone. 1 incident(s) got a new revision.")
        self.assertEqual(terms(self.us_incident, "country"), ["US"])
        self.assertContains(self.client.get(url), "This change was undone already.")
        response = self.client.post(url, {"confirmed": "yes"}, follow=True)
        self.assertContains(response, "undone already")
        for n in range(5):
            term_rename(
                term=country(f"China {n - 1}" if n else "China"), name=f"China {n}", editor=self.editor
            )
        with self.assertNumQueries(7):
            response = self.client.get("/moderation/taxonomy/log/")
        self.assertEqual(len(response.context["page"].object_list), 7)


def listed(response):
    """The incidents a preview lists on this page, by number, with what changes for each."""
    return [(incident.number, roles) for incident, roles in response.context["rows"]]


class PreviewTests(SubmissionsTestCase):
    """A rename, merge, move or split lists the incidents it touches before it is confirmed,
    and an undo lists those it publishes back: exactly those the change writes."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carrying = [
            publish(f"Camera case {n}", terms={"country": ["USA"]}, entities={"deployer": ["Meta/Facebook"]})
            for n in range(3)
        ]
        cls.other = publish("Unrelated case", terms={"country": ["US"]}, entities={"developer": ["Acme"]})
        cls.both_roles = publish(
            "Both roles", entities={"deployer": ["Meta/Facebook"], "developer": ["Meta/Facebook"]}
        )

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def numbers(self, incidents):
        return sorted(incident.number for incident in incidents)

    def test_a_rename_preview_lists_the_incidents_that_get_a_revision(self):
        usa = country("USA")
        url = f"/moderation/taxonomy/terms/{usa.pk}/rename/"
        response = self.client.post(url, {"name": "United States"})
        self.assertEqual(listed(response), [(i.number, []) for i in self.carrying])
        self.assertContains(response, "Camera case 0")
        self.assertContains(response, "Country: “USA” becomes “United States”", count=3)
        self.assertNotContains(response, "Unrelated case")
        self.client.post(url, {"name": "United States", "confirmed": "yes"})
        event = CurationEvent.objects.get()
        self.assertEqual(self.numbers(r.incident for r in event.revisions.all()), self.numbers(self.carrying))

    def test_a_merge_preview_skips_incidents_merged_away(self):
        us, usa = country("US"), country("USA")
        gone = publish("Merged away", terms={"country": ["US"]})
        Incident.objects.filter(pk=gone.pk).update(merged_into=self.other)
        url = f"/moderation/taxonomy/terms/{us.pk}/merge/"
        response = self.client.post(url, {"into_id": usa.pk})
        self.assertEqual(listed(response), [(self.other.number, [])])
        self.assertContains(response, "Country: “US” becomes “USA”")
        self.assertContains(response, "1 incident will get a new revision")
        self.client.post(url, {"into_id": usa.pk, "confirmed": "yes"})
        event = CurationEvent.objects.get()
        self.assertEqual(self.numbers(r.incident for r in event.revisions.all()), [self.other.number])

    def test_a_move_preview_lists_the_incidents_under_the_term_and_below_it(self):
        us, usa = country("US"), country("USA")
        response = self.client.post(f"/moderation/taxonomy/terms/{us.pk}/move/", {"parent": "usa"})
        self.assertEqual(listed(response), [(self.other.number, [])])
        self.assertContains(response, "Country: “US” filed under “USA” (was at the top level)")
        self.assertContains(response, "no new revision")
        self.client.post(f"/moderation/taxonomy/terms/{us.pk}/move/", {"parent": "usa", "confirmed": "yes"})
        # Moving USA now moves US's incident too: it is under USA.
        response = self.client.post(f"/moderation/taxonomy/terms/{usa.pk}/move/", {"parent": "China"})
        self.assertEqual(
            [number for number, _ in listed(response)], self.numbers([*self.carrying, self.other])
        )

    def test_a_split_preview_lists_each_incident_with_the_roles_it_names_the_entity_in(self):
        entity = Entity.objects.get(name="Meta/Facebook")
        url = f"/moderation/taxonomy/entities/{entity.pk}/split/"
        response = self.client.post(url, {"names": "Meta\nFacebook"})
        self.assertEqual(
            listed(response),
            [(i.number, ["Deployer"]) for i in self.carrying]
            + [(self.both_roles.number, ["Deployer", "Developer"])],
        )
        self.assertContains(response, "“Meta/Facebook” becomes “Meta”, “Facebook”")
        self.assertContains(response, "(as deployer, developer)")
        self.client.post(url, {"names": "Meta\nFacebook", "confirmed": "yes"})
        event = CurationEvent.objects.get()
        self.assertEqual(
            self.numbers(r.incident for r in event.revisions.all()),
            self.numbers([*self.carrying, self.both_roles]),
        )

    def test_previews_are_paginated_and_cost_the_same_at_two_sizes(self):
        usa, entity = country("USA"), Entity.objects.get(name="Meta/Facebook")
        term_url = f"/moderation/taxonomy/terms/{usa.pk}/merge/"
        entity_url = f"/moderation/taxonomy/entities/{entity.pk}/rename/"
        # session; user; user permissions; group permissions; the term; the target; the count;
        # the page of incidents; the header count
        with self.assertNumQueries(9):
            self.client.post(term_url, {"into": "US"})
        # session; user; user permissions; group permissions; the entity; the count; the page
        # of incidents; their roles; the header count
        with self.assertNumQueries(9):
            self.client.post(entity_url, {"name": "Meta"})
        for n in range(30):
            publish(f"More {n}", terms={"country": ["USA"]}, entities={"deployer": ["Meta/Facebook"]})
        with self.assertNumQueries(9):
            response = self.client.post(term_url, {"into": "US"})
        with self.assertNumQueries(9):
            self.client.post(entity_url, {"name": "Meta"})
        self.assertEqual(len(response.context["rows"]), 25)
        self.assertContains(response, "Page 1 of 2")
        self.assertContains(response, 'name="page" value="2"')
        second = self.client.post(term_url, {"into": "US", "page": "2"})
        self.assertEqual(len(second.context["rows"]), 8)
        self.assertContains(second, 'name="page" value="1"')
        pages = [n for n, _ in listed(response)] + [n for n, _ in listed(second)]
        carrying = Incident.objects.filter(incident_terms__term=usa).values_list("number", flat=True)
        self.assertEqual(pages, sorted(carrying))
        self.assertEqual(CurationEvent.objects.count(), 0)

    def test_the_undo_confirmation_lists_the_incidents_and_those_changed_since(self):
        event = term_rename(term=country("USA"), name="United States", editor=self.editor)
        url = f"/moderation/taxonomy/log/{event.pk}/undo/"
        response = self.client.get(url)
        rows = [(revision.incident.number, bool(changed)) for revision, changed in response.context["rows"]]
        self.assertEqual(rows, [(i.number, False) for i in self.carrying])
        self.assertContains(response, "3 incidents will get a new revision")
        self.assertContains(response, "Revision 2 is published back as revision 1 was.", count=3)
        edited = self.carrying[1]
        edited.refresh_from_db()
        incident_publish(
            document=make_document("Edited since", terms={"country": ["United States"]}),
            incident=edited,
            author=self.editor,
            expected_revision=edited.current_revision_id,
        )
        response = self.client.get(url)
        rows = [(revision.incident.number, bool(changed)) for revision, changed in response.context["rows"]]
        self.assertEqual(rows, [(i.number, i.pk == edited.pk) for i in self.carrying])
        self.assertContains(response, "the undo will be refused")
        response = self.client.post(url, {"confirmed": "yes"}, follow=True)
        self.assertContains(response, "changed since")
        self.assertEqual(country("United States").name, "United States")

    def test_the_undo_confirmation_costs_the_same_at_two_sizes(self):
        event = term_rename(term=country("USA"), name="United States", editor=self.editor)
        url = f"/moderation/taxonomy/log/{event.pk}/undo/"
        # session; user; user permissions; group permissions; the event; undone already; the
        # count; the page of revisions with their incidents; the header count
        with self.assertNumQueries(9):
            self.client.get(url)
        for n in range(30):
            publish(f"More {n}", terms={"country": ["United States"]})
        event = term_rename(term=country("United States"), name="America", editor=self.editor)
        url = f"/moderation/taxonomy/log/{event.pk}/undo/"
        with self.assertNumQueries(9):
            response = self.client.get(url)
        self.assertEqual(len(response.context["rows"]), 25)
        self.assertEqual(len(self.client.get(url, {"page": 2}).context["rows"]), 8)


def variant(name, count):
    return {"name": name, "count": count}


class MergeDirectionTests(SimpleTestCase):
    """Probable variants are suggested towards the vocabulary's canonical name, otherwise
    towards the name with more uses."""

    def direction(self, scope, one, other):
        merged, survivor, why = merge_direction(scope, one, other)
        return merged["name"], survivor["name"], why

    def test_towards_the_canonical_country_name_even_with_fewer_uses(self):
        for one, other in [(variant("UK", 190), variant("United Kingdom", 1))] * 2:
            self.assertEqual(
                self.direction("country", one, other),
                ("UK", "United Kingdom", "“United Kingdom” is the usual name"),
            )
            self.assertEqual(self.direction("country", other, one)[:2], ("UK", "United Kingdom"))
        self.assertEqual(
            self.direction("country", variant("Burkina Faso", 1), variant("Burkino Faso", 1))[:2],
            ("Burkino Faso", "Burkina Faso"),
        )
        # Folded: case and punctuation aside.
        self.assertEqual(
            self.direction("country", variant("S. Korea", 20), variant("south korea", 1))[:2],
            ("S. Korea", "south korea"),
        )

    def test_otherwise_towards_more_uses(self):
        # Both canonical, neither canonical, or a vocabulary without a list.
        self.assertEqual(
            self.direction("country", variant("Niger", 1), variant("Nigeria", 3)),
            ("Niger", "Nigeria", "“Nigeria” is used more"),
        )
        self.assertEqual(
            self.direction("country", variant("UAE", 4), variant("UAE/Dubai", 2))[:2], ("UAE/Dubai", "UAE")
        )
        self.assertEqual(
            self.direction("sector", variant("Govt", 9), variant("Government", 2))[:2], ("Government", "Govt")
        )
        self.assertEqual(
            self.direction("organisation", variant("Meta", 2), variant("Meta/Facebook", 5))[:2],
            ("Meta", "Meta/Facebook"),
        )

    def test_a_tie_goes_to_the_longer_then_the_first_name(self):
        self.assertEqual(
            self.direction("sector", variant("Govt", 2), variant("Government", 2)),
            ("Govt", "Government", "as many uses each: the longer name"),
        )
        self.assertEqual(self.direction("sector", variant("Abc", 2), variant("Abd", 2))[:2], ("Abd", "Abc"))
        self.assertEqual(self.direction("sector", variant("Abd", 2), variant("Abc", 2))[:2], ("Abd", "Abc"))


class VariantsDirectionPageTests(SubmissionsTestCase):
    def test_the_page_shows_each_pair_in_its_suggested_direction_with_both_counts(self):
        self.client.force_login(self.editor)
        for n in range(3):
            publish(f"British case {n}", terms={"country": ["UK"], "sector": ["Educaton"]})
        publish("A British case", terms={"country": ["United Kingdom"], "sector": ["Education"]})
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "country"})
        rows = [(a["name"], a["count"], b["name"], b["count"]) for a, b, _ in merges(response)]
        self.assertIn(("UK", 3, "United Kingdom", 1), rows)
        self.assertContains(response, "“United Kingdom” is the usual name")
        html = response.content.decode()
        suggested = html.index("“UK” into “United Kingdom” (3 incidents)</button>")
        swap = html.index('aria-label="Swap: “United Kingdom” into “UK” (1 incident)"')
        self.assertLess(suggested, swap)
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "sector"})
        rows = [(a["name"], b["name"], why) for a, b, why in merges(response)]
        # No list of sectors: towards the spelling with more uses, misspelt or not.
        self.assertIn(("Education", "Educaton", "“Educaton” is used more"), rows)


class EntityVariantsPageTests(SubmissionsTestCase):
    """Organisations and systems have the variants list terms have."""

    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def test_organisations_and_systems_are_grouped_with_counts_and_a_direction(self):
        for n in range(3):
            publish(f"Chatbot case {n}", entities={"deployer": ["Humana Inc"], "system": ["ChatGPT"]})
        publish("Records scraped", entities={"deployer": ["Federal Bureau of Investigation (FBI)", "Humana"]})
        publish("Agents misidentify", entities={"deployer": ["FBI"], "system": ["Chatgpt"]})
        # A second system of one name: nothing tells it apart from the first but its developer.
        publish("Homework helper", entities={"developer": ["Tutorly"], "system": ["ChatGPT"]})
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "organisation"})
        self.assertEqual(
            [(a["name"], a["count"], b["name"], b["count"], why) for a, b, why in merges(response)],
            [
                ("Humana", 1, "Humana Inc", 3, "“Humana Inc” is used more"),
                (
                    "FBI",
                    1,
                    "Federal Bureau of Investigation (FBI)",
                    1,
                    "as many uses each: the longer name",
                ),
            ],
        )
        self.assertContains(response, "“Humana” into “Humana Inc” (1 incident)")
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "system"})
        systems = Entity.objects.filter(kind=Entity.Kind.SYSTEM)
        self.assertEqual(sorted(systems.values_list("name", flat=True)), ["ChatGPT", "ChatGPT", "Chatgpt"])
        main = systems.get(incident_entities__incident__headline="Chatbot case 0")
        self.assertEqual(
            sorted((a["name"], a["count"], b["pk"]) for a, b, _why in merges(response)),
            [("ChatGPT", 1, main.pk), ("Chatgpt", 1, main.pk)],
        )
        # Acting on it merges the entities, as from the entity's page: confirmed first.
        merged, into, _why = next(m for m in merges(response) if m[0]["name"] == "Chatgpt")
        url = f"/moderation/taxonomy/entities/{merged['pk']}/merge/"
        response = self.client.post(url, {"into_id": into["pk"]})
        self.assertContains(response, "Merge “Chatgpt” into “ChatGPT”.")
        self.client.post(url, {"into_id": into["pk"], "confirmed": "yes"})
        self.assertEqual(Entity.objects.get(pk=merged["pk"]).merged_into_id, main.pk)
        self.assertIn("Chatgpt", main.aliases.values_list("name", flat=True))

    def test_the_entity_variants_cost_the_same_at_two_sizes(self):
        publish("One", entities={"deployer": ["Acme Inc"], "system": ["Sorter"]})
        publish("Two", entities={"deployer": ["Acme"], "developer": ["Other"], "system": ["sorter"]})
        # session; user; user permissions; group permissions; vocabularies; the header count;
        # with no broker, the first visit after a publish works them out in the request too:
        # the names with their incident counts
        for scope in ("organisation", "system"):
            for queries in (7, 6):
                with self.assertNumQueries(queries):
                    response = self.client.get("/moderation/taxonomy/variants/", {"scope": scope})
            self.assertEqual(response.context["page"].paginator.count, 1)
        with self.captureOnCommitCallbacks(execute=True):  # publishing renews the freshness token
            for n in range(15):
                publish(f"More {n}", entities={"deployer": [f"Agency {n} Ltd"], "system": [f"Tool {n}"]})
                # Another system of a name told apart by its other deployer.
                publish(f"Yet more {n}", entities={"deployer": [f"Agency {n}"], "system": [f"TOOL {n}"]})
        for scope in ("organisation", "system"):
            for queries in (7, 6):
                with self.assertNumQueries(queries):
                    response = self.client.get("/moderation/taxonomy/variants/", {"scope": scope})
            self.assertEqual(response.context["page"].paginator.count, 16)

    def test_with_a_broker_a_worker_works_them_out_and_the_page_never_does(self):
        publish("One", entities={"deployer": ["Acme Inc"]})
        publish("Two", entities={"deployer": ["Acme"]})
        url = "/moderation/taxonomy/variants/?scope=organisation"
        with mock.patch.object(tasks.variants_refresh, "delay") as delay:
            # session; user; user permissions; group permissions; vocabularies; the header
            # count: no name read, whatever their number
            with self.assertNumQueries(6):
                response = self.client.get(url)
            self.assertContains(response, "being worked out in the background")
            self.client.get(url)
            delay.assert_called_once_with("organisation")  # asked for once, not per visit
            tasks.variants_refresh("organisation")  # the worker
            response = self.client.get(url)
            self.assertEqual(response.context["page"].paginator.count, 1)
            self.assertNotContains(response, "being worked out")
            # A merge made since: what was kept is shown, marked, without the merged name,
            # and a new one is asked for.
            acme = Entity.objects.get(name="Acme")
            with self.captureOnCommitCallbacks(execute=True):
                entity_merge(entity=acme, into=Entity.objects.get(name="Acme Inc"), editor=self.editor)
            response = self.client.get(url)
        self.assertContains(response, "the record has changed since")
        self.assertNotContains(response, "“Acme” into")
        self.assertEqual(delay.call_count, 2)

    def test_related_names_come_after_spellings_under_their_own_heading(self):
        for n in range(4):
            publish(f"Feed case {n}", entities={"deployer": ["Meta/Facebook"]})
        publish("Ads case", entities={"deployer": ["Meta", "Acme Ltd"]})
        publish("Shop case", entities={"deployer": ["Acme"]})
        response = self.client.get("/moderation/taxonomy/variants/", {"scope": "organisation"})
        groups = [(c.related, c.preferred["name"]) for c in response.context["page"].object_list]
        self.assertEqual(groups, [(False, "Acme Ltd"), (True, "Meta/Facebook")])
        html = response.content.decode()
        self.assertLess(html.index("“Acme” into “Acme Ltd”"), html.index("Related names, perhaps not one"))
        self.assertLess(
            html.index("Related names, perhaps not one"), html.index("“Meta” into “Meta/Facebook”")
        )
