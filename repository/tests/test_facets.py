"""Facet counts and parent terms on the browse page, against a count made by hand.

Every facet value's count is how many of the current results choosing it would leave; a
parent term ("Govt") counts the results under it, that is carrying it or a term below it
("Govt - police"), though the incident page and the document show only the terms an incident
carries. `IncidentUnderTerm` stores those ancestor links; publishing, incident merges and
taxonomy curation keep it in step.
"""

import importlib
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import TestCase
from django.utils.text import slugify

from repository import ancestry
from repository.models import Incident, IncidentTerm, IncidentUnderTerm, Term
from repository.services import curation_undo, incident_merge, incident_publish, term_merge, term_move
from repository.tests.base import make_document, publish

# (headline, occurred, countries, sectors, technologies, deployers, developers, harmed)
INCIDENTS = [
    (
        "Police camera flags a shopper",
        "2019",
        ["UK"],
        ["Govt - police"],
        ["Facial recognition"],
        ["Metro Police"],
        ["FaceCo"],
        ["Shoppers"],
    ),
    (
        "Police patrol forecast targets a street",
        "2016-2020",
        ["USA"],
        ["Govt - police"],
        ["Machine learning"],
        ["City Police"],
        ["PredictCo"],
        ["Residents"],
    ),
    (
        "Welfare score accuses families",
        "2023-",
        ["Netherlands"],
        ["Govt - welfare"],
        ["Machine learning"],
        ["Tax Office"],
        ["Tax Office"],
        ["Families"],
    ),
    (
        "Chatbot invents court cases",
        "May 2023",
        ["USA"],
        ["Business"],
        ["Chatbot"],
        ["Law Firm"],
        ["FaceCo"],
        [],
    ),
    (
        "Ministry model misreads forms",
        "2021",
        ["UK", "USA"],
        ["Govt"],
        ["Machine learning"],
        ["Ministry"],
        ["PredictCo"],
        ["Residents"],
    ),
    (
        "Police drone follows protesters",
        "2022",
        ["USA"],
        ["Govt - police", "Govt - welfare"],
        ["Computer vision"],
        ["City Police"],
        ["FaceCo"],
        ["Protesters"],
    ),
    (
        "Hospital triage tool ranks patients",
        "2020",
        ["UK"],
        ["Health"],
        ["Machine learning"],
        ["Hospital"],
        ["PredictCo"],
        ["Patients"],
    ),
    (
        "Recruiting filter drops applicants",
        "2018",
        ["Netherlands"],
        ["Business"],
        ["Machine learning", "Chatbot"],
        ["Employer"],
        ["FaceCo"],
        ["Applicants"],
    ),
]
PARENTS = {"Govt - police": "Govt", "Govt - welfare": "Govt"}
ROLES = ("deployer", "developer", "harmed")
VOCABULARIES = ("country", "sector", "technology")


def years(occurred):
    """(first year, last year or None while open) of the test periods."""
    text = occurred.split()[-1]
    if "-" in text:
        first, _, last = text.partition("-")
        return int(first), int(last) if last else None
    return int(text), int(text)


class FacetCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.rows = []
        for headline, occurred, countries, sectors, technologies, deployers, developers, harmed in INCIDENTS:
            publish(
                headline,
                occurred=occurred,
                terms={"country": countries, "sector": sectors, "technology": technologies},
                entities={"deployer": deployers, "developer": developers, "harmed": harmed},
            )
            under = {"sector": set(sectors) | {PARENTS[s] for s in sectors if s in PARENTS}}
            cls.rows.append(
                {
                    "headline": headline,
                    "years": years(occurred),
                    "country": set(countries),
                    "sector": under["sector"],
                    "technology": set(technologies),
                    "deployer": set(deployers),
                    "developer": set(developers),
                    "harmed": set(harmed),
                }
            )

    def matches(self, row, wanted):
        """The browse page's meaning, by hand: every chosen value holds (a term or one below it)."""
        for name, value in wanted.items():
            if name == "q":
                if value.lower() not in row["headline"].lower():
                    return False
            elif name == "occurred_from":
                last = row["years"][1]
                if last is not None and last < value:
                    return False
            elif name == "occurred_to":
                if row["years"][0] > value:
                    return False
            elif not all(v in {slugify(n) for n in row[name]} for v in value):
                return False
        return True

    def expected(self, wanted):
        results = [row for row in self.rows if self.matches(row, wanted)]
        counts = {}
        for name in VOCABULARIES + ROLES:
            tally = {}
            for row in results:
                for value in row[name]:
                    tally[value] = tally.get(value, 0) + 1
            counts[name] = tally
        return len(results), counts

    def shown(self, query):
        response = self.client.get("/incidents/" + query)
        self.assertEqual(response.status_code, 200)
        facets = {facet.name: facet for facet in response.context["facets"]}
        counts = {
            name: {value.name: value.count for value in facets[name].values} for name in VOCABULARIES + ROLES
        }
        return response.context["page"].paginator.count, counts

    def test_every_count_is_what_choosing_the_value_would_leave(self):
        for query, wanted in self.COMBINATIONS:
            with self.subTest(query=query):
                self.assertEqual(self.shown(query), self.expected(wanted))

    def test_large_result_sets_are_counted_once_per_publication_each(self):
        with mock.patch("repository.filters.FACETS_CACHED_FROM", 1):
            for _round in range(2):  # counted, then every one from the cache under its own key
                for query, wanted in self.COMBINATIONS:
                    with self.subTest(query=query, round=_round):
                        self.assertEqual(self.shown(query), self.expected(wanted))
            url = "/incidents/?sector=govt&country=usa"
            # vocabularies; chosen terms; [facets and count]; page; countries and sectors; deployers
            with self.assertNumQueries(5):
                self.client.get(url)
            with self.captureOnCommitCallbacks(execute=True):
                publish(
                    "Police robot misreads a sign", terms={"sector": ["Govt - police"], "country": ["USA"]}
                )
            with self.assertNumQueries(6):
                self.assertEqual(self.client.get(url).context["page"].paginator.count, 4)

    COMBINATIONS = [
        ("", {}),
        ("?sector=govt", {"sector": ["govt"]}),
        ("?sector=govt-police", {"sector": ["govt-police"]}),
        ("?sector=govt&country=usa", {"sector": ["govt"], "country": ["usa"]}),
        ("?sector=govt&sector=govt-welfare", {"sector": ["govt", "govt-welfare"]}),
        ("?developer=faceco", {"developer": ["faceco"]}),
        (
            "?harmed=residents&technology=machine-learning",
            {"harmed": ["residents"], "technology": ["machine-learning"]},
        ),
        ("?q=police", {"q": "police"}),
        ("?q=police&country=usa&sector=govt", {"q": "police", "country": ["usa"], "sector": ["govt"]}),
        ("?occurred_from=2019&occurred_to=2021", {"occurred_from": 2019, "occurred_to": 2021}),
        ("?occurred_from=2022&sector=govt", {"occurred_from": 2022, "sector": ["govt"]}),
        ("?country=uk&country=usa", {"country": ["uk", "usa"]}),
        ("?q=nothing+like+this", {"q": "nothing like this"}),
        ("?country=atlantis", {"country": ["atlantis"]}),
    ]

    def test_the_page_is_the_same_whether_it_starts_from_the_known_ids_or_not(self):
        def headlines(query):
            response = self.client.get("/incidents/" + query)
            return [incident.headline for incident in response.context["page"].object_list]

        queries = [
            "",
            "?sector=govt",
            "?q=police",
            "?q=police&sector=govt",
            "?q=police&sort=oldest",
            "?country=usa&sort=newest",
            "?q=nothing",
        ]
        few = {query: headlines(query) for query in queries}
        with mock.patch("repository.filters.MATCHES_RETURNED_UP_TO", 0):
            self.assertEqual({query: headlines(query) for query in queries}, few)
        self.assertEqual(len(few["?sector=govt"]), 5)

    def test_a_parent_counts_the_results_under_it_though_none_carries_it(self):
        _total, counts = self.shown("")
        self.assertEqual(counts["sector"]["Govt"], 5)  # police 3, welfare 2, Govt itself 1; one has both
        self.assertEqual(counts["sector"]["Govt - police"], 3)
        self.assertEqual(self.shown("?sector=govt")[0], 5)

    def test_the_vocabulary_and_term_pages_count_a_parent_as_the_facet_does(self):
        response = self.client.get("/taxonomy/sector/")
        counts = {term.name: term.incident_count for term in response.context["page"].object_list}
        self.assertEqual(
            counts, {"Govt": 5, "Govt - police": 3, "Business": 2, "Govt - welfare": 2, "Health": 1}
        )
        self.assertEqual(
            [term.name for term in response.context["page"].object_list][:2], ["Govt", "Govt - police"]
        )
        self.assertEqual(self.client.get("/taxonomy/sector/govt/").context["page"].paginator.count, 5)

    def test_the_incident_page_and_document_show_only_the_terms_it_carries(self):
        incident = Incident.objects.get(headline="Police camera flags a shopper")
        response = self.client.get(incident.get_absolute_url())
        sector = next(row for row in response.context["classification"] if row["label"] == "Sector")
        self.assertEqual([term.name for term in sector["values"]], ["Govt - police"])
        document = self.client.get(incident.get_absolute_url() + "document.json").json()
        self.assertEqual(document["document"]["terms"]["sector"], ["Govt - police"])

    def test_the_whole_repository_counts_change_with_the_next_publication(self):
        before = self.shown("")
        with self.captureOnCommitCallbacks(execute=True):
            publish("Police robot misreads a sign", occurred="2024", terms={"sector": ["Govt - police"]})
        total, counts = self.shown("")
        self.assertEqual(total, before[0] + 1)
        self.assertEqual(counts["sector"]["Govt"], before[1]["sector"]["Govt"] + 1)


class MoreValuesTests(TestCase):
    """'More…' shows up to a hundred values of one facet, on both databases."""

    @classmethod
    def setUpTestData(cls):
        # Country k is on 11 - k incidents: ten values, ranked 1..10.
        for n in range(1, 11):
            publish(
                f"Incident {n}",
                terms={"country": [f"Country {k}" for k in range(1, n + 1)]},
                entities={"deployer": [f"Deployer {k}" for k in range(1, n + 1)]},
            )

    def values(self, response, name):
        facet = next(facet for facet in response.context["facets"] if facet.name == name)
        return facet, [(value.name, value.count) for value in facet.values]

    def test_a_facet_shows_eight_values_and_a_more_link(self):
        response = self.client.get("/incidents/")
        facet, values = self.values(response, "country")
        self.assertEqual(values, [(f"Country {k}", 11 - k) for k in range(1, 9)])
        self.assertTrue(facet.truncated)
        self.assertContains(response, 'href="?more=country"')

    def test_more_shows_every_value_of_that_facet_only(self):
        for query in ("?more=country", "?more=country&deployer=deployer-2"):
            with self.subTest(query=query):
                response = self.client.get("/incidents/" + query)
                self.assertEqual(response.status_code, 200)
                facet, values = self.values(response, "country")
                self.assertEqual(len(values), 10)
                self.assertTrue(facet.expanded)
                self.assertFalse(facet.truncated)
                self.assertContains(response, "Fewer")
                deployers, shown = self.values(response, "deployer")
                self.assertEqual(len(shown), 8)
                self.assertTrue(deployers.truncated)

    def test_more_works_for_an_entity_facet_and_ignores_an_unknown_one(self):
        response = self.client.get("/incidents/?more=deployer")
        self.assertEqual(response.status_code, 200)
        _facet, values = self.values(response, "deployer")
        self.assertEqual(values, [(f"Deployer {k}", 11 - k) for k in range(1, 11)])
        response = self.client.get("/incidents/?more=nothing")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.values(response, "country")[1]), 8)


def sector(name):
    return Term.objects.get(vocabulary__slug="sector", name=name)


class AncestorsInStepTests(TestCase):
    """The stored ancestor links always equal the links and the terms' parents, by hand."""

    @classmethod
    def setUpTestData(cls):
        cls.editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-long-enough-1")
        cls.police = publish("Police camera", terms={"sector": ["Govt - police"], "country": ["UK"]})
        cls.welfare = publish("Welfare score", terms={"sector": ["Govt - welfare"]})
        cls.health = publish("Triage tool", terms={"sector": ["Health"]})

    def assert_in_step(self):
        parents = dict(Term.objects.values_list("pk", "parent_id"))
        expected = set()
        for incident_id, term_id in IncidentTerm.objects.values_list("incident_id", "term_id"):
            while term_id is not None:
                expected.add((incident_id, term_id))
                term_id = parents[term_id]
        stored = set(IncidentUnderTerm.objects.values_list("incident_id", "term_id"))
        self.assertEqual(stored, expected)
        if connection.vendor == "postgresql":  # the same ids, as the array the filters read
            arrays = {pk: ids for pk, ids in Incident.objects.values_list("pk", "under_term_ids") if ids}
            by_incident = {}
            for incident_id, term_id in sorted(expected):
                by_incident.setdefault(incident_id, []).append(term_id)
            self.assertEqual(arrays, by_incident)

    def under(self, incident):
        return set(
            IncidentUnderTerm.objects.filter(incident=incident).values_list("term__name", flat=True)
        ) - {"UK"}

    def headlines(self, query):
        response = self.client.get("/incidents/" + query)
        return {incident.headline for incident in response.context["page"].object_list}

    def test_publishing_links_a_term_and_its_ancestors_and_unlinks_them(self):
        self.assertEqual(self.under(self.police), {"Govt - police", "Govt"})
        incident_publish(
            document=make_document("Police camera", terms={"sector": ["Health"]}), incident=self.police
        )
        self.assertEqual(self.under(self.police), {"Health"})
        self.assert_in_step()
        self.assertEqual(self.headlines("?sector=govt"), {"Welfare score"})

    def test_a_term_moved_under_another_brings_its_incidents(self):
        event = term_move(term=sector("Govt - police"), parent=sector("Health"), editor=self.editor)
        self.assertEqual(self.under(self.police), {"Govt - police", "Health"})
        self.assertEqual(self.headlines("?sector=health"), {"Police camera", "Triage tool"})
        self.assertEqual(self.headlines("?sector=govt"), {"Welfare score"})
        self.assert_in_step()
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(self.under(self.police), {"Govt - police", "Govt"})
        self.assert_in_step()

    def test_a_moved_parent_takes_its_childrens_incidents_along(self):
        term_move(term=sector("Govt"), parent=sector("Health"), editor=self.editor)
        self.assertEqual(self.under(self.police), {"Govt - police", "Govt", "Health"})
        self.assertEqual(self.headlines("?sector=health"), {"Police camera", "Welfare score", "Triage tool"})
        self.assert_in_step()

    def test_a_merge_moves_the_children_and_undo_brings_them_back(self):
        event = term_merge(term=sector("Govt"), into=sector("Health"), editor=self.editor)
        self.assertEqual(self.under(self.police), {"Govt - police", "Health"})
        self.assert_in_step()
        response = self.client.get("/taxonomy/sector/health/")
        self.assertEqual(response.context["page"].paginator.count, 3)
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(self.under(self.police), {"Govt - police", "Govt"})
        self.assertEqual(self.under(self.health), {"Health"})
        self.assert_in_step()

    def test_a_merged_incident_leaves_its_links_to_the_survivor(self):
        with self.captureOnCommitCallbacks(execute=True):
            incident_merge(survivor=self.health, merged=self.police, editor=self.editor)
        self.assertEqual(self.under(self.police), set())
        self.assertEqual(self.under(self.health), {"Health", "Govt - police", "Govt"})
        self.assert_in_step()
        # The whole repository's counts leave the merged incident out.
        response = self.client.get("/incidents/")
        self.assertEqual(response.context["page"].paginator.count, 2)
        facets = {facet.name: facet for facet in response.context["facets"]}
        counts = {value.name: value.count for value in facets["sector"].values}
        self.assertEqual(counts, {"Govt": 2, "Govt - police": 1, "Govt - welfare": 1, "Health": 1})
        self.assertEqual([value.count for value in facets["country"].values], [1])

    def test_the_migration_fills_the_rows_of_existing_incidents(self):
        term_move(term=sector("Govt"), parent=sector("Health"), editor=self.editor)
        fill = importlib.import_module("repository.migrations.0013_term_ancestors").FILL
        IncidentUnderTerm.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(fill)
            if connection.vendor == "postgresql":
                Incident.objects.update(under_term_ids=None)
                cursor.execute(importlib.import_module("repository.migrations.0014_under_term_ids").FILL)
        self.assertEqual(self.under(self.welfare), {"Govt - welfare", "Govt", "Health"})
        self.assert_in_step()

    def test_a_rebuild_gives_the_same_rows(self):
        term_move(term=sector("Govt - welfare"), parent=sector("Health"), editor=self.editor)
        before = set(IncidentUnderTerm.objects.values_list("incident_id", "term_id"))
        Incident.objects.update(under_term_ids=None)
        ancestry.rebuild()
        self.assertEqual(set(IncidentUnderTerm.objects.values_list("incident_id", "term_id")), before)
        self.assert_in_step()
