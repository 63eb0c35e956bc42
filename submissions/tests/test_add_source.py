"""The improve page offers "Add a source" first: one address, its section and a note, sent in
one step; the full form stays one click away and grows reference rows as needed."""

from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase, form_data
from submissions.tests.html import Page

IMPROVE = "/incidents/camera-flags-minority/improve/"


class AddSourceTests(SubmissionsTestCase):
    def test_the_source_form_comes_first_and_the_full_form_is_one_link_away(self):
        html = self.client.get(IMPROVE).content.decode()
        self.assertLess(html.index('name="source-url"'), html.index('name="headline"'))
        page = Page(html)
        self.assertEqual(len(page.find(href="#full-form")), 1)
        self.assertIn("full-form", page.ids())
        [(_, section)] = page.find(name="source-category")
        self.assertEqual(section["aria-describedby"], "id_source-category_helptext")

    def test_a_source_is_sent_in_one_step_as_a_proposal_on_the_current_document(self):
        before = self.incident.current_revision.document
        response = self.client.post(
            IMPROVE,
            {
                "form": "source",
                "source-url": "research.example.org/audit",
                "source-category": "research",
                "source-note": "An audit of the alerts.",
            },
        )
        submission = Submission.objects.get()
        self.assertRedirects(response, submission.get_status_url() + "?sent=1")
        self.assertEqual(submission.kind, Submission.Kind.IMPROVEMENT)
        self.assertEqual(submission.state, Submission.State.PENDING)
        self.assertEqual(submission.insight, "An audit of the alerts.")
        self.assertEqual(submission.base_revision, self.incident.current_revision)
        self.assertEqual(
            [r["url"] for r in submission.proposed["references"]["research"]],
            ["https://research.example.org/audit"],
        )
        # Everything else is the document as published.
        for key in ("headline", "narrative", "terms", "entities"):
            self.assertEqual(submission.proposed[key], before[key])
        self.assertEqual(submission.proposed["references"]["news"], before["references"]["news"])
        # Nothing public yet.
        self.assertNotContains(
            self.client.get(self.incident.get_absolute_url()), "research.example.org/audit"
        )

    def test_a_source_may_come_with_an_email_to_hear_of_the_decision(self):
        from django.core import mail

        from submissions import services

        data = {
            "form": "source",
            "source-url": "https://research.example.org/audit",
            "source-category": "research",
        }
        response = self.client.post(IMPROVE, {**data, "source-email": "not-an-email"})
        self.assertContains(response, "Enter a valid email address.")
        self.assertContains(response, 'href="#id_source-email"')
        self.assertFalse(Submission.objects.exists())
        self.client.post(IMPROVE, {**data, "source-email": "sam@example.org"})
        submission = Submission.objects.get()
        self.assertEqual(submission.email, "sam@example.org")
        with self.captureOnCommitCallbacks(execute=True):
            services.submission_approve(submission=submission, editor=self.editor)
        [message] = [m for m in mail.outbox if m.to == ["sam@example.org"]]
        self.assertIn("/incidents/camera-flags-minority/", message.body)

    def test_a_source_the_page_cites_already_is_refused_whatever_its_spelling(self):
        response = self.client.post(
            IMPROVE,
            {
                "form": "source",
                "source-url": "http://www.news.example.org/a/?utm_source=x#top",
                "source-category": "news",
            },
        )
        self.assertContains(response, "The page cites this source already")
        page = Page(response.content.decode())
        self.assertTrue(page.title.startswith("Error: "))
        self.assertEqual(len(page.find(href="#id_source-url")), 1)
        [(_, url)] = page.find(id="id_source-url")
        self.assertEqual(url["aria-invalid"], "true")
        self.assertEqual(page.dangling_describedby(), [])
        self.assertFalse(Submission.objects.exists())

    def test_a_bot_filling_the_source_forms_honeypot_is_turned_away(self):
        response = self.client.post(
            IMPROVE,
            {
                "form": "source",
                "source-url": "https://x.example.org/",
                "source-category": "news",
                "source-leave_empty": "x",
            },
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Submission.objects.exists())

    def test_another_reference_row_keeps_what_was_typed_and_sends_nothing(self):
        data = {
            **form_data(self.client.get(IMPROVE).context["form"]),
            "form": "full",
            "headline": "Camera system flags Uyghurs to police",
            "ref_url_1": "https://one.example.org/",
            "more_rows": "1",
        }
        response = self.client.post(IMPROVE, data)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Submission.objects.exists())
        form = response.context["form"]
        self.assertEqual(form.reference_rows, 2)
        page = Page(response.content.decode())
        self.assertEqual(page.find(role="alert"), [])  # asking for a row is not an error
        [(_, headline)] = page.find(id="id_headline")
        self.assertEqual(headline["value"], "Camera system flags Uyghurs to police")
        [(_, first)] = page.find(id="id_ref_url_1")
        self.assertEqual(first["value"], "https://one.example.org/")
        [(_, second)] = page.find(id="id_ref_url_2")
        self.assertIn("autofocus", second)
        [(_, rows)] = page.find(name="reference_rows")
        self.assertEqual(rows["value"], "2")
        # Then both rows are sent.
        data.pop("more_rows")
        data.update(reference_rows="2", ref_url_2="https://two.example.org/report", ref_category_2="research")
        self.client.post(IMPROVE, data)
        proposed = Submission.objects.get().proposed["references"]
        self.assertIn("https://one.example.org/", [r["url"] for r in proposed["news"]])
        self.assertEqual([r["url"] for r in proposed["research"]], ["https://two.example.org/report"])

    def test_each_vocabulary_is_a_box_per_term_and_its_terms_are_linked_once(self):
        page = Page(self.client.get(IMPROVE).content.decode())
        vocabularies = self.vocabularies()
        self.assertGreater(len(vocabularies), 5)
        terms = self.incident.current_revision.document["terms"]
        for vocabulary in vocabularies:
            boxes = page.find(name=f"terms_{vocabulary.slug}")
            # One box per term the incident has, and one empty box.
            self.assertEqual([box["value"] for _, box in boxes], [*terms.get(vocabulary.slug, []), ""])
            self.assertEqual(len(page.find(href=f"/taxonomy/{vocabulary.slug}/")), 1)

    def test_an_editor_adds_reference_rows_to_a_proposal_the_same_way(self):
        submission = self.propose(headline="Changed")
        self.client.force_login(self.editor)
        url = f"/moderation/{submission.pk}/edit/"
        data = {**form_data(self.client.get(url).context["form"]), "reference_rows": "1", "more_rows": "1"}
        response = self.client.post(url, data)
        self.assertEqual(response.context["form"].reference_rows, 2)
        submission.refresh_from_db()
        self.assertEqual(submission.proposed["headline"], "Changed")  # nothing saved
        self.assertFalse(submission.events.filter(action="edit").exists())

    def test_the_report_form_links_each_vocabulary_once(self):
        page = Page(self.client.get("/submit/").content.decode())
        for slug in ("country", "sector", "technology"):
            self.assertEqual(len(page.find(name=f"terms_{slug}")), 1)  # one empty box
            self.assertEqual(len(page.find(href=f"/taxonomy/{slug}/")), 1)
