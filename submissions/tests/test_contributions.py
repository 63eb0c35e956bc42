from django.test import Client, override_settings

from repository.models import Incident
from repository.tests.base import publish
from submissions.models import ModerationEvent, Submission
from submissions.tests.base import SubmissionsTestCase, form_data

IMPROVE = "/incidents/camera-flags-minority/improve/"


class ImproveFormTests(SubmissionsTestCase):
    def improve_data(self, **changes):
        form = self.client.get(IMPROVE).context["form"]
        return {**form_data(form), **changes}

    def test_the_form_starts_from_the_incident_as_published(self):
        response = self.client.get(IMPROVE)
        self.assertContains(response, "Can you improve this page?")
        form = response.context["form"]
        self.assertEqual(form["headline"].value(), "Camera system flags an ethnic minority to police")
        self.assertEqual(form["occurred"].value(), "February 2021")
        self.assertEqual(form["terms_country"].value(), ["China"])
        self.assertEqual(form["deployer"].value(), ["Acme Retail"])

    def test_a_correction_waits_for_review_and_is_not_public(self):
        data = self.improve_data(
            headline="Camera system flags Uyghurs to police",
            terms_country=["China", "USA"],
            propose_terms_country="USA",
            deployer="Acme Retail; Metro Police",
            ref_url_1="https://research.example.org/report",
            ref_title_1="The research report",
            ref_category_1="research",
            insight="The report names the minority.",
            name="Rita",
            email="rita@example.org",
            credit="on",
        )
        response = self.client.post(IMPROVE, data)
        submission = Submission.objects.get()
        self.assertRedirects(response, submission.get_status_url() + "?sent=1")
        self.assertEqual(submission.state, Submission.State.PENDING)
        self.assertEqual(submission.kind, Submission.Kind.IMPROVEMENT)
        self.assertEqual(submission.base_revision, self.incident.current_revision)
        proposed = submission.proposed
        self.assertEqual(proposed["headline"], "Camera system flags Uyghurs to police")
        self.assertEqual(proposed["terms"]["country"], ["China", "USA"])
        self.assertEqual(proposed["entities"]["deployer"], ["Acme Retail", "Metro Police"])
        self.assertEqual(proposed["references"]["research"][0]["url"], "https://research.example.org/report")
        self.assertEqual(
            (submission.name, submission.email, submission.credit), ("Rita", "rita@example.org", True)
        )
        self.assertEqual(
            list(submission.events.values_list("action", flat=True)), [ModerationEvent.Action.SUBMIT]
        )
        page = self.client.get(self.incident.get_absolute_url())
        self.assertContains(page, "Camera system flags an ethnic minority to police")
        self.assertNotContains(page, "Uyghurs")
        self.assertNotContains(page, "Metro Police")

    def test_an_improvement_keeps_the_harmed_parties_and_can_change_them(self):
        incident = publish(
            "Shuttle hits pedestrian",
            slug="shuttle-hits-pedestrian",
            entities={"deployer": ["Keolis North America"], "harmed": ["Pedestrians"]},
        )
        url = f"/incidents/{incident.slug}/improve/"
        form = self.client.get(url).context["form"]
        self.assertEqual(form["harmed"].label, "Harmed parties")
        self.assertEqual(form["harmed"].value(), ["Pedestrians"])
        data = {**form_data(form), "headline": "Self-driving shuttle hits pedestrian", "insight": "Clearer."}
        self.client.post(url, data)
        self.assertEqual(Submission.objects.get().proposed["entities"]["harmed"], ["Pedestrians"])
        self.client.post(url, {**data, "harmed": ["Pedestrians", "Passengers"]})
        self.assertEqual(
            Submission.objects.latest("pk").proposed["entities"]["harmed"], ["Pedestrians", "Passengers"]
        )

    def test_removing_a_reference(self):
        data = self.improve_data(remove_news_0="on", insight="That article was retracted.")
        self.client.post(IMPROVE, data)
        self.assertEqual(Submission.objects.get().proposed["references"]["news"], [])

    def test_an_insight_alone_is_enough(self):
        self.client.post(IMPROVE, self.improve_data(insight="The police stopped using it in 2022."))
        submission = Submission.objects.get()
        self.assertEqual(submission.insight, "The police stopped using it in 2022.")
        self.assertEqual(submission.proposed, self.incident.current_revision.document)

    def test_nothing_changed_and_no_insight_is_refused_with_a_message(self):
        response = self.client.post(IMPROVE, self.improve_data())
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "There is nothing to send yet")
        self.assertFalse(Submission.objects.exists())

    def test_bad_input_gets_a_message_next_to_the_field(self):
        cases = {
            "headline": ("x" * 301, "at most 300 characters"),
            "occurred": ("sometime soon", "Write a year"),
            "ref_url_1": ("not a web address", "Enter a valid URL"),
            "terms_technology": ("Facial recog", "is not a known Technology term"),
            "email": ("rita@", "Enter a valid email address"),
        }
        for field, (value, message) in cases.items():
            with self.subTest(field=field):
                response = self.client.post(IMPROVE, self.improve_data(**{field: value, "insight": "x"}))
                self.assertEqual(response.status_code, 200)
                self.assertIn(field, response.context["form"].errors)
                self.assertContains(response, message)
        self.assertFalse(Submission.objects.exists())

    def test_a_new_term_can_be_proposed(self):
        data = self.improve_data(
            terms_technology=["Facial recognition", "Gait recognition"],
            propose_terms_technology="Gait recognition",
        )
        self.client.post(IMPROVE, data)
        self.assertEqual(
            Submission.objects.get().proposed["terms"]["technology"],
            ["Facial recognition", "Gait recognition"],
        )

    def test_a_term_proposed_for_another_vocabulary_is_still_refused(self):
        data = self.improve_data(
            terms_technology=["Gait recognition"], propose_terms_country="Gait recognition", insight="x"
        )
        response = self.client.post(IMPROVE, data)
        self.assertContains(response, "is not a known Technology term")
        self.assertFalse(Submission.objects.exists())

    def test_credit_needs_a_name(self):
        response = self.client.post(IMPROVE, self.improve_data(insight="x", credit="on", name=""))
        self.assertContains(response, "Give the name to credit")

    def test_markup_is_kept_as_text(self):
        hostile = "<script>alert('x')</script>"
        self.client.post(
            IMPROVE, self.improve_data(headline=f"{hostile} headline", insight=hostile, name=hostile)
        )
        submission = Submission.objects.get()
        self.assertEqual(submission.proposed["headline"], f"{hostile} headline")
        self.assertEqual(submission.insight, hostile)

    def test_an_unknown_incident_is_a_404(self):
        self.assertEqual(self.client.get("/incidents/nope/improve/").status_code, 404)

    def test_the_honeypot_turns_bots_away(self):
        response = self.client.post(
            IMPROVE, self.improve_data(insight="Buy pills", leave_empty="http://spam")
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Submission.objects.exists())

    def test_csrf_is_enforced(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(IMPROVE, self.improve_data(insight="x"))
        self.assertEqual(response.status_code, 403)
        self.assertFalse(Submission.objects.exists())

    @override_settings(SUBMISSION_RATE_LIMIT=3, SUBMISSION_RATE_PERIOD=600)
    def test_a_client_that_sends_too_often_is_told_when_to_try_again(self):
        data = self.improve_data(insight="x")
        for _ in range(3):
            self.assertEqual(self.client.post(IMPROVE, data).status_code, 302)
        response = self.client.post(IMPROVE, data)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "try again in", status_code=429)
        self.assertTrue(1 <= int(response["Retry-After"]) <= 600)
        self.assertEqual(Submission.objects.count(), 3)
        other_client = self.client_class(REMOTE_ADDR="203.0.113.9")
        self.assertEqual(other_client.post(IMPROVE, data).status_code, 302)
        # Reading is never limited.
        self.assertEqual(self.client.get(IMPROVE).status_code, 200)


class ReportFormTests(SubmissionsTestCase):
    def report_data(self, **changes):
        return {
            "step": "check",
            "headline": "Warehouse robot injures worker",
            "occurred": "March 2024",
            "narrative": "A robot arm struck a worker.",
            "deployer": "ShipFast",
            "developer": "ArmWorks",
            "terms_country": "China",
            "sources": "https://news.example.org/robot-arm\nhttps://news.example.org/robot-arm-2",
            **changes,
        }

    def test_a_new_report_with_no_look_alikes_is_sent_at_once(self):
        response = self.client.post("/submit/", self.report_data())
        submission = Submission.objects.get()
        self.assertRedirects(response, submission.get_status_url() + "?sent=1")
        self.assertEqual(submission.kind, Submission.Kind.NEW_INCIDENT)
        self.assertIsNone(submission.incident)
        self.assertEqual(submission.proposed["occurred"], "2024-03")
        self.assertEqual(len(submission.proposed["references"]["news"]), 2)
        self.assertEqual(Incident.objects.count(), 1)

    def test_possible_duplicates_are_shown_before_sending(self):
        data = self.report_data(
            headline="Camera flags ethnic minority for police",
            sources="https://news.example.org/a/",
        )
        response = self.client.post("/submit/", data)
        self.assertContains(response, "Is your incident one of these?")
        [candidate] = response.context["candidates"]
        self.assertEqual(candidate.incident, self.incident)
        self.assertIn("cites the same source", candidate.reasons)
        self.assertIn("has a similar headline", candidate.reasons)
        self.assertFalse(Submission.objects.exists())

    def test_same_organisations_in_the_same_period_are_a_possible_duplicate(self):
        data = self.report_data(
            headline="Shop uses face matching", deployer="Acme Retail", developer="Lens Corp", occurred="2021"
        )
        response = self.client.post("/submit/", data)
        [candidate] = response.context["candidates"]
        self.assertEqual(
            candidate.reasons,
            ["names the same deployer or developer in the same period: Acme Retail; Lens Corp"],
        )

    def test_mine_is_one_of_these_makes_it_an_improvement(self):
        data = self.report_data(
            headline="Camera flags ethnic minority for police", sources="https://news.example.org/b"
        )
        self.client.post("/submit/", data)
        self.client.post("/submit/", {**data, "step": "send", "duplicate_of": str(self.incident.pk)})
        submission = Submission.objects.get()
        self.assertEqual(submission.kind, Submission.Kind.IMPROVEMENT)
        self.assertEqual(submission.incident, self.incident)
        self.assertEqual(submission.insight, "A robot arm struck a worker.")
        urls = [r["url"] for r in submission.proposed["references"]["news"]]
        self.assertEqual(urls, ["https://news.example.org/a", "https://news.example.org/b"])
        self.assertEqual(submission.proposed["headline"], self.incident.headline)

    def test_mine_is_new_sends_it_as_a_new_incident(self):
        data = self.report_data(headline="Camera flags ethnic minority for police")
        self.client.post("/submit/", data)
        self.client.post("/submit/", {**data, "step": "send", "duplicate_of": "new"})
        self.assertEqual(Submission.objects.get().kind, Submission.Kind.NEW_INCIDENT)

    def test_a_choice_that_was_not_offered_is_refused(self):
        data = self.report_data(headline="Camera flags ethnic minority for police")
        other = Incident.objects.create(number=99, slug="other", headline="Other")
        response = self.client.post("/submit/", {**data, "step": "send", "duplicate_of": str(other.pk)})
        self.assertContains(response, "Choose one of the incidents listed")
        self.assertFalse(Submission.objects.exists())

    def test_a_report_needs_a_source_and_valid_values(self):
        response = self.client.post(
            "/submit/", self.report_data(sources="", occurred="next year", headline="")
        )
        errors = response.context["form"].errors
        self.assertIn("Give at least one web address", errors["sources"][0])
        self.assertIn("occurred", errors)
        self.assertIn("headline", errors)
        response = self.client.post("/submit/", self.report_data(sources="javascript:alert(1)"))
        self.assertIn("is not a web address", response.context["form"].errors["sources"][0])
        self.assertFalse(Submission.objects.exists())

    def test_the_honeypot_turns_bots_away(self):
        response = self.client.post("/submit/", self.report_data(leave_empty="x"))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Submission.objects.exists())


class StatusPageTests(SubmissionsTestCase):
    def test_the_confirmation_shows_the_private_link(self):
        submission = self.propose(headline="Changed")
        response = self.client.get(submission.get_status_url() + "?sent=1")
        self.assertContains(response, "Thank you")
        self.assertContains(response, f"http://testserver/submissions/{submission.token}/")
        self.assertContains(response, "Pending review")

    def test_tokens_are_long_and_unguessable(self):
        first, second = self.propose(headline="A"), self.propose(headline="B")
        self.assertGreaterEqual(len(first.token), 40)
        self.assertNotEqual(first.token, second.token)
        self.assertEqual(self.client.get("/submissions/not-a-token/").status_code, 404)

    def test_it_never_shows_the_email(self):
        submission = self.propose(headline="Changed")
        self.assertNotContains(self.client.get(submission.get_status_url()), "rita@example.org")

    def test_a_rejection_shows_the_reason_and_the_note(self):
        from submissions import services

        submission = self.propose(headline="Changed")
        services.submission_reject(
            submission=submission,
            editor=self.editor,
            reason=Submission.Reason.INSUFFICIENT_SOURCES,
            note="Add a source.",
        )
        response = self.client.get(submission.get_status_url())
        self.assertContains(response, "Rejected")
        self.assertContains(response, "Insufficient sources")
        self.assertContains(response, "Add a source.")

    def test_an_approval_links_to_the_published_change(self):
        from submissions import services

        submission = self.propose(headline="Changed")
        services.submission_approve(submission=submission, editor=self.editor)
        response = self.client.get(submission.get_status_url())
        self.assertContains(response, "Approved")
        self.assertContains(response, "/incidents/camera-flags-minority/history/#revision-2")

    def test_the_contributor_can_withdraw_while_pending(self):
        submission = self.propose(headline="Changed")
        response = self.client.post(submission.get_status_url(), {"action": "withdraw"}, follow=True)
        self.assertContains(response, "Withdrawn")
        submission.refresh_from_db()
        self.assertEqual(submission.state, Submission.State.WITHDRAWN)
        response = self.client.post(submission.get_status_url(), {"action": "withdraw"}, follow=True)
        self.assertContains(response, "can no longer be withdrawn")
