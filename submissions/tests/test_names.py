"""A proposal never creates what already exists: names resolve through aliases first."""

from repository import documents
from repository.models import Entity, EntityAlias, Incident, Term, TermAlias
from repository.tests.base import entities
from submissions import services
from submissions.models import Submission
from submissions.names import ALIAS, FULL_NAME, names_resolve, names_unknown, new_name_token
from submissions.tests.base import SubmissionsTestCase


def alias(entity_name, spelling):
    EntityAlias.objects.create(
        entity=Entity.objects.get(name=entity_name), name=spelling, key=documents.fold(spelling)
    )


class NamesResolveTests(SubmissionsTestCase):
    def document(self, **changes):
        return documents.normalize({**self.incident.current_revision.document, **changes})

    def test_an_alias_is_read_as_the_name_the_incident_gives(self):
        alias("Lens Corp", "Lens Corporation Limited")
        base = self.incident.current_revision.document
        proposed = self.document(
            entities={**base["entities"], "developer": ["Lens Corp", "Lens Corporation Limited"]}
        )
        resolved, matches = names_resolve(proposed=proposed, base=base)
        self.assertEqual(resolved["entities"]["developer"], ["Lens Corp"])
        self.assertEqual(
            matches,
            [
                {
                    "path": "entities.developer",
                    "given": "Lens Corporation Limited",
                    "name": "Lens Corp",
                    "how": ALIAS,
                }
            ],
        )

    def test_a_whole_word_of_the_incidents_own_name_is_that_name(self):
        base = self.incident.current_revision.document
        proposed = self.document(entities={**base["entities"], "developer": ["Lens Corp", "Lens"]})
        resolved, matches = names_resolve(proposed=proposed, base=base)
        self.assertEqual(resolved["entities"]["developer"], ["Lens Corp"])
        self.assertEqual(matches[0]["how"], FULL_NAME)

    def test_a_term_alias_is_the_term(self):
        china = Term.objects.get(name="China")
        TermAlias.objects.create(term=china, vocabulary=china.vocabulary, name="PRC", key="prc")
        base = self.incident.current_revision.document
        proposed = self.document(terms={**base["terms"], "country": ["China", "PRC"]})
        resolved, matches = names_resolve(proposed=proposed, base=base)
        self.assertEqual(resolved["terms"]["country"], ["China"])
        self.assertEqual(matches[0]["name"], "China")

    def test_names_the_incident_already_has_are_left_as_spelled(self):
        base = self.incident.current_revision.document
        alias("Acme Retail", "Acme")
        resolved, matches = names_resolve(proposed=self.document(headline="Changed"), base=base)
        self.assertEqual(resolved["entities"], base["entities"])
        self.assertEqual(matches, [])

    def test_an_unknown_name_stays_and_is_listed_once_whatever_its_roles(self):
        base = self.incident.current_revision.document
        proposed = self.document(
            entities={
                "deployer": ["Acme Retail", "Brand New Ltd"],
                "developer": ["Brand New Ltd"],
                "system": [],
            }
        )
        resolved, matches = names_resolve(proposed=proposed, base=base)
        self.assertEqual(resolved["entities"]["deployer"], ["Acme Retail", "Brand New Ltd"])
        self.assertEqual(matches, [])
        self.assertEqual(
            names_unknown(document=resolved, base=base), [("entities.deployer", "Brand New Ltd")]
        )


class ApprovalCreatesNothingThatExistsTests(SubmissionsTestCase):
    def setUp(self):
        super().setUp()
        self.client.force_login(self.editor)

    def report(self, **changes):
        data = {
            "step": "send",
            "headline": "Camera flags ethnic minority for police",
            "occurred": "February 2021",
            "narrative": "The software alerted police.",
            "deployer": "Acme Retail",
            "developer": "Lens Corporation Limited",
            "sources": "https://news.example.org/b",
            "duplicate_of": str(self.incident.pk),
            **changes,
        }
        self.client.post("/submit/", data)
        return Submission.objects.get()

    def test_a_report_naming_an_organisation_by_an_alias_adds_no_entity_and_no_type(self):
        alias("Lens Corp", "Lens Corporation Limited")
        self.client.logout()
        submission = self.report()
        self.client.force_login(self.editor)
        self.assertEqual(submission.proposed["entities"]["developer"], ["Lens Corp"])
        response = self.client.get(submission.get_absolute_url())
        self.assertContains(response, "“Lens Corporation Limited” → Lens Corp (alias)")
        self.assertNotContains(response, 'name="confirm_new"')
        before = Entity.objects.count()
        response = self.client.post(
            f"/moderation/{submission.pk}/approve/",
            {"expected_revision": self.incident.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Approved and published.")
        incident = Incident.objects.get()
        self.assertEqual(Entity.objects.count(), before)
        self.assertEqual(entities(incident, "developer"), ["Lens Corp"])
        self.assertEqual(incident.type, "")  # the contributor never chose one
        self.assertEqual(
            [r["url"] for r in incident.current_revision.document["references"]["news"]],
            ["https://news.example.org/a", "https://news.example.org/b"],
        )

    def test_a_new_organisation_is_created_only_once_the_editor_confirms_it(self):
        self.client.logout()
        submission = self.report(developer="Brand New Ltd")
        self.client.force_login(self.editor)
        response = self.client.get(submission.get_absolute_url())
        token = new_name_token("entities.developer", "Brand New Ltd")
        self.assertContains(response, f'name="confirm_new" value="{token}" required')
        response = self.client.post(
            f"/moderation/{submission.pk}/approve/",
            {"expected_revision": self.incident.current_revision_id},
            follow=True,
        )
        self.assertContains(response, "Approving would create “Brand New Ltd”: confirm that each is new")
        self.assertFalse(Entity.objects.filter(name="Brand New Ltd").exists())
        self.assertEqual(Submission.objects.get().state, Submission.State.PENDING)
        self.client.post(
            f"/moderation/{submission.pk}/approve/",
            {"expected_revision": self.incident.current_revision_id, "confirm_new": token},
        )
        self.assertTrue(Entity.objects.filter(name="Brand New Ltd").exists())
        self.assertEqual(Submission.objects.get().state, Submission.State.APPROVED)

    def test_the_service_refuses_an_unconfirmed_new_term(self):
        submission = self.propose(
            terms={**self.incident.current_revision.document["terms"], "country": ["Freedonia"]}
        )
        with self.assertRaisesMessage(services.TransitionError, "Approving would create “Freedonia”"):
            services.submission_approve(submission=submission, editor=self.editor, confirmed_new=set())
        services.submission_approve(
            submission=submission,
            editor=self.editor,
            confirmed_new={new_name_token("terms.country", "Freedonia")},
        )
        self.assertTrue(Term.objects.filter(name="Freedonia").exists())
