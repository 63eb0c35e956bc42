"""Property-based fuzzing (Hypothesis) of every public form, every browse parameter and the
editors' actions: whatever is sent, no 5xx, no NUL stored, nothing reflected unescaped.

FUZZ_EXAMPLES sets the examples per target: 100 by default (6 targets, so 600 examples and
about 1,500 requests per run of the suite), more for a deeper run (FUZZ_EXAMPLES=500).
"""

import json
import os
from urllib.parse import quote, urlencode

from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from repository.models import Incident
from repository.services import incident_publish
from repository.tests.base import make_document
from submissions import services
from submissions.forms import ImproveForm, NewIncidentForm
from submissions.models import ModerationEvent, Submission
from submissions.tests.base import SubmissionsTestCase, form_data

MARKER = "<fz-x1>"  # a made-up tag: if it ever appears as is in a page, input was not escaped
PAYLOADS = [
    MARKER,
    f'"{MARKER}',
    f"'><script>alert(1)</script>{MARKER}",
    "a\x00b",
    "²",
    "٣",
    "１２",
    "9" * 30,
    "-1",
    "0",
    "2024",
    "1e9",
    "../../etc/passwd",
    "%00",
    "%",
    "' OR 1=1 --",
    "javascript:alert(1)",
    "https://example.org/" + "x" * 3000,
    "x" * 5000,
    "\u202e\u200b\ufeff",
    "😀" * 50,
    "<style>",
    "<!--",
    "Country: New term",
    "new",
    "send",
    "approve",
    "withdraw",
    " ",
    "",
]

# Any text, but NUL only from PAYLOADS: Hypothesis favours it, and every form with one is
# refused whole (a 400), which would leave little else tried.
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
values = st.one_of(
    st.sampled_from(PAYLOADS),
    text,
    st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), text),
)
value_lists = st.lists(values, min_size=1, max_size=3)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
fuzz = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def fields(names):
    """A form's worth of fields: some of `names`, each one or more values, and now and then an
    odd extra one (the honeypot filled in, a NUL in a name, a stray CSRF token)."""
    names = [name for name in names if name != "leave_empty"]
    extra = st.sampled_from(
        [{}] * 7 + [{"leave_empty": ["http://spam"]}, {"x\x00": ["1"]}, {"csrfmiddlewaretoken": ["x"]}]
    )
    return st.builds(
        lambda chosen, odd: {**chosen, **odd},
        st.dictionaries(st.sampled_from(names), value_lists, max_size=len(names)),
        extra,
    )


@override_settings(SUBMISSION_RATE_LIMIT=10**9)
class FuzzTestCase(HypothesisTestCase, SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.improvement = services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=cls.incident,
            proposed={**cls.incident.current_revision.document, "headline": "Changed headline"},
            insight="An insight.",
        )
        # The incident changes after the proposal: its review shows the three-way merge.
        incident_publish(
            document={**cls.incident.current_revision.document, "summary": "Edited meanwhile."},
            incident=cls.incident,
            expected_revision=cls.incident.current_revision_id,
        )
        cls.report = services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT,
            proposed=make_document(
                "Delivery robot blocks an ambulance",
                occurred="2024",
                references={"news": [{"url": "https://news.example.org/robot"}]},
            ),
        )

    def send(self, client, method, url, data=None, **extra):
        # Each request in a savepoint, as each is its own transaction in production: a service
        # that refuses inside transaction.atomic(savepoint=False) (a stale revert) rolls back
        # its request there, not the test's whole transaction.
        with transaction.atomic():
            response = getattr(client, method)(url, data or {}, **extra)
        self.assertLess(response.status_code, 500, f"{method.upper()} {url} {data!r}")
        if response.get("Content-Type", "").startswith("text/html") and not getattr(
            response, "streaming", False
        ):
            self.assertNotIn(MARKER, response.content.decode(errors="replace"), f"{url} {data!r}")
        return response

    def assert_nothing_stored_with_nul(self):
        for submission in Submission.objects.all():
            stored = json.dumps(submission.proposed, ensure_ascii=False)
            private = submission.insight + submission.name + submission.email + submission.decision_note
            self.assertNotIn("\x00", stored + private)
        for row in ModerationEvent.objects.all():
            self.assertNotIn("\x00", row.note + json.dumps(row.data, ensure_ascii=False))
        for incident in Incident.objects.all():
            self.assertNotIn("\x00", incident.headline + incident.narrative + incident.summary)

    def review_what_was_stored(self):
        """An editor opens each new submission: every field it proposes is shown there."""
        new = Submission.objects.exclude(pk__in=[self.improvement.pk, self.report.pk])
        if new.exists():
            editor = Client(raise_request_exception=False)
            editor.force_login(self.editor)
            for submission in new:
                self.send(editor, "get", f"/moderation/{submission.pk}/")

    def follow(self, client, response):
        """Open the page a form sent the contributor or editor to, as they would."""
        event(f"answered {response.status_code}")  # shown by --hypothesis-show-statistics
        if response.status_code == 302 and response["Location"].startswith("/"):
            self.send(client, "get", response["Location"])


class PublicFormFuzzTests(FuzzTestCase):
    """Each example starts from a form a browser would send, valid, and changes some fields."""

    REPORT = {
        "headline": "Delivery robot blocks an ambulance",
        "occurred": "2024",
        "narrative": "The robot stopped in the road.",
        "deployer": "RoboDeliver",
        "sources": "https://news.example.org/robot",
        "terms_country": "China",
    }
    REPORT_FIELDS = [*REPORT, *NewIncidentForm.base_fields, "terms_sector", "step", "duplicate_of"]
    IMPROVE_FIELDS = [
        *ImproveForm.base_fields,
        *[f"{kind}_{row}" for kind in ("ref_url", "ref_title", "ref_category") for row in (1, 2, 3)],
        "remove_news_0",
        "terms_country",
        "terms_issue",
        "deployer",
        "developer",
        "system",
    ]

    def improve_form(self):
        form = ImproveForm(vocabularies=self.vocabularies(), document=self.incident.current_revision.document)
        return {**form_data(form), "insight": "An insight."}

    @fuzz
    @given(data=fields(REPORT_FIELDS))
    def test_report_an_incident(self, data):
        client = Client(raise_request_exception=False)
        self.follow(client, self.send(client, "post", "/submit/", {**self.REPORT, **data}))
        self.assert_nothing_stored_with_nul()
        self.review_what_was_stored()

    @fuzz
    @given(data=fields(IMPROVE_FIELDS))
    def test_improve_an_incident(self, data):
        client = Client(raise_request_exception=False)
        url = "/incidents/camera-flags-minority/improve/"
        self.follow(client, self.send(client, "post", url, {**self.improve_form(), **data}))
        self.assert_nothing_stored_with_nul()
        self.review_what_was_stored()

    @fuzz
    @given(
        body=st.binary(max_size=300),
        content_type=st.sampled_from(
            [
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded; charset=latin-1",
                "application/x-www-form-urlencoded; charset=utf-16",
                "application/x-www-form-urlencoded; charset=nonsense",
                "multipart/form-data",
                "multipart/form-data; boundary=x",
                "text/plain",
                "application/json",
            ]
        ),
        url=st.sampled_from(
            [
                "/submit/",
                "/incidents/camera-flags-minority/improve/",
                "/accounts/login/",
                "/accounts/password-reset/",
            ]
        ),
    )
    def test_raw_bodies(self, body, content_type, url):
        client = Client(raise_request_exception=False)
        with transaction.atomic():
            response = client.generic("POST", url, body, content_type=content_type)
        self.assertLess(response.status_code, 500, f"{url} {content_type} {body!r}")
        self.assert_nothing_stored_with_nul()

    @fuzz
    @given(token=values, action=values, sent=values)
    def test_status_page(self, token, action, sent):
        client = Client(raise_request_exception=False)
        for url in (f"/submissions/{quote(token, safe='')}/", self.improvement.get_status_url()):
            self.send(client, "get", f"{url}?{urlencode({'sent': sent})}")
            self.send(client, "post", url, {"action": action})
        self.assert_nothing_stored_with_nul()


class BrowseFuzzTests(FuzzTestCase):
    PARAMETERS = [
        "q", "type", "occurred_from", "occurred_to", "sort", "page", "more", "country", "sector",
        "technology", "issue", "deployer", "developer", "system", "role", "nonsense",
    ]  # fmt: skip

    @fuzz
    @given(
        query=st.dictionaries(st.sampled_from(PARAMETERS), value_lists, max_size=5),
        page=st.sampled_from(
            [
                "/",
                "/incidents/",
                "/incidents/camera-flags-minority/",
                "/incidents/camera-flags-minority/history/",
                "/incidents/camera-flags-minority/document.json",
                "/taxonomy/country/",
                "/taxonomy/country/china/",
                "/entities/acme-retail/",
                "/export/",
                "/readyz",
            ]
        ),
        segment=values,
    )
    def test_browse_parameters_and_paths(self, query, page, segment):
        client = Client(raise_request_exception=False)
        self.send(client, "get", f"{page}?{urlencode(query, doseq=True)}")
        for url in (
            f"/incidents/{quote(segment, safe='')}/",
            f"/taxonomy/{quote(segment, safe='')}/china/",
            f"/entities/{quote(segment, safe='')}/",
            f"/export/{quote(segment, safe='')}/download/",
            f"/export/{quote(segment, safe='')}.schema.json",
            f"/id/aiaaic/{quote(segment, safe='')}",
            f"/id/{quote(segment, safe='')}/1",
        ):
            self.send(client, "get", url)


class EditorActionFuzzTests(FuzzTestCase):
    ACTIONS = [
        "claim",
        "release",
        "approve",
        "resolve",
        "merge",
        "reject",
        "note",
        "edit",
        "fill-metadata",
        "revert",
    ]
    FIELDS = [
        "note", "edit_note", "expected_revision", "target", "reason", "choice_headline", "choice_summary",
        "headline", "occurred", "summary", "narrative", "type", "deployer", "ref_url_1", "ref_category_1",
    ]  # fmt: skip

    @fuzz
    @given(
        action=st.sampled_from(ACTIONS),
        which=st.sampled_from(["improvement", "report"]),
        data=fields(FIELDS),
        queue=st.dictionaries(
            st.sampled_from(["state", "kind", "incident", "claimed", "page"]), value_lists, max_size=4
        ),
    )
    def test_editor_actions(self, action, which, data, queue):
        client = Client(raise_request_exception=False)
        client.force_login(self.editor)
        submission = getattr(self, which)
        if action == "revert":
            url = "/moderation/incidents/camera-flags-minority/revert/1/"
        else:
            url = f"/moderation/{submission.pk}/{action}/"
        self.follow(client, self.send(client, "post", url, data))
        self.send(client, "get", f"/moderation/{submission.pk}/")
        self.send(client, "get", f"/moderation/?{urlencode(queue, doseq=True)}")
        self.assert_nothing_stored_with_nul()
