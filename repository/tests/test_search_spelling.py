"""A search that forgives spellings, the same on PostgreSQL and on SQLite and in the API: search
synonyms ("Uighur" finds "Uyghur"), "Did you mean …?" for a word no incident holds, drawn from
the words that publishing keeps, and the relevance sort shown and kept with a search."""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import TestCase

from repository.models import Incident, SearchSynonym, SearchWord
from repository.search import Search, closest_word, distance, words_refresh
from repository.services import incident_merge
from repository.tests.base import publish


class SpellingTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.camera = publish(
            "Camera system flags Uyghur minority",
            occurred="2021",
            narrative="Facial recognition software sent an alert for each face it took for Uyghur.",
        )
        cls.deepfake = publish(
            "Deep fake video of a mayor",
            occurred="2023",
            summary="A deep fake circulated before the vote.",
        )
        cls.states = publish(
            "United States agency buys face recognition",
            occurred="2020",
            summary="The agency signed a contract for face recognition at airports.",
        )
        cls.police = publish(
            "Police facial recognition misidentifies shoppers",
            occurred="2019",
            narrative="Facial recognition cameras at a shopping centre. Recognition failed twice.",
        )

    def headlines(self, query, **more):
        response = self.client.get("/incidents/", {"q": query, **more})
        self.assertEqual(response.status_code, 200)
        return {incident.headline for incident in response.context["page"].object_list}


class SynonymTests(SpellingTestCase):
    def test_a_shipped_synonym_finds_the_other_spelling_both_ways(self):
        self.assertEqual(self.headlines("Uighur"), {self.camera.headline})
        self.assertEqual(self.headlines("deepfake"), {self.deepfake.headline})
        self.assertEqual(self.headlines("face recognition"), self.headlines("facial recognition"))
        self.assertEqual(
            self.headlines("facial recognition"),
            {self.camera.headline, self.states.headline, self.police.headline},
        )

    def test_the_api_and_the_feed_search_the_synonyms_too(self):
        body = self.client.get("/api/v1/incidents/", {"q": "Uighur"}).json()
        self.assertEqual([item["document"]["headline"] for item in body["results"]], [self.camera.headline])
        feed = self.client.get("/feeds/incidents/", {"q": "Uighur"})
        self.assertContains(feed, "Camera system flags Uyghur minority")
        self.assertNotContains(feed, "Deep fake video")

    def test_country_abbreviations_find_the_names(self):
        self.assertEqual(self.headlines("US agency"), {self.states.headline})
        self.assertEqual(self.headlines("USA"), {self.states.headline})

    def test_a_stop_word_that_is_a_synonym_is_searched_by_its_other_spellings(self):
        # "IT" is an English stop word, which PostgreSQL cannot find: its other spelling is
        # searched, not the word itself (which SQLite would find in every "it").
        SearchSynonym(spelling="IT", other="face recognition").save()
        self.assertEqual(self.headlines("IT"), {self.states.headline})
        search = Search.parse("IT")
        self.assertFalse(search.groups[0].own)
        self.assertNotIn('"IT"', search.fts_match())
        self.assertTrue(Search.parse("USA").groups[0].own)

    def test_a_synonym_an_editor_adds_is_used_at_once_and_stored_once(self):
        self.assertEqual(self.headlines("mugshot"), set())
        synonym = SearchSynonym(spelling="shoppers", other="mugshot")
        synonym.save()
        self.assertEqual(self.headlines("mugshot"), {self.police.headline})
        # Stored in one order, whichever way it was given.
        self.assertEqual((synonym.key, synonym.other_key), ("mugshot", "shoppers"))
        self.assertEqual((synonym.spelling, synonym.other), ("mugshot", "shoppers"))

    def test_the_words_of_a_synonym_are_highlighted(self):
        response = self.client.get("/incidents/", {"q": "Uighur"})
        self.assertContains(response, "<mark>Uyghur</mark>")

    def test_the_shipped_list_is_modest(self):
        pairs = {(s.spelling, s.other) for s in SearchSynonym.objects.all()}
        self.assertIn(("Uighur", "Uyghur"), pairs)
        self.assertIn(("face recognition", "facial recognition"), pairs)
        self.assertLessEqual(len(pairs), 20)


class KnownWordTests(SpellingTestCase):
    def test_publishing_keeps_the_words_as_written(self):
        words = set(SearchWord.objects.values_list("word", flat=True))
        self.assertTrue({"uyghur", "recognition", "facial", "shoppers", "deep"} <= words)
        self.assertNotIn("recognit", words)  # not stemmed
        self.assertNotIn("a", words)  # too short
        publish("Warehouse robots injure workers", occurred="2022")
        self.assertTrue(SearchWord.objects.filter(word="warehouse").exists())

    def test_a_full_count_counts_each_word_once_per_incident(self):
        words_refresh()
        counts = dict(SearchWord.objects.values_list("word", "incidents"))
        self.assertEqual(counts["recognition"], 3)  # three incidents, "Recognition" twice in one
        self.assertEqual(counts["uyghur"], 1)
        editor = get_user_model().objects.create_user("editor")
        incident_merge(survivor=self.states, merged=self.deepfake, editor=editor)
        words_refresh()
        self.assertFalse(SearchWord.objects.filter(word="mayor").exists())

    def test_distance_counts_edits_and_swaps(self):
        self.assertEqual(distance("recogntion", "recognition"), 1)
        self.assertEqual(distance("polcie", "police"), 1)  # two letters swapped
        self.assertEqual(distance("police", "police"), 0)
        self.assertEqual(distance("cat", "elephant"), 3)  # the bound

    def test_the_nearest_known_word_is_within_the_edits_allowed(self):
        self.assertEqual(closest_word("recogntion"), "recognition")
        self.assertEqual(closest_word("uighurr"), "uyghur")
        self.assertEqual(closest_word("shopers"), "shoppers")
        self.assertIsNone(closest_word("zebra"))
        self.assertIsNone(closest_word("xyzzyq"))


class DidYouMeanTests(SpellingTestCase):
    def did_you_mean(self, response):
        match = re.search(r'<p class="did-you-mean">(.*?)</p>', response.content.decode(), re.S)
        return re.sub(r"<[^>]+>", "", match.group(1)) if match else None

    def test_a_misspelt_word_is_offered_with_the_count_it_gives(self):
        response = self.client.get("/incidents/", {"q": "facial recogntion"})
        self.assertEqual(response.context["page"].paginator.count, 0)
        self.assertEqual(self.did_you_mean(response), "Did you mean facial recognition? 3 incidents")
        self.assertContains(response, 'href="?q=facial+recognition">facial <strong>recognition</strong></a>')
        self.assertNotContains(response, "Try without one of them")
        # The link gives what it promised.
        self.assertEqual(len(self.headlines("facial recognition")), 3)

    def test_the_other_filters_are_kept_in_the_offer(self):
        response = self.client.get("/incidents/", {"q": "polise", "occurred_from": "2019", "page": "2"})
        self.assertEqual(self.did_you_mean(response), "Did you mean police? 1 incident")
        self.assertContains(response, 'href="?q=police&amp;occurred_from=2019"')

    def test_known_words_and_inflections_get_no_offer(self):
        for query in ("facial recognition", "recognitions", "recogn", "zebra"):
            with self.subTest(query=query):
                self.assertIsNone(self.did_you_mean(self.client.get("/incidents/", {"q": query})))

    def test_the_api_offers_the_same_on_the_first_page(self):
        body = self.client.get("/api/v1/incidents/", {"q": "facial recogntion"}).json()
        self.assertEqual(body["results"], [])
        self.assertEqual(body["did_you_mean"]["q"], "facial recognition")
        self.assertEqual(body["did_you_mean"]["count"], 3)
        self.assertTrue(body["did_you_mean"]["url"].endswith("/api/v1/incidents/?q=facial+recognition"))
        self.assertIsNone(self.client.get("/api/v1/incidents/", {"q": "police"}).json()["did_you_mean"])
        self.assertNotIn("did_you_mean", self.client.get("/api/v1/incidents/").json())


class RelevanceSortTests(SpellingTestCase):
    def selected_sort(self, response):
        """The sort the form shows: the option marked selected, or else the first."""
        html = re.search(r'<select name="sort".*?</select>', response.content.decode(), re.S).group(0)
        selected = re.search(r'<option value="(\w+)" selected>', html)
        return selected.group(1) if selected else re.search(r'<option value="(\w+)"', html).group(1)

    def test_with_a_search_the_sort_shows_relevance_and_apply_keeps_it(self):
        response = self.client.get("/incidents/", {"q": "recognition"})
        self.assertEqual(self.selected_sort(response), "relevance")
        ranked = [incident.headline for incident in response.context["page"].object_list]
        # Matches in headlines first, the narrative's last; not by date.
        self.assertEqual(ranked[-1], self.camera.headline)
        by_date = sorted(
            Incident.objects.filter(headline__in=ranked), key=lambda i: i.occurred_start, reverse=True
        )
        self.assertNotEqual(ranked, [i.headline for i in by_date])
        # Apply sends what the form shows: the same order.
        applied = self.client.get("/incidents/", {"q": "recognition", "sort": "relevance", "type": ""})
        self.assertEqual(self.selected_sort(applied), "relevance")
        self.assertEqual([i.headline for i in applied.context["page"].object_list], ranked)

    def test_a_chosen_sort_and_no_search_are_left_alone(self):
        self.assertEqual(self.selected_sort(self.client.get("/incidents/")), "occurred")
        # A search text without words searches nothing: the date order, shown as such.
        self.assertEqual(self.selected_sort(self.client.get("/incidents/", {"q": " !! "})), "occurred")
        response = self.client.get("/incidents/", {"q": "recognition", "sort": "oldest"})
        self.assertEqual(self.selected_sort(response), "oldest")
        self.assertEqual(response.context["page"].object_list[0].headline, self.police.headline)

    def test_the_api_ranks_a_search_by_relevance_too(self):
        page = self.client.get("/incidents/", {"q": "recognition"}).context["page"]
        body = self.client.get("/api/v1/incidents/", {"q": "recognition"}).json()
        self.assertEqual(
            [item["document"]["headline"] for item in body["results"]], [i.headline for i in page.object_list]
        )


class QueryCountTests(TestCase):
    """A misspelt search costs the same number of queries whatever the number of incidents."""

    def populate(self, start, count):
        for n in range(start, start + count):
            publish(
                f"Incident number {n} about recognition",
                occurred=f"{2000 + n % 20}",
                narrative=f"Story {n}: facial recognition again.",
                terms={"country": [f"Country {n % 7}"]},
            )

    def test_the_list_with_a_misspelt_search(self):
        self.populate(0, 4)
        url = "/incidents/?q=recogntion+story"
        # vocabularies; term spellings; entity spellings; search synonyms; the count with the
        # facets (one statement, no results); whether the words are known; the nearest known word
        # of the unknown one; the corrected search's spellings (three) and count (no word to
        # drop is offered besides it)
        with self.assertNumQueries(11):
            small = self.client.get(url)
        self.populate(4, 40)
        with self.assertNumQueries(11):
            large = self.client.get(url)
        self.assertEqual(small.context["correction"].count, 4)
        self.assertEqual(large.context["correction"].count, 44)
        self.assertEqual(large.context["suggestions"], [])


class SynonymEditorPageTests(TestCase):
    URL = "/moderation/search/synonyms/"

    @classmethod
    def setUpTestData(cls):
        users = get_user_model().objects
        cls.editor = users.create_user("editor", password="x")
        cls.editor.user_permissions.add(
            Permission.objects.get(codename="moderate", content_type__app_label="submissions")
        )
        cls.outsider = users.create_user("outsider", password="x")
        cls.incident = publish("Camera system flags Uyghur minority", occurred="2021")

    def test_only_editors_reach_it(self):
        synonym = SearchSynonym.objects.first()
        remove = f"{self.URL}{synonym.pk}/remove/"
        for user, get, post in ((None, 302, 302), (self.outsider, 403, 403), (self.editor, 200, 302)):
            with self.subTest(user=user):
                self.client.logout()
                if user:
                    self.client.force_login(user)
                self.assertEqual(self.client.get(self.URL).status_code, get)
                self.assertEqual(
                    self.client.post(self.URL, {"spelling": "a1", "other": "b1"}).status_code, post
                )
        self.client.logout()
        self.assertEqual(self.client.post(remove).status_code, 302)
        self.assertTrue(SearchSynonym.objects.filter(pk=synonym.pk).exists())  # sent to sign in
        self.client.force_login(self.outsider)
        self.assertEqual(self.client.post(remove).status_code, 403)

    def test_the_moderation_queue_leads_to_it(self):
        self.client.force_login(self.editor)
        self.assertContains(
            self.client.get("/moderation/"), f'<a href="{self.URL}">Search synonyms</a>', html=True
        )

    def test_an_editor_adds_a_pair_that_search_uses_at_once(self):
        self.client.force_login(self.editor)
        self.assertEqual(self.client.get("/incidents/", {"q": "Ujgur"}).context["page"].paginator.count, 0)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.URL, {"spelling": "Ujgur", "other": "Uyghur"}, follow=True)
        self.assertContains(response, "“Ujgur” and “Uyghur” are now searched together.")
        synonym = SearchSynonym.objects.get(spelling="Ujgur")
        self.assertEqual(synonym.created_by, self.editor)
        self.client.logout()
        self.assertEqual(self.client.get("/incidents/", {"q": "Ujgur"}).context["page"].paginator.count, 1)

    def test_a_pair_known_already_or_the_same_twice_is_refused_with_its_reason(self):
        self.client.force_login(self.editor)
        count = SearchSynonym.objects.count()
        for spelling, other, message in (
            ("uyghur", "UIGHUR", "are searched together already"),
            ("Police", "police", "The two spellings are the same."),
            ("--", "police", "Both spellings need a letter or a digit."),
        ):
            with self.subTest(spelling=spelling):
                response = self.client.post(self.URL, {"spelling": spelling, "other": other})
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, message)
                self.assertContains(response, "<title>Error: ")
        self.assertEqual(SearchSynonym.objects.count(), count)

    def test_an_editor_removes_a_pair(self):
        self.client.force_login(self.editor)
        synonym = SearchSynonym.objects.get(spelling="Uighur")
        response = self.client.post(f"{self.URL}{synonym.pk}/remove/", follow=True)
        self.assertContains(response, "are searched apart again")
        self.client.logout()
        self.assertEqual(self.client.get("/incidents/", {"q": "Uighur"}).context["page"].paginator.count, 0)
