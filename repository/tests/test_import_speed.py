"""An import's cost does not grow per row: a chunk of rows takes the same queries whatever
its size, and the bulk writes it is made of store what Django's own would."""

import csv
import io
from pathlib import Path

from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from repository.bulk import PlannerStatistics, create_objects, insert_rows, update_column
from repository.importers.sheet import CHUNK, sheet_import
from repository.models import Entity, EntityAlias, Incident, Reference, SourceRecord
from repository.services import PublishItem, Taxonomy, incidents_publish
from repository.tests.base import make_document, publish

FIXTURES = Path(__file__).parent / "fixtures"


def sheet_of(rows):
    """A 2024 sheet of `rows` rows, each a new incident, made from the fixture's rows."""
    table = list(csv.reader(io.StringIO((FIXTURES / "sheet-2024.csv").read_text(encoding="utf-8"))))
    header, data = table[:3], [row for row in table[3:] if any(row)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(header)
    for i in range(rows):
        row = list(data[i % len(data)])
        row[0] = f"AIAAIC{5000 + i}"
        row[1] = f"{row[1]} (copy {i})"
        row[-1] = f"https://example.org/incidents/{i}"
        writer.writerow(row)
    return out.getvalue()


def queries(function, *args, **kwargs):
    """How many queries `function` runs (counted as they go: an import empties Django's own
    log of queries after each chunk)."""
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        function(*args, **kwargs)
    return count


class SheetImportQueryTests(TestCase):
    def counts(self, rows):
        """Queries of a first and a second import of a sheet of `rows` rows, from an empty
        database (the import is undone afterwards)."""
        empty = transaction.savepoint()
        data = sheet_of(rows)
        first = queries(sheet_import, data=data)
        second = queries(sheet_import, data=data)
        self.assertEqual(Incident.objects.count(), rows)
        transaction.savepoint_rollback(empty)
        return first, second

    def test_a_chunk_takes_the_same_queries_whatever_its_size(self):
        small, large = self.counts(6), self.counts(CHUNK)
        self.assertEqual(small[1], large[1])  # run again: nothing written
        if connection.vendor == "postgresql":
            self.assertEqual(small[0], large[0])
        else:
            # SQLite bounds the parameters of a statement: its bulk writes go a few hundred
            # rows at a time, and alias counts one statement per distinct count.
            self.assertLess(large[0] - small[0], 30)

    def test_each_further_chunk_takes_the_same_queries(self):
        one, two, three = self.counts(CHUNK), self.counts(2 * CHUNK), self.counts(3 * CHUNK)
        self.assertEqual(two[1] - one[1], three[1] - two[1])
        # A chunk run again: identities, incidents, source records and the lock, and the
        # savepoint the chunk's transaction is inside a test (its start and release).
        self.assertLessEqual(two[1] - one[1], 10)
        if connection.vendor != "postgresql":
            return  # SQLite writes a chunk's rows a few hundred at a time (see above)
        self.assertEqual(two[0] - one[0], three[0] - two[0])
        # A chunk published: identities (ids, incidents by id, source and slug, aliases of
        # slugs), incidents with their revisions, source records, the lock, the number, new
        # incidents, the link rows (4), revisions, pointers and search text, the words the
        # search's "Did you mean" offers, source records.
        self.assertLessEqual(two[0] - one[0], 17)


class PublishQueryTests(TestCase):
    def documents(self, count, tag):
        return [
            make_document(
                f"Incident {tag} {n}",
                source_url=f"https://example.org/{tag}/{n}",
                terms={"country": ["France", "Spain"], "sector": ["Govt - police"]},
                entities={"deployer": ["Acme Police"], "developer": ["Acme AI"], "system": ["Acme Eye"]},
                references={"news": [{"url": f"https://news.example.org/{tag}/{n}"}]},
                external_id=f"AIAAIC{n + {'a': 100, 'b': 200}.get(tag, 0):04d}",
            )
            for n in range(count)
        ]

    def publish_all(self, documents, incidents=None):
        taxonomy = Taxonomy()
        taxonomy.preload()
        items = [
            PublishItem(document=document, incident=incident)
            for document, incident in zip(documents, incidents or [None] * len(documents), strict=True)
        ]
        with CaptureQueriesContext(connection) as context:
            results = incidents_publish(items=items, taxonomy=taxonomy)
        return results, len(context.captured_queries)

    def test_new_incidents_take_the_same_queries_whatever_their_number(self):
        self.publish_all(self.documents(1, "seed"))  # the terms and entities exist
        _results, few = self.publish_all(self.documents(2, "a"))
        _results, many = self.publish_all(self.documents(12, "b"))
        self.assertEqual(few, many)

    def test_changes_take_the_same_queries_whatever_their_number(self):
        counts = []
        for count, tag in ((2, "a"), (12, "b")):
            created, _queries = self.publish_all(self.documents(count, tag))
            incidents = list(
                Incident.objects.select_related("current_revision").filter(
                    pk__in=[result.incident.pk for result in created]
                )
            )
            changed = [{**incident.current_revision.document, "summary": "Changed"} for incident in incidents]
            results, number = self.publish_all(changed, incidents)
            self.assertTrue(all(result.changed for result in results))
            counts.append(number)
        self.assertEqual(counts[0], counts[1])

    def test_a_change_meanwhile_is_still_seen(self):
        incident = publish("Seed", summary="One")
        stale = Incident.objects.select_related("current_revision").get(pk=incident.pk)
        fresh = Incident.objects.get(pk=incident.pk)
        incidents_publish(
            items=[PublishItem(document={**make_document("Seed"), "summary": "Two"}, incident=fresh)]
        )
        # `stale` still holds revision 1: the lock finds revision 2 current and compares with it.
        [result] = incidents_publish(
            items=[PublishItem(document={**make_document("Seed"), "summary": "Two"}, incident=stale)]
        )
        self.assertIsNone(result.revision)
        self.assertEqual(result.incident.current_revision.number, 2)


class BulkWriteTests(TestCase):
    def test_created_objects_get_their_ids_and_dates(self):
        before = timezone.now()
        incidents = create_objects(
            Incident, [Incident(number=n, slug=f"i-{n}", headline=f"I {n}") for n in (7, 3, 5)], key="number"
        )
        stored = {incident.number: incident for incident in Incident.objects.all()}
        for incident in incidents:
            self.assertEqual(stored[incident.number].pk, incident.pk)
            self.assertGreaterEqual(stored[incident.number].created_at, before)
            self.assertFalse(incident._state.adding)
        self.assertEqual(stored[7].summary, "")
        self.assertIsNone(stored[7].current_revision_id)

    def test_inserted_rows_take_the_fields_defaults(self):
        incident = publish("Seed")
        insert_rows(
            Reference,
            [
                {
                    "incident_id": incident.pk,
                    "url": "https://a.example.org/",
                    "category": "news",
                    "title": 'A "quoted" \\ title',
                }
            ],
        )
        reference = Reference.objects.get()
        self.assertEqual(reference.title, 'A "quoted" \\ title')
        self.assertEqual((reference.publisher, reference.final_url, reference.position), ("", "", 0))
        self.assertIsNone(reference.checked_at)

    def test_json_is_stored_as_json(self):
        incident = publish("Seed")
        document = {"headline": "Ünïcode ‘quotes’", "terms": {"country": ["Côte d'Ivoire"]}, "n": [1, None]}
        insert_rows(SourceRecord, [{"incident_id": incident.pk, "source": "test", "document": document}])
        self.assertEqual(SourceRecord.objects.get(source="test").document, document)

    def test_a_column_is_updated_row_by_row(self):
        entity = Entity.objects.create(name="Acme", slug="acme")
        aliases = [
            EntityAlias.objects.create(entity=entity, name=f"Acme {n}", key=f"acme{n}") for n in range(4)
        ]
        update_column(EntityAlias, {aliases[0].pk: 3, aliases[2].pk: 9}, "uses")
        self.assertEqual(
            list(EntityAlias.objects.order_by("pk").values_list("uses", flat=True)), [3, 0, 9, 0]
        )


class PlannerStatisticsTests(TestCase):
    def estimated_incidents(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'repository_incident'::regclass")
            return cursor.fetchone()[0]

    def test_the_planner_sees_an_import_grow_a_few_times_not_at_every_chunk(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE repository_incident")  # what an earlier test left: none
            self.assertEqual(self.estimated_incidents(), 0)
        statistics = PlannerStatistics([Incident], first=3)
        for n in range(2):
            publish(f"Incident {n}")
        self.assertEqual(queries(statistics.wrote, 2), 0)  # fewer than `first`: nothing to do
        publish("Incident 2")
        analyzed = queries(statistics.wrote, 1)
        if connection.vendor != "postgresql":
            self.assertEqual(analyzed, 0)  # SQLite plans without them
            return
        self.assertEqual(analyzed, 1)
        # ANALYZE in the import's own transaction counts the rows it has not committed yet.
        self.assertEqual(self.estimated_incidents(), 3)
        for n in range(3, 5):
            publish(f"Incident {n}")
        self.assertEqual(queries(statistics.wrote, 2), 0)  # 5 written: the next is at 6
        publish("Incident 5")
        self.assertEqual(queries(statistics.wrote, 1), 1)
        self.assertEqual(self.estimated_incidents(), 6)


class CollectorTests(TestCase):
    def test_an_import_command_collects_rarely_and_leaves_the_collector_as_it_found_it(self):
        import gc

        from repository.bulk import long_lived_objects

        thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
        with long_lived_objects():
            self.assertEqual(gc.get_threshold()[0], thresholds[0] * 100)
            self.assertGreater(gc.get_freeze_count(), frozen)  # startup's objects are not scanned
        self.assertEqual(gc.get_threshold(), thresholds)
        self.assertEqual(gc.get_freeze_count(), frozen)
