"""Forms that guide: after a failed submit, a summary at the top links to every invalid field,
the title says "Error:", and each field says it is invalid and what is wrong, by ids that exist."""

from submissions import services
from submissions.tests.base import SubmissionsTestCase, form_data
from submissions.tests.html import Page

IMPROVE = "/incidents/camera-flags-minority/improve/"


class ErrorSummaryTests(SubmissionsTestCase):
    def assert_guides_to(self, response, fields):
        """The page a failed submit returns: a summary with a link to each field, in that order."""
        self.assertEqual(response.status_code, 200)
        page = Page(response.content.decode())
        self.assertTrue(page.title.strip().startswith("Error: "), page.title)
        alerts = page.find(role="alert")
        self.assertEqual(len(alerts), 1, alerts)
        self.assertIn("error-summary", alerts[0][1]["class"])
        self.assertEqual(alerts[0][1]["tabindex"], "-1")  # focusable by its script
        self.assertIn(alerts[0][1]["aria-labelledby"], page.ids())
        links = [
            attrs["href"]
            for tag, attrs in page.elements
            if tag == "a" and attrs.get("href", "").startswith("#id_")
        ]
        self.assertEqual(links, [f"#id_{name}" for name in fields])
        for name in fields:
            [(_, field)] = page.find(id=f"id_{name}")
            self.assertEqual(field.get("aria-invalid"), "true", name)
            self.assertIn(f"id_{name}_error", field["aria-describedby"].split())
        self.assertEqual(page.dangling_describedby(), [])
        self.assertEqual(len(page.find(src="/static/js/error-summary.js")), 1)
        return page

    def assert_calm(self, response):
        """A page without errors: no alert, no summary, nothing marked invalid, no dangling ids."""
        page = Page(response.content.decode())
        self.assertFalse(page.title.startswith("Error"))
        self.assertEqual(page.find(role="alert"), [])
        self.assertEqual(page.find(aria_invalid="true"), [])
        self.assertEqual(page.find(src="/static/js/error-summary.js"), [])
        self.assertEqual(page.dangling_describedby(), [])
        return page

    def test_the_improve_form_on_load_has_no_alert_and_describes_fields_by_ids_that_exist(self):
        page = self.assert_calm(self.client.get(IMPROVE))
        [(_, headline)] = page.find(id="id_headline")
        self.assertNotIn("aria-describedby", headline)  # no help text, no error
        [(_, occurred)] = page.find(id="id_occurred")
        self.assertEqual(occurred["aria-describedby"], "id_occurred_helptext")

    def test_a_failed_improvement_leads_to_each_invalid_field(self):
        form = self.client.get(IMPROVE).context["form"]
        data = {**form_data(form), "headline": "", "occurred": "soon", "email": "not-an-email"}
        page = self.assert_guides_to(self.client.post(IMPROVE, data), ["headline", "occurred", "email"])
        [(_, occurred)] = page.find(id="id_occurred")
        self.assertEqual(occurred["aria-describedby"], "id_occurred_helptext id_occurred_error")

    def test_a_form_level_error_is_in_the_summary_too(self):
        form = self.client.get(IMPROVE).context["form"]
        response = self.client.post(IMPROVE, form_data(form))  # nothing changed, no insight
        # Said on the insight field, so the summary links to where to write.
        self.assert_guides_to(response, ["insight"])
        self.assertContains(response, "There is nothing to send yet")

    def test_every_contributor_form_posts_to_an_address_without_a_fragment(self):
        """A form without an action posts to the page's address with its fragment (reached by
        the "#full-form" link), and the page returned would scroll past its error summary."""
        submission = self.propose(headline="Changed")
        services.submission_ask_changes(submission=submission, editor=self.editor, note="A source?")
        status = submission.get_status_url()
        for url, expected in ((IMPROVE, [IMPROVE, IMPROVE]), ("/submit/", ["/submit/"]), (status, [status])):
            page = Page(self.client.get(url).content.decode())
            actions = [
                attrs.get("action")
                for tag, attrs in page.elements
                if tag == "form" and attrs.get("method") == "post" and attrs.get("class") == "stacked"
            ]
            self.assertEqual(actions, expected, url)

    def test_a_failed_revision_leads_to_each_invalid_field(self):
        submission = self.propose(headline="Changed")
        services.submission_ask_changes(submission=submission, editor=self.editor, note="A source?")
        url = submission.get_status_url()
        data = {**form_data(self.client.get(url).context["form"]), "action": "resubmit", "headline": ""}
        self.assert_guides_to(self.client.post(url, data), ["headline"])

    def test_the_document_validators_messages_name_their_field(self):
        form = self.client.get(IMPROVE).context["form"]
        self.assertEqual(form._field_for_path("entities.deployer.0"), "deployer")
        self.assertEqual(form._field_for_path("terms.technology"), "terms_technology")
        self.assertEqual(form._field_for_path("occurred"), "occurred")
        self.assertIsNone(form._field_for_path("references.news.0.url"))
        self.assertIsNone(form._field_for_path("terms.nonesuch"))

    def test_a_failed_report_leads_to_each_invalid_field(self):
        self.assert_calm(self.client.get("/submit/"))
        response = self.client.post("/submit/", {"step": "check", "headline": "", "occurred": "2024"})
        self.assert_guides_to(response, ["headline", "narrative", "sources"])

    def test_a_failed_edit_by_an_editor_leads_to_the_field(self):
        submission = self.propose(headline="Changed")
        self.client.force_login(self.editor)
        url = f"/moderation/{submission.pk}/edit/"
        self.assert_calm(self.client.get(url))
        data = {**form_data(self.client.get(url).context["form"]), "headline": ""}
        self.assert_guides_to(self.client.post(url, data), ["headline"])

    def test_the_review_page_describes_fields_by_ids_that_exist(self):
        submission = self.report_new()
        self.client.force_login(self.editor)
        page = Page(self.client.get(f"/moderation/{submission.pk}/").content.decode())
        self.assertIn("id_target_helptext", page.ids())
        self.assertEqual(page.dangling_describedby(), [])
