"""Searching incidents (/incidents/?q=…), the same on PostgreSQL and on SQLite: words in any
order, stemmed, the last as a prefix, other spellings of terms and entities, relevance,
highlighting, and the way out of a search that finds nothing."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TestCase

from repository.models import Entity, EntityAlias, Incident, SearchSynonym, Term, TermAlias
from repository.search import FTS_TABLE, index_refresh
from repository.services import incident_merge
from repository.tests.base import publish


def indexed_ids():
    """The incidents the search index holds."""
    if connection.vendor == "postgresql":
        return set(Incident.objects.filter(search_vector__isnull=False).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT rowid FROM {FTS_TABLE}")  # noqa: S608 - a constant
        return {row[0] for row in cursor.fetchall()}


class SearchTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.police_uk = publish(
            "Police facial recognition misidentifies shoppers",
            occurred="2019",
            narrative="Cameras at a shopping centre matched faces against a watch list.",
            terms={
                "country": ["UK"],
                "sector": ["Govt - police"],
                "harm-individual": ["Privacy loss"],
            },
            entities={"deployer": ["Metro Police"]},
        )
        cls.policing = publish(
            "Predictive policing tool targets neighbourhoods",
            occurred="2016-2020",
            summary="A forecasting tool sent patrols to the same streets.",
            terms={"country": ["USA"], "sector": ["Govt - police"]},
        )
        cls.chatbot = publish(
            "Chatbot invents court cases",
            occurred="May 2019",
            summary="A lawyer's brief cited cases that do not exist.",
        )
        cls.fined = publish(
            "Lawyers fined over fake citations",
            occurred="2024",
            narrative="The firm had asked a chatbot. The chatbot answered; nobody checked the chatbot.",
        )
        cls.camera = publish(
            "Camera system flags Uyghur minority",
            occurred="2021",
            terms={"country": ["China"]},
            entities={"harmed": ["Uyghurs"]},
        )
        cls.xinjiang = publish(
            "Surveillance app in Xinjiang",
            occurred="2018",
            narrative="The app tracked Uyghurs' phones.",
        )

    def headlines(self, query):
        response = self.client.get("/incidents/", {"q": query})
        self.assertEqual(response.status_code, 200)
        return [incident.headline for incident in response.context["page"].object_list]


class SearchMatchingTests(SearchTestCase):
    def test_words_match_in_any_order(self):
        for query in ("facial recognition police", "police facial recognition", "recognition POLICE facial"):
            with self.subTest(query=query):
                self.assertEqual(self.headlines(query), [self.police_uk.headline])

    def test_words_are_stemmed(self):
        for query in ("polices", "policing", "police"):
            with self.subTest(query=query):
                self.assertIn(self.police_uk.headline, self.headlines(query))
                self.assertIn(self.policing.headline, self.headlines(query))
        self.assertEqual(self.headlines("patrol"), [self.policing.headline])
        self.assertEqual(self.headlines("matching faces"), [self.police_uk.headline])

    def test_the_last_word_is_also_a_prefix(self):
        self.assertEqual(self.headlines("recogn"), [self.police_uk.headline])
        self.assertEqual(self.headlines("facial recog"), [self.police_uk.headline])
        self.assertEqual(self.headlines("neighbour"), [self.policing.headline])

    def test_every_word_must_match(self):
        self.assertEqual(self.headlines("police zebra"), [])
        self.assertEqual(self.headlines("zebra"), [])

    def test_it_searches_the_names_of_terms_and_entities(self):
        self.assertEqual(self.headlines("privacy loss"), [self.police_uk.headline])
        self.assertEqual(self.headlines("metro"), [self.police_uk.headline])

    def test_another_spelling_finds_what_the_term_or_entity_finds(self):
        uyghur = set(self.headlines("Uyghur"))
        self.assertEqual(uyghur, {self.camera.headline, self.xinjiang.headline})
        # A search synonym shipped with the site; without it, the entity's alias finds them.
        self.assertEqual(set(self.headlines("Uighur")), uyghur)
        SearchSynonym.objects.all().delete()
        self.assertEqual(self.headlines("Uighur"), [])
        entity = Entity.objects.get(name="Uyghurs")
        EntityAlias.objects.create(entity=entity, name="Uighurs", key="uighurs")
        self.assertEqual(set(self.headlines("Uighurs")), uyghur)
        term = Term.objects.get(name="Govt - police")
        TermAlias.objects.create(
            term=term, vocabulary=term.vocabulary, name="Law enforcement", key="lawenforcement"
        )
        self.assertEqual(
            set(self.headlines("law enforcement")), {self.police_uk.headline, self.policing.headline}
        )
        self.assertEqual(self.headlines("law enforcement facial"), [self.police_uk.headline])

    def test_a_match_in_the_headline_ranks_above_one_in_the_narrative(self):
        # By occurred alone the later one, whose narrative says "chatbot" three times, comes first.
        self.assertEqual(self.headlines("chatbot"), [self.chatbot.headline, self.fined.headline])
        response = self.client.get("/incidents/", {"q": "chatbot", "sort": "occurred"})
        self.assertEqual(
            [incident.headline for incident in response.context["page"].object_list],
            [self.fined.headline, self.chatbot.headline],
        )

    def test_search_syntax_is_never_an_error(self):
        for query in (
            '"police',
            "police & | ! ( ) :* <-> 'x'",
            "NOT police",
            "police OR",
            "NEAR(police recognition)",
            "headline:police",
            "*",
            "-police",
            "'",
            "polic*",
            "the",
            "x" * 200,
        ):
            with self.subTest(query=query):
                response = self.client.get("/incidents/", {"q": query})
                self.assertEqual(response.status_code, 200)
        self.assertEqual(self.headlines('"recognition" AND -facial'), [self.police_uk.headline])

    def test_a_merged_incident_leaves_the_index(self):
        editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-1234-long")
        self.assertIn(self.fined.pk, indexed_ids())
        incident_merge(survivor=self.chatbot, merged=self.fined, editor=editor)
        self.assertNotIn(self.fined.pk, indexed_ids())
        self.assertIn(self.chatbot.pk, indexed_ids())
        # The survivor took over what the merged one said.
        self.assertEqual(self.headlines("nobody checked"), [self.chatbot.headline])

    def test_the_whole_index_is_rebuilt_from_the_incidents(self):
        unmerged = set(Incident.objects.unmerged().values_list("pk", flat=True))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("UPDATE repository_incident SET search_vector = NULL")
            else:
                cursor.execute(f"DELETE FROM {FTS_TABLE}")  # noqa: S608 - a constant
        self.assertEqual(indexed_ids(), set())
        index_refresh()
        self.assertEqual(indexed_ids(), unmerged)
        self.assertEqual(self.headlines("metro"), [self.police_uk.headline])  # an entity's name
        self.assertEqual(self.headlines("chatbot"), [self.chatbot.headline, self.fined.headline])


class SearchHighlightTests(SearchTestCase):
    def test_matched_words_are_marked_in_the_headline_and_a_snippet(self):
        response = self.client.get("/incidents/", {"q": "police faces"})
        html = response.content.decode()
        self.assertIn("<mark>Police</mark> facial recognition misidentifies shoppers", html)
        self.assertIn("matched <mark>faces</mark> against a watch list", html)
        response = self.client.get("/incidents/", {"q": "patrols"})
        self.assertContains(response, "A forecasting tool sent <mark>patrols</mark> to the same streets.")

    def test_a_long_text_is_cut_around_the_first_match(self):
        narrative = " ".join(f"word{n}" for n in range(100)) + " the needle is here " + "tail " * 50
        publish("A haystack", narrative=narrative)
        html = self.client.get("/incidents/", {"q": "needle"}).content.decode()
        self.assertIn("the <mark>needle</mark> is here", html)
        self.assertIn("… word", html)
        self.assertNotIn("word0 ", html)

    def test_marked_text_is_escaped(self):
        publish(
            "Bot posts <script>alert(1)</script> to police forum",
            summary='A <img src=x onerror="alert(2)"> police report & more.',
        )
        response = self.client.get("/incidents/", {"q": "police forum"})
        html = response.content.decode()
        self.assertIn(
            "Bot posts &lt;script&gt;alert(1)&lt;/script&gt; to <mark>police</mark> <mark>forum</mark>", html
        )
        self.assertIn(
            "A &lt;img src=x onerror=&quot;alert(2)&quot;&gt; <mark>police</mark> report &amp; more.", html
        )
        self.assertNotIn("<script>alert", html)
        self.assertNotIn("<img src=x", html)
        html = self.client.get("/incidents/", {"q": "<b>zebra</b>"}).content.decode()
        self.assertIn('value="&lt;b&gt;zebra&lt;/b&gt;"', html)
        self.assertNotIn("<b>zebra", html)


class NoResultsTests(SearchTestCase):
    def suggestions(self, response):
        return [(s.label, s.count) for s in response.context["suggestions"]]

    def test_it_says_which_word_or_filter_to_drop_with_counts(self):
        response = self.client.get("/incidents/", {"q": "police zebra", "country": "uk"})
        self.assertEqual(response.context["page"].paginator.count, 0)
        # Without "zebra": police in the UK (1); without "police" or the UK: zebra finds nothing.
        self.assertEqual(self.suggestions(response), [("the word “zebra”", 1)])
        self.assertContains(response, 'href="?q=police&amp;country=uk">Drop the word “zebra”</a>: 1 incident')

        response = self.client.get("/incidents/", {"q": "police", "country": "china"})
        self.assertEqual(self.suggestions(response), [("Country: China", 2), ("the search “police”", 1)])
        html = response.content.decode()
        self.assertIn('href="?q=police">Drop Country: China</a>: 2 incidents', html)
        self.assertIn('href="?country=china">Drop the search “police”</a>: 1 incident<', html)

    def test_the_counts_cost_one_query_each_and_are_bounded(self):
        url = "/incidents/?q=facial+police&country=uk&occurred_from=2030"
        # vocabularies; term spellings; entity spellings; search synonyms; chosen terms; the
        # count with the facets (one statement); whether the words are known (they are: no
        # "Did you mean"); then one count for each of the four things to drop (two words, UK, year)
        with self.assertNumQueries(11):
            response = self.client.get(url)
        self.assertEqual(self.suggestions(response), [("Occurred from 2030", 1)])
        # Seven words: after vocabularies, three lookups of spellings and the count with facets,
        # whether the words are known, the nearest known word of three unknown ones at most (none
        # is near), and six counts at most.
        with self.assertNumQueries(5 + 1 + 3 + 6):
            response = self.client.get("/incidents/?q=police+zebra+yak+emu+gnu+owl+ant")
        self.assertEqual(self.suggestions(response), [])

    def test_the_no_results_page_has_no_empty_facet_headings(self):
        self.assertContains(self.client.get("/incidents/", {"q": "police"}), "External harms")
        response = self.client.get("/incidents/", {"q": "zebra"})
        self.assertContains(response, "No incidents match these filters.")
        self.assertNotContains(response, "External harms")
        self.assertNotContains(response, "Internal harms")
        self.assertNotContains(response, 'class="facet-group"')


class BrowseLayoutTests(SearchTestCase):
    def test_filters_fold_behind_one_control_that_counts_them(self):
        html = self.client.get(
            "/incidents/", {"q": "police", "country": "uk", "type": "incident"}
        ).content.decode()
        self.assertIn("<summary>Filters (3 active)</summary>", html)
        self.assertIn('<details class="filters filters-fold" id="filters">', html)
        self.assertIn("<summary>Filters</summary>", self.client.get("/incidents/").content.decode())
        # A filter that could not be applied is shown open, with its message.
        html = self.client.get("/incidents/", {"occurred_from": "abc"}).content.decode()
        self.assertIn('<details class="filters filters-fold" id="filters" open>', html)


class SearchQueryCountTests(TestCase):
    """A search costs the same number of queries whatever the number of incidents."""

    def populate(self, start, count):
        for n in range(start, start + count):
            publish(
                f"Incident number {n} about recognition",
                occurred=f"{2000 + n % 20}",
                narrative=f"Story {n}: facial recognition again.",
                terms={"country": [f"Country {n % 7}"], "sector": [f"Sector {n % 5}"]},
                entities={"deployer": [f"Deployer {n % 4}"]},
            )

    def test_the_list_with_a_search(self):
        self.populate(0, 4)
        url = "/incidents/?q=facial+recognition&country=country-1"
        # vocabularies; term spellings; entity spellings; search synonyms (which name "facial
        # recognition": no word is looked up for "Did you mean"); chosen terms; the count with
        # the facets (one statement); the page of incidents; their countries and sectors; their
        # deployers; their narratives (for the snippets)
        with self.assertNumQueries(10):
            small = self.client.get(url)
        self.populate(4, 40)
        with self.assertNumQueries(10):
            large = self.client.get(url)
        self.assertEqual(small.context["page"].paginator.count, 1)
        self.assertEqual(large.context["page"].paginator.count, 7)
        self.assertContains(large, "<mark>recognition</mark>")
