"""Taxonomy curation: each service, its revisions, its audit row and its undo."""

from django.contrib.auth import get_user_model
from django.test import TestCase

from repository.models import (
    CurationEvent,
    Entity,
    EntityAlias,
    Incident,
    IncidentEntity,
    IncidentTerm,
    Term,
    TermAlias,
    Vocabulary,
)
from repository.services import (
    CurationRefused,
    Taxonomy,
    curation_undo,
    entity_merge,
    entity_rename,
    entity_split,
    incident_publish,
    placeholders_release,
    term_merge,
    term_move,
    term_rename,
)
from repository.tests.base import entities, publish, terms


def country(name):
    return Term.objects.get(vocabulary__slug="country", name=name)


class CurationTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-long-enough-1")
        cls.first = publish(
            "Border cameras misidentify travellers",
            terms={"country": ["USA", "Canada"], "issue": ["Accuracy/reliability"]},
            entities={"deployer": ["Meta/Facebook"], "developer": ["Open AI"]},
        )
        cls.second = publish(
            "Chatbot invents a court case",
            terms={"country": ["US"], "issue": ["Accuracy/reliablity"]},
            entities={"deployer": ["Meta"], "developer": ["OpenAI Inc"]},
        )
        cls.third = publish("Unrelated incident", terms={"country": ["France"]})

    def fresh(self, incident):
        return Incident.objects.select_related("current_revision").get(pk=incident.pk)

    def document(self, incident):
        return self.fresh(incident).current_revision.document


class TermRenameTests(CurationTestCase):
    def test_it_renames_a_term_and_republishes_its_incidents(self):
        usa = country("USA")
        event = term_rename(term=usa, name="United States", editor=self.editor, note="the full name")
        usa.refresh_from_db()
        self.assertEqual(usa.name, "United States")
        self.assertEqual(usa.slug, "usa")  # its address stays
        first = self.fresh(self.first)
        self.assertEqual(first.current_revision.number, 2)
        self.assertEqual(first.current_revision.document["terms"]["country"], ["United States", "Canada"])
        self.assertEqual(first.current_revision.author, self.editor)
        self.assertIn("“USA” renamed “United States”", first.current_revision.summary)
        self.assertIn("the full name", first.current_revision.summary)
        self.assertEqual(self.fresh(self.third).current_revision.number, 1)  # untouched
        self.assertEqual(event.action, CurationEvent.Action.TERM_RENAME)
        self.assertEqual(event.before, {"name": "USA"})
        self.assertEqual(event.after["name"], "United States")
        self.assertEqual(list(event.revisions.all()), [first.current_revision])
        self.assertEqual(event.editor, self.editor)

    def test_the_old_name_stays_an_alias(self):
        term_rename(term=country("USA"), name="United States", editor=self.editor)
        self.assertEqual(Taxonomy().term("country", "USA").name, "United States")
        self.assertEqual(Taxonomy().term("country", "united states").name, "United States")
        self.assertTrue(TermAlias.objects.filter(name="USA", term__name="United States").exists())

    def test_publishing_after_a_rename_creates_no_second_term(self):
        term_rename(term=country("USA"), name="United States", editor=self.editor)
        count = Term.objects.count()
        # The document now says "United States": publishing it again, and a new incident naming
        # it, land on the renamed term.
        document = self.document(self.first)
        incident_publish(document={**document, "summary": "More."}, incident=self.fresh(self.first))
        publish("Another one", terms={"country": ["United States", "USA"]})
        self.assertEqual(Term.objects.count(), count)
        self.assertEqual(terms(self.first, "country"), ["United States", "Canada"])

    def test_a_name_changed_by_hand_alone_never_creates_a_term(self):
        # What the admin used to do: the name changes, no alias says so.
        Term.objects.filter(name="USA").update(name="United States")
        count = Term.objects.count()
        publish("Another one", terms={"country": ["United States"]})
        taxonomy = Taxonomy()
        taxonomy.preload()
        self.assertEqual(taxonomy.term("country", "united states").slug, "usa")
        self.assertEqual(Term.objects.count(), count)

    def test_it_refuses_a_placeholder_for_a_name(self):
        for name in ("Multiple", "unclear / unknown"):
            with self.assertRaisesMessage(CurationRefused, "says the source names no one thing"):
                term_rename(term=country("USA"), name=name, editor=self.editor)
        self.assertEqual(country("USA").name, "USA")
        self.assertFalse(CurationEvent.objects.exists())

    def test_it_refuses_a_name_another_term_has_and_suggests_a_merge(self):
        with self.assertRaisesMessage(CurationRefused, "merge “USA” into it instead"):
            term_rename(term=country("USA"), name="us", editor=self.editor)
        self.assertEqual(country("USA").name, "USA")
        self.assertFalse(CurationEvent.objects.exists())
        self.assertEqual(self.fresh(self.first).current_revision.number, 1)

    def test_undo_restores_the_name_and_publishes_the_incidents_back(self):
        event = term_rename(term=country("USA"), name="United States", editor=self.editor)
        undo = curation_undo(event=event, editor=self.editor)
        term = Term.objects.get(slug="usa")
        self.assertEqual(term.name, "USA")
        self.assertFalse(TermAlias.objects.filter(name="United States").exists())
        first = self.fresh(self.first)
        self.assertEqual(first.current_revision.number, 3)
        self.assertEqual(first.current_revision.document["terms"]["country"], ["USA", "Canada"])
        self.assertTrue(first.current_revision.summary.startswith("Undid:"))
        self.assertEqual(undo.undoes, event)
        self.assertEqual(list(undo.revisions.all()), [first.current_revision])
        with self.assertRaisesMessage(CurationRefused, "undone already"):
            curation_undo(event=event, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "An undo cannot be undone"):
            curation_undo(event=undo, editor=self.editor)

    def test_undo_is_refused_when_an_incident_changed_since(self):
        event = term_rename(term=country("USA"), name="United States", editor=self.editor)
        incident_publish(
            document={**self.document(self.first), "summary": "Edited since."},
            incident=self.fresh(self.first),
        )
        with self.assertRaisesMessage(CurationRefused, f"incident #{self.first.number} changed since"):
            curation_undo(event=event, editor=self.editor)
        self.assertEqual(country("United States").slug, "usa")
        self.assertEqual(CurationEvent.objects.count(), 1)

    def test_undo_is_refused_when_the_term_was_renamed_again(self):
        event = term_rename(term=country("USA"), name="United States", editor=self.editor)
        term_rename(term=country("United States"), name="United States of America", editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "changed since"):
            curation_undo(event=event, editor=self.editor)


class TermMergeTests(CurationTestCase):
    def test_it_moves_the_incidents_to_the_survivor(self):
        us, usa = country("US"), country("USA")
        event = term_merge(term=us, into=usa, editor=self.editor, note="one country")
        us.refresh_from_db()
        self.assertEqual(us.merged_into, usa)
        self.assertEqual(terms(self.second, "country"), ["USA"])
        second = self.fresh(self.second)
        self.assertEqual(second.current_revision.document["terms"]["country"], ["USA"])
        self.assertIn("“US” merged into “USA”", second.current_revision.summary)
        self.assertEqual(list(event.revisions.all()), [second.current_revision])
        self.assertEqual(self.fresh(self.first).current_revision.number, 1)
        self.assertEqual(event.after, {"merged_into": usa.pk})

    def test_the_merged_terms_spellings_resolve_to_the_survivor(self):
        term_merge(term=country("US"), into=country("USA"), editor=self.editor)
        self.assertEqual(Taxonomy().term("country", "US").name, "USA")
        taxonomy = Taxonomy()
        taxonomy.preload()
        self.assertEqual(taxonomy.term("country", "us").name, "USA")
        self.assertEqual(TermAlias.objects.get(name="US").term, country("USA"))

    def test_the_merged_terms_page_redirects(self):
        us = country("US")
        term_merge(term=us, into=country("USA"), editor=self.editor)
        response = self.client.get(us.get_absolute_url())
        self.assertRedirects(response, country("USA").get_absolute_url(), status_code=301)

    def test_an_incident_carrying_both_keeps_one(self):
        incident = publish("Both", terms={"country": ["US", "USA"]})
        term_merge(term=country("US"), into=country("USA"), editor=self.editor)
        self.assertEqual(terms(incident, "country"), ["USA"])

    def test_it_refuses_self_merges_other_vocabularies_and_cycles(self):
        us, usa = country("US"), country("USA")
        issue = Term.objects.get(vocabulary__slug="issue", name="Accuracy/reliability")
        with self.assertRaisesMessage(CurationRefused, "itself"):
            term_merge(term=us, into=us, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "two vocabularies"):
            term_merge(term=us, into=issue, editor=self.editor)
        term_merge(term=us, into=usa, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "cycle"):
            term_merge(term=usa, into=us, editor=self.editor)
        canada = country("Canada")
        with self.assertRaisesMessage(CurationRefused, "merge into that one"):
            term_merge(term=canada, into=us, editor=self.editor)
        self.assertIsNone(country("USA").merged_into_id)
        self.assertEqual(CurationEvent.objects.count(), 1)

    def test_publishing_ends_on_a_cycle_already_in_the_database(self):
        us, usa = country("US"), country("USA")
        Term.objects.filter(pk=us.pk).update(merged_into=usa)
        Term.objects.filter(pk=usa.pk).update(merged_into=us)
        resolved = Taxonomy().term("country", "US")
        self.assertIn(resolved.pk, {us.pk, usa.pk})
        result = incident_publish(
            document={**self.document(self.second), "summary": "Still publishes."},
            incident=self.fresh(self.second),
        )
        self.assertTrue(result.changed)

    def test_undo_restores_the_term_and_its_incidents(self):
        us, usa = country("US"), country("USA")
        event = term_merge(term=us, into=usa, editor=self.editor)
        curation_undo(event=event, editor=self.editor)
        us.refresh_from_db()
        self.assertIsNone(us.merged_into_id)
        self.assertEqual(TermAlias.objects.get(name="US").term, us)
        self.assertEqual(terms(self.second, "country"), ["US"])
        self.assertEqual(self.document(self.second)["terms"]["country"], ["US"])
        self.assertEqual(self.fresh(self.second).current_revision.number, 3)

    def test_undo_is_refused_when_the_survivor_was_merged_since(self):
        us, usa, canada = country("US"), country("USA"), country("Canada")
        event = term_merge(term=us, into=usa, editor=self.editor)
        term_merge(term=usa, into=canada, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "changed since"):
            curation_undo(event=event, editor=self.editor)


class TermHierarchyTests(CurationTestCase):
    def test_a_merged_terms_children_go_under_the_survivor_and_come_back_on_undo(self):
        usa, us, canada = country("USA"), country("US"), country("Canada")
        term_move(term=canada, parent=us, editor=self.editor)
        term_move(term=usa, parent=us, editor=self.editor)
        event = term_merge(term=us, into=usa, editor=self.editor)
        self.assertEqual(country("Canada").parent, usa)
        self.assertIsNone(country("USA").parent_id)  # it took the merged term's place
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(country("Canada").parent, us)
        self.assertEqual(country("USA").parent, us)


class TermMoveTests(CurationTestCase):
    def test_it_moves_a_term_under_another_and_back(self):
        usa, canada = country("USA"), country("Canada")
        event = term_move(term=canada, parent=usa, editor=self.editor)
        self.assertEqual(country("Canada").parent, usa)
        self.assertEqual(event.before, {"parent": None})
        curation_undo(event=event, editor=self.editor)
        self.assertIsNone(country("Canada").parent_id)

    def test_it_refuses_cycles_and_other_vocabularies(self):
        usa, canada = country("USA"), country("Canada")
        issue = Term.objects.get(vocabulary__slug="issue", name="Accuracy/reliability")
        term_move(term=canada, parent=usa, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "cycle"):
            term_move(term=usa, parent=country("Canada"), editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "cycle"):
            term_move(term=usa, parent=usa, editor=self.editor)
        with self.assertRaisesMessage(CurationRefused, "own vocabulary"):
            term_move(term=usa, parent=issue, editor=self.editor)
        self.assertIsNone(country("USA").parent_id)


class EntityTests(CurationTestCase):
    def test_rename_keeps_the_old_name_and_republishes(self):
        meta = Entity.objects.get(name="Meta")
        event = entity_rename(entity=meta, name="Meta Platforms", editor=self.editor)
        self.assertEqual(entities(self.second, "deployer"), ["Meta Platforms"])
        self.assertEqual(self.document(self.second)["entities"]["deployer"], ["Meta Platforms"])
        self.assertEqual(Taxonomy().entity("Meta").pk, meta.pk)
        self.assertEqual(event.revisions.count(), 1)
        with self.assertRaisesMessage(CurationRefused, "merge"):
            entity_rename(entity=meta, name="open ai", editor=self.editor)
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(self.document(self.second)["entities"]["deployer"], ["Meta"])

    def test_merge_relinks_the_incidents_and_is_undone(self):
        openai_inc, open_ai = Entity.objects.get(name="OpenAI Inc"), Entity.objects.get(name="Open AI")
        event = entity_merge(entity=openai_inc, into=open_ai, editor=self.editor)
        self.assertEqual(entities(self.second, "developer"), ["Open AI"])
        self.assertEqual(Taxonomy().entity("OpenAI Inc", "developer").pk, open_ai.pk)
        self.assertRedirects(
            self.client.get(openai_inc.get_absolute_url()), open_ai.get_absolute_url(), status_code=301
        )
        with self.assertRaisesMessage(CurationRefused, "cycle"):
            entity_merge(entity=open_ai, into=openai_inc, editor=self.editor)
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(entities(self.second, "developer"), ["OpenAI Inc"])
        self.assertEqual(EntityAlias.objects.get(name="OpenAI Inc").entity, openai_inc)

    def test_merge_refuses_two_kinds(self):
        system = publish("A system", entities={"system": ["Open AI"]})
        system_entity = Entity.objects.get(kind=Entity.Kind.SYSTEM)
        self.assertEqual(entities(system, "system"), ["Open AI"])
        with self.assertRaisesMessage(CurationRefused, "cannot be merged"):
            entity_merge(entity=system_entity, into=Entity.objects.get(name="Meta"), editor=self.editor)

    def test_split_names_every_part_on_each_incident(self):
        combined = Entity.objects.get(name="Meta/Facebook")
        event = entity_split(entity=combined, names=["Meta", "Facebook", " "], editor=self.editor)
        self.assertEqual(entities(self.first, "deployer"), ["Meta", "Facebook"])
        self.assertEqual(self.document(self.first)["entities"]["deployer"], ["Meta", "Facebook"])
        self.assertIn("split into “Meta”, “Facebook”", self.fresh(self.first).current_revision.summary)
        facebook = Entity.objects.get(name="Facebook")
        self.assertEqual(event.after["created"], [facebook.pk])  # "Meta" existed already
        curation_undo(event=event, editor=self.editor)
        self.assertEqual(entities(self.first, "deployer"), ["Meta/Facebook"])
        self.assertFalse(Entity.objects.filter(name="Facebook").exists())
        self.assertTrue(Entity.objects.filter(name="Meta").exists())

    def test_a_name_changed_by_hand_alone_never_creates_an_entity(self):
        Entity.objects.filter(name="Meta").update(name="Meta Platforms")
        count = Entity.objects.count()
        incident = publish("Another one", entities={"deployer": ["Meta Platforms"]})
        self.assertEqual(Entity.objects.count(), count)
        self.assertEqual(entities(incident, "deployer"), ["Meta Platforms"])

    def test_resolving_ends_on_an_entity_cycle_already_in_the_database(self):
        meta, combined = Entity.objects.get(name="Meta"), Entity.objects.get(name="Meta/Facebook")
        Entity.objects.filter(pk=meta.pk).update(merged_into=combined)
        Entity.objects.filter(pk=combined.pk).update(merged_into=meta)
        self.assertIn(Taxonomy().entity("Meta").pk, {meta.pk, combined.pk})
        with self.assertRaisesMessage(CurationRefused, "already merged"):
            entity_merge(entity=meta, into=combined, editor=self.editor)

    def test_split_needs_two_names(self):
        with self.assertRaisesMessage(CurationRefused, "at least two"):
            entity_split(entity=Entity.objects.get(name="Meta/Facebook"), names=["Meta", "meta"], editor=None)


class PlaceholdersReleaseTests(TestCase):
    """Data from before placeholders were recognised in every vocabulary: a term "Multiple"."""

    def test_terms_and_entities_named_as_placeholders_become_placeholders(self):
        incident = publish("Voice clones spread", terms={"country": ["UK"]}, entities={"deployer": ["Acme"]})
        other = publish("Untouched", terms={"country": ["France"]})
        # As an older import left it: the placeholder a term and an entity of the incident.
        multiple = Term.objects.create(
            vocabulary=Vocabulary.objects.get(slug="country"), name="Multiple", slug="multiple"
        )
        TermAlias.objects.create(
            term=multiple, vocabulary=multiple.vocabulary, name="Multiple", key="multiple"
        )
        IncidentTerm.objects.create(incident=incident, term=multiple, position=1)
        unknown = Entity.objects.create(name="Unknown", slug="unknown", kind=Entity.Kind.ORGANISATION)
        EntityAlias.objects.create(entity=unknown, name="Unknown", key="unknown")
        IncidentEntity.objects.create(incident=incident, entity=unknown, role="developer", position=1)
        revision = incident.current_revision
        revision.document = {
            **revision.document,
            "terms": {"country": ["UK", "Multiple"]},
            "entities": {**revision.document["entities"], "developer": ["Unknown"]},
        }
        revision.save(update_fields=["document"])

        released_terms, released_entities, revisions = placeholders_release()

        self.assertEqual((released_terms, released_entities), ([multiple], [unknown]))
        self.assertEqual([r.incident_id for r in revisions], [incident.pk])
        incident.refresh_from_db()
        document = incident.current_revision.document
        self.assertEqual(document["terms"], {"country": ["UK"]})
        self.assertEqual(document["placeholders"], {"developer": "Unknown", "country": "Multiple"})
        self.assertEqual(terms(incident, "country"), ["UK"])
        self.assertEqual(entities(incident, "developer"), [])
        self.assertEqual(other.revisions.count(), 1)
        # Nothing left to release: a second run publishes nothing.
        self.assertEqual(placeholders_release()[2], [])
