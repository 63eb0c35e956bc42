"""How the duplicate check finds what a report may duplicate, through indexes: references by
their normalised address, headlines by trigram similarity (pg_trgm on PostgreSQL, the same
measure in Python over a bounded set on SQLite), in a fixed number of queries."""

import importlib
from unittest import mock

from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repository.models import Incident, Reference
from repository.services import incident_merge
from repository.tests.base import make_document, publish
from submissions.duplicates import check, find_duplicates
from submissions.duplicates.check import similarity
from submissions.tests.base import SubmissionsTestCase

trigram_migration = importlib.import_module("repository.migrations.0012_trigram")


class SchemaEditor:
    """What the migration's functions use of a schema editor, inside the test's transaction."""

    connection = connection

    def execute(self, sql):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's rows checked first
            cursor.execute(sql)


def report(headline, **fields):
    return make_document(headline, **{"occurred": "2021", **fields})


class TrigramSimilarityTests(SubmissionsTestCase):
    def test_it_measures_as_pg_trgm_does(self):
        # The values PostgreSQL's similarity() gives for these pairs.
        for a, b, expected in [
            (
                "Camera flags ethnic minority for police",
                "Camera system flags an ethnic minority to police",
                0.6923077,
            ),
            ("Police use Clearview AI", "police uses clearview-ai!", 0.88461536),
            (
                "Delivery robot blocks an ambulance",
                "Camera system flags an ethnic minority to police",
                0.050632913,
            ),
        ]:
            with self.subTest(a=a):
                self.assertAlmostEqual(similarity(a, b), expected, places=6)
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT similarity(%s, %s)", [a, b])
                        self.assertAlmostEqual(cursor.fetchone()[0], expected, places=6)


class SimilarHeadlineTests(SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.fined = publish("Clearview AI fined by Italian regulator", slug="clearview-fined")
        cls.clearview = publish("Police use Clearview AI to identify protesters", slug="clearview")
        cls.shoplifters = publish("Police use Clearview AI to identify shoplifters", slug="shoplifters")

    def headlines(self, headline, exclude=()):
        return [
            c.incident
            for c in find_duplicates(report(headline), exclude=exclude)
            if "has a similar headline" in c.reasons
        ]

    def test_a_reworded_headline_finds_the_incidents_alike(self):
        # Similarity 0.88 and 0.63; "Clearview AI fined by Italian regulator" is 0.18.
        self.assertCountEqual(
            self.headlines("police uses Clearview-AI to identify the protesters"),
            [self.clearview, self.shoplifters],
        )

    def test_a_headline_sharing_only_a_common_word_is_not_similar(self):
        self.assertEqual(self.headlines("Police arrest a man over a deepfake call"), [])

    def test_merged_and_excluded_incidents_are_not_candidates(self):
        incident_merge(survivor=self.shoplifters, merged=self.clearview, editor=self.editor)
        self.assertEqual(self.headlines("Police use Clearview AI to identify protesters"), [self.shoplifters])
        self.assertEqual(
            self.headlines("Police use Clearview AI to identify protesters", exclude=[self.shoplifters.pk]),
            [],
        )

    def test_a_word_in_many_headlines_brings_only_a_bounded_number_to_compare(self):
        # "Clearview" and "identify" are in both similar headlines; with one headline
        # compared per word, only one of them is found.
        self.assertCountEqual(
            self.headlines("Clearview AI used to identify people"), [self.clearview, self.shoplifters]
        )
        with mock.patch.object(check, "WORD_CAP", 1):
            found = self.headlines("Clearview AI used to identify people")
        self.assertEqual(len(found), 1)
        self.assertIn(found[0], [self.clearview, self.shoplifters])

    def test_a_word_in_few_headlines_finds_them_whatever_the_bound(self):
        with mock.patch.object(check, "WORD_CAP", 1):
            self.assertEqual(self.headlines("Clearview AI helps identify protesters"), [self.clearview])

    def test_postgresql_looks_each_word_up_in_the_trigram_index(self):
        with CaptureQueriesContext(connection) as queries:
            self.headlines("Police use Clearview AI to identify protesters")
        [sql] = [q["sql"] for q in queries if "similarity" in q["sql"]]
        if connection.vendor != "postgresql":
            self.assertIn("LIKE '%protesters%'", sql)  # SQLite reads the table for each word
            return
        self.assertIn("ILIKE '%protesters%'", sql)
        with connection.cursor() as cursor:
            # As on a large table, where reading every row costs more than the index.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN SELECT id FROM repository_incident WHERE headline ILIKE '%%protesters%%'")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        self.assertIn("repository_incident_headline_trgm", plan)


class SameSourceIndexTests(SubmissionsTestCase):
    def test_publishing_stores_each_references_normalised_address(self):
        incident = publish(
            "Quiet page",
            slug="quiet",
            references={"news": [{"url": "HTTPS://www.Paper.example.org/story/?utm_source=x"}]},
        )
        self.assertEqual(incident.references.get().url_key, "paper.example.org/story")

    def test_a_reference_of_a_merged_incident_is_not_a_candidate(self):
        other = publish(
            "Another page", slug="other", references={"news": [{"url": "https://paper.example.org/s"}]}
        )
        incident_merge(survivor=self.incident, merged=other, editor=self.editor)
        found = find_duplicates(
            report("Unrelated words here", references={"news": [{"url": "paper.example.org/s/"}]})
        )
        # The survivor now cites the page itself.
        self.assertEqual([c.incident for c in found], [self.incident])

    def test_the_migration_fills_the_keys_of_references_stored_before_it(self):
        Reference.objects.update(url_key="")
        trigram_migration.backfill_url_keys(apps, SchemaEditor())
        self.assertEqual(list(Reference.objects.values_list("url_key", flat=True)), ["news.example.org/a"])
        found = find_duplicates(
            report("Unrelated words here", references={"news": [{"url": "https://news.example.org/a/"}]})
        )
        self.assertEqual([c.incident for c in found], [self.incident])


class TrigramMigrationTests(SubmissionsTestCase):
    def test_it_runs_again_where_the_extension_and_index_exist(self):
        trigram_migration.create_trigram_index(apps, SchemaEditor())
        trigram_migration.create_trigram_index(apps, SchemaEditor())
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
                self.assertEqual(cursor.fetchone()[0], 1)
                cursor.execute(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = 'repository_incident_headline_trgm'"
                )
                self.assertEqual(cursor.fetchone()[0], 1)
            else:  # nothing to create on SQLite
                cursor.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%trgm%'")
                self.assertEqual(cursor.fetchone()[0], 0)


class SameOrganisationsTests(SubmissionsTestCase):
    """The incident names Acme Retail (deployer) and Lens Corp (developer) in February 2021."""

    def reasons(self, **entities):
        found = find_duplicates(report("Unrelated words here", entities=entities))
        return {c.incident: c.reasons for c in found}

    def test_two_names_given_must_both_be_named_by_the_incident(self):
        publish("Other story", slug="other", occurred="2021", entities={"deployer": ["Other Corp"]})
        self.assertEqual(self.reasons(deployer=["Acme Retail"], developer=["Other Corp"]), {})
        self.assertEqual(
            self.reasons(deployer=["Lens Corp"], developer=["acme retail"]),
            {
                self.incident: [
                    "names the same deployer or developer in the same period: Lens Corp; acme retail"
                ]
            },
        )

    def test_one_name_given_is_enough_alone(self):
        self.assertEqual(list(self.reasons(developer=["Lens Corp"])), [self.incident])


class QueryCountTests(SubmissionsTestCase):
    """The duplicate check costs the same queries however many incidents match."""

    def look_alikes(self, count):
        for i in range(count):
            publish(
                f"Camera system flags an ethnic minority to police, case {i}",
                occurred="2021",
                entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
                references={"news": [{"url": f"https://news.example.org/a?utm_source=copy{i}"}]},
            )

    def report_data(self):
        return {
            "step": "check",
            "headline": "Camera flags ethnic minority for police",
            "occurred": "2021",
            "narrative": "Cameras alerted police.",
            "deployer": "Acme Retail",
            "developer": "Lens Corp",
            "sources": "https://www.news.example.org/a/",
        }

    def test_find_duplicates_costs_six_queries_at_any_size(self):
        document = report(
            "Camera flags ethnic minority for police",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
            references={"news": [{"url": "https://news.example.org/a"}]},
        )
        for extra in (0, 12):
            with self.subTest(extra=extra):
                self.look_alikes(extra)
                # references citing the page; incidents citing it or sourced from it;
                # similar headlines; organisations by name; incidents naming them in the period;
                # which of them each names
                with self.assertNumQueries(6):
                    found = find_duplicates(document)
                self.assertIn(self.incident, [c.incident for c in found])
                self.assertEqual(len(found), min(check.LIMIT, Incident.objects.count()))

    def test_the_report_forms_duplicate_step_costs_the_same_queries_at_any_size(self):
        for extra in (0, 12):
            with self.subTest(extra=extra):
                self.look_alikes(extra)
                # the report form's vocabularies; the names it adds as the taxonomy spells them
                # (for the confirmation step, none here); the six of find_duplicates
                with self.assertNumQueries(8):
                    response = self.client.post("/submit/", self.report_data())
                self.assertContains(response, "Is your incident one of these?")

    def test_the_review_page_of_a_new_incident_costs_the_same_queries_at_any_size(self):
        self.client.force_login(self.editor)
        submission = self.report_new(
            headline="Camera flags ethnic minority for police",
            occurred="2021",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
            references={"news": [{"url": "https://news.example.org/a/"}]},
        )
        for extra in (0, 12):
            with self.subTest(extra=extra):
                self.look_alikes(extra)
                # session; user; user permissions; group permissions; the submission and its
                # relations; its events; vocabularies; the six of find_duplicates; new names
                # (entities); fetched metadata of the added references; the header count
                with self.assertNumQueries(16):
                    response = self.client.get(f"/moderation/{submission.pk}/")
                self.assertIn(self.incident, [c.incident for c in response.context["candidates"]])
