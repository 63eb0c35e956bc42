"""Forms that guide: after a failed submit, a summary at the top links to every invalid field,
the title says "Error:", and each field says it is invalid and what is wrong, by ids that exist."""

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
        self.assert_guides_to(response, [])
        self.assertContains(response, "There is nothing to send yet")

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
