from django.core.cache import cache

from repository.models import CurationEvent, Entity, Incident, Term
from repository.services import term_move
from repository.tests.base import publish
from submissions import services
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase

HOSTILE = "<script>alert('pwned')</script>"


class PermissionMatrixTests(SubmissionsTestCase):
    """Every editor URL and action x {anonymous, signed-in non-editor, editor}."""

    def urls(self):
        submission = self.propose(headline="Changed")
        services.submission_approve(submission=self.propose(headline="Published change"), editor=self.editor)
        pk = submission.pk
        revision = Incident.objects.get().current_revision_id
        twin = publish("Camera system flags a minority to police", slug="camera-twin")
        pair = Submission.objects.create(
            kind=Submission.Kind.MERGE, incident=self.incident, other_incident=twin, proposed={}
        )
        publish(
            "Taxonomy twin",
            slug="taxonomy-twin",
            terms={"country": ["PRC", "Asia", "Oceania"]},
            entities={"deployer": ["Acme/Lens"], "developer": ["Lens"]},
        )
        country = {term.name: term.pk for term in Term.objects.filter(vocabulary__slug="country")}
        entity = {e.name: e.pk for e in Entity.objects.all()}
        oceania = Term.objects.get(name="Oceania")
        event = term_move(term=oceania, parent=Term.objects.get(name="Asia"), editor=self.other_editor)
        tax = "/moderation/taxonomy"
        self.spam = self.report_new(headline="Cheap watches")
        self.vague = self.report_new(headline="Something happened somewhere")
        return [
            # (method, url, data, the editor's expected status)
            ("get", f"{tax}/", {}, 200),
            ("get", f"{tax}/", {"q": "china"}, 200),
            ("get", f"{tax}/variants/", {"scope": "organisation"}, 200),
            ("get", f"{tax}/variants/", {"scope": "system"}, 200),
            ("get", f"{tax}/log/", {}, 200),
            ("get", f"{tax}/terms/{country['China']}/", {}, 200),
            ("get", f"{tax}/entities/{entity['Acme Retail']}/", {}, 200),
            ("post", f"{tax}/terms/{country['China']}/rename/", {"name": "Cathay"}, 200),  # the confirmation
            (
                "post",
                f"{tax}/terms/{country['China']}/rename/",
                {"name": "PR China", "confirmed": "yes"},
                302,
            ),
            (
                "post",
                f"{tax}/terms/{country['PRC']}/merge/",
                {"into_id": country["China"], "confirmed": "yes"},
                302,
            ),
            ("post", f"{tax}/terms/{country['China']}/move/", {"parent": "Asia", "confirmed": "yes"}, 302),
            (
                "post",
                f"{tax}/entities/{entity['Lens']}/rename/",
                {"name": "Lens Inc", "confirmed": "yes"},
                302,
            ),
            (
                "post",
                f"{tax}/entities/{entity['Lens']}/merge/",
                {"into_id": entity["Lens Corp"], "confirmed": "yes"},
                302,
            ),
            (
                "post",
                f"{tax}/entities/{entity['Acme/Lens']}/split/",
                {"names": "Acme Retail\nLens Corp", "confirmed": "yes"},
                302,
            ),
            ("get", f"{tax}/log/{event.pk}/undo/", {}, 200),  # the undo's confirmation
            ("post", f"{tax}/log/{event.pk}/undo/", {}, 200),  # not confirmed: the same page
            ("post", f"{tax}/log/{event.pk}/undo/", {"confirmed": "yes"}, 302),
            ("get", "/moderation/", {}, 200),
            ("get", "/moderation/?state=rejected&claimed=mine", {}, 200),
            ("get", f"/moderation/{pk}/", {}, 200),
            ("get", f"/moderation/{pk}/edit/", {}, 200),
            ("get", "/moderation/settings/", {}, 200),
            ("post", "/moderation/settings/", {"notify": "digest"}, 302),
            ("get", "/moderation/links/", {}, 200),
            ("get", "/moderation/stats/", {}, 200),
            ("post", f"/moderation/{pk}/fill-metadata/", {}, 302),
            ("post", f"/moderation/{pk}/claim/", {}, 302),
            ("post", f"/moderation/{pk}/release/", {}, 302),
            ("post", f"/moderation/{pk}/note/", {"note": "checked"}, 302),
            ("post", f"/moderation/{pk}/edit/", {}, 200),  # invalid form: shown again with errors
            ("post", f"/moderation/{pk}/resolve/", {"expected_revision": revision}, 302),
            ("post", f"/moderation/{pk}/merge/", {"target": "camera-flags-minority"}, 302),
            ("post", f"/moderation/{pk}/reject/", {"reason": "spam"}, 302),
            ("post", f"/moderation/{pk}/approve/", {"expected_revision": revision}, 302),
            (
                "post",
                "/moderation/incidents/camera-flags-minority/revert/1/",
                {"expected_revision": revision},
                302,
            ),
            ("get", f"/moderation/{pair.pk}/", {}, 200),
            ("post", f"/moderation/{self.vague.pk}/ask-changes/", {"note": "Which city?"}, 302),
            ("post", "/moderation/bulk/", {"ids": [self.spam.pk], "action": "reject", "reason": "spam"}, 302),
            ("get", f"/moderation/{pair.pk}/merge-incidents/undo/", {}, 200),  # nothing to undo yet
            ("post", f"/moderation/{pair.pk}/merge-incidents/undo/", {"confirmed": "yes"}, 302),  # refused
            ("post", f"/moderation/{pair.pk}/merge-incidents/", {"survivor": self.incident.pk}, 200),
            (
                "post",
                f"/moderation/{pair.pk}/merge-incidents/",
                {"survivor": self.incident.pk, "confirmed": "yes"},
                302,
            ),
            ("get", f"/moderation/{pair.pk}/merge-incidents/undo/", {}, 200),  # the undo's confirmation
        ]

    def test_anonymous_visitors_are_sent_to_sign_in(self):
        for method, url, data, _ in self.urls():
            with self.subTest(method=method, url=url):
                response = getattr(self.client, method)(url, data)
                self.assertEqual(response.status_code, 302)
                self.assertTrue(
                    response["Location"].startswith("/accounts/login/?next="), response["Location"]
                )
        self.assertEqual(Submission.objects.filter(state="pending").count(), 4)
        self.assertFalse(Incident.objects.filter(merged_into__isnull=False).exists())
        self.assert_taxonomy_untouched()

    def assert_taxonomy_untouched(self):
        self.assertEqual(CurationEvent.objects.count(), 1)  # the move made by urls()
        self.assertEqual(Term.objects.get(name="Oceania").parent.name, "Asia")
        self.assertTrue(Term.objects.filter(name="China", parent=None, merged_into=None).exists())
        self.assertFalse(Term.objects.filter(merged_into__isnull=False).exists())
        self.assertFalse(Entity.objects.filter(merged_into__isnull=False).exists())
        self.assertTrue(Entity.objects.filter(name="Lens").exists())

    def test_signed_in_non_editors_are_refused(self):
        self.client.force_login(self.outsider)
        for method, url, data, _ in self.urls():
            with self.subTest(method=method, url=url):
                self.assertEqual(getattr(self.client, method)(url, data).status_code, 403)
        self.assertEqual(Submission.objects.filter(state="pending").count(), 4)
        self.assertEqual(Incident.objects.get(slug="camera-flags-minority").revisions.count(), 2)
        self.assertFalse(Incident.objects.filter(merged_into__isnull=False).exists())
        self.assert_taxonomy_untouched()

    def test_editors_are_let_in(self):
        self.client.force_login(self.editor)
        for method, url, data, expected in self.urls():
            with self.subTest(method=method, url=url):
                response = getattr(self.client, method)(url, data)
                self.assertEqual(response.status_code, expected)
                if url == "/moderation/stats/":
                    self.assertEqual(response.context["figures"]["by_editor"], [("edith", 1, 0)])
        self.assertEqual(Incident.objects.get(slug="camera-twin").merged_into, self.incident)
        # The taxonomy desk's actions did what they say, each written to the log.
        china = Term.objects.get(name="PR China")
        self.assertEqual(Term.objects.get(name="PRC").merged_into, china)
        self.assertEqual(china.parent.name, "Asia")
        lens_corp = Entity.objects.get(name="Lens Corp")
        self.assertEqual(Entity.objects.get(name="Lens Inc").merged_into, lens_corp)
        twin = Incident.objects.get(slug="taxonomy-twin")
        self.assertEqual(twin.current_revision.document["terms"]["country"], ["PR China", "Asia", "Oceania"])
        self.assertEqual(twin.current_revision.document["entities"]["deployer"], ["Acme Retail", "Lens Corp"])
        self.assertEqual(twin.current_revision.document["entities"]["developer"], ["Lens Corp"])
        self.assertIsNone(Term.objects.get(name="Oceania").parent)  # the undo
        self.assertEqual(CurationEvent.objects.count(), 8)
        self.spam.refresh_from_db()
        self.vague.refresh_from_db()
        self.assertEqual((self.vague.state, self.vague.decision_note), ("needs_changes", "Which city?"))
        self.assertEqual(
            (self.spam.state, self.spam.reason, self.spam.decided_by), ("rejected", "spam", self.editor)
        )

    def test_moderation_actions_refuse_get(self):
        self.client.force_login(self.editor)
        submission = self.propose(headline="Changed")
        for action in (
            "claim",
            "release",
            "approve",
            "resolve",
            "merge",
            "merge-incidents",
            "reject",
            "note",
            "fill-metadata",
            "ask-changes",
        ):
            with self.subTest(action=action):
                self.assertEqual(self.client.get(f"/moderation/{submission.pk}/{action}/").status_code, 405)
        term, entity = Term.objects.get(name="China"), Entity.objects.get(name="Acme Retail")
        for url in (
            *[f"/moderation/taxonomy/terms/{term.pk}/{action}/" for action in ("rename", "merge", "move")],
            *[
                f"/moderation/taxonomy/entities/{entity.pk}/{action}/"
                for action in ("rename", "merge", "split")
            ],
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 405)
        self.assertEqual(self.client.get("/moderation/bulk/").status_code, 405)

    def test_public_pages_are_open_to_everyone(self):
        submission = self.propose(headline="Changed")
        for url in (
            "/incidents/camera-flags-minority/improve/",
            "/submit/",
            submission.get_status_url(),
            "/incidents/camera-flags-minority/history/",
            "/transparency/",
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 200)


class MetricsPermissionTests(SubmissionsTestCase):
    """/metrics: only the scraper holding METRICS_TOKEN, whoever else asks (editors too)."""

    def test_metrics_are_hidden_without_a_token_configured(self):
        for who in (None, self.outsider, self.editor):
            with self.subTest(who=who), self.settings(METRICS_TOKEN=""):
                if who:
                    self.client.force_login(who)
                self.assertEqual(self.client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code, 404)

    def test_metrics_need_the_token(self):
        with self.settings(METRICS_TOKEN="s3cret-scraper-token"):
            for who in (None, self.outsider, self.editor):
                with self.subTest(who=who):
                    if who:
                        self.client.force_login(who)
                    self.assertEqual(self.client.get("/metrics").status_code, 403)
                    self.assertEqual(
                        self.client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code, 403
                    )
            self.client.logout()
            response = self.client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scraper-token")
            self.assertEqual(response.status_code, 200)
            self.assertIn("no-store", response["Cache-Control"])


class HostileInputTests(SubmissionsTestCase):
    """Whatever a contributor types is shown as text on every page that shows it."""

    def test_hostile_input_is_escaped_everywhere(self):
        document = self.incident.current_revision.document
        proposed = {
            **document,
            "headline": f"{HOSTILE} headline",
            "summary": HOSTILE,
            "narrative": f"{HOSTILE}\n\n<img src=x onerror=alert(1)> [link](javascript:alert(1))",
            "terms": {**document["terms"], "country": [f"{HOSTILE}land"]},
            "entities": {**document["entities"], "deployer": [f"{HOSTILE} Corp"]},
            "references": {
                **document["references"],
                "news": [
                    {"url": "https://evil.example.org/x", "title": HOSTILE, "publisher": "", "published": ""}
                ],
            },
        }
        submission = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=self.incident,
            proposed=proposed,
            insight=HOSTILE,
            name=HOSTILE,
            email="evil@example.org",
            credit=True,
        )
        report = self.report_new(headline=f"{HOSTILE} report")
        self.client.force_login(self.editor)
        pages = ["/moderation/", f"/moderation/{submission.pk}/", f"/moderation/{report.pk}/"]
        for url in pages:
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                self.assertNotIn("<script>alert", html)
                self.assertIn("&lt;script&gt;", html)
        services.submission_approve(submission=submission, editor=self.editor)
        self.client.logout()
        cache.clear()
        for url in (
            "/incidents/camera-flags-minority/",
            "/incidents/camera-flags-minority/history/",
            "/incidents/",
            "/",
            submission.get_status_url(),
        ):
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                self.assertNotIn("<script>alert", html)
                self.assertNotIn("<img src=x", html)
                self.assertNotIn('href="javascript:', html)
                self.assertNotIn("evil@example.org", html)
