"""The usual people and a published incident, for the submissions tests."""

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import TestCase

from repository.models import Vocabulary
from repository.tests.base import publish
from submissions import services
from submissions.models import Submission

PASSWORD = "a-long-test-password-7"


def form_data(form):
    """What a browser would send for a form as it was rendered (initial values)."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False:
            continue
        if isinstance(value, list | tuple):
            value = "; ".join(value)
        data[name] = "on" if value is True else value
    return data


class SubmissionsTestCase(TestCase):
    """A contributor (anonymous), an outsider with an account, two editors and an incident."""

    @classmethod
    def setUpTestData(cls):
        users = get_user_model().objects
        cls.outsider = users.create_user("olive", "olive@example.org", PASSWORD)
        cls.editor, _ = services.editor_create(username="edith", email="edith@example.org", password=PASSWORD)
        cls.other_editor, _ = services.editor_create(
            username="ezra", email="ezra@example.org", password=PASSWORD
        )
        cls.incident = publish(
            "Camera system flags an ethnic minority to police",
            slug="camera-flags-minority",
            occurred="February 2021",
            summary="A camera maker's software alerted police.",
            narrative="What happened, in brief.",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
            terms={"country": ["China"], "technology": ["Facial recognition"], "issue": ["Privacy"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )

    def setUp(self):
        cache.clear()  # rate-limit counters

    def vocabularies(self):
        return list(Vocabulary.objects.all())

    def propose(self, **changes):
        """A pending improvement of the incident, changing the given fields."""
        document = {**self.incident.current_revision.document, **changes}
        return services.submission_create(
            kind=Submission.Kind.IMPROVEMENT,
            incident=self.incident,
            proposed=document,
            insight="I know more.",
            name="Rita",
            email="rita@example.org",
            credit=True,
        )

    def report_new(self, headline="Delivery robot blocks an ambulance", **changes):
        from repository.tests.base import make_document

        fields = {
            "occurred": "2024",
            "narrative": "The robot stopped in the road.",
            "entities": {"deployer": ["RoboDeliver"], "developer": ["RoboDeliver"]},
            "references": {"news": [{"url": "https://news.example.org/robot"}]},
            **changes,
        }
        document = make_document(headline, **fields)
        return services.submission_create(
            kind=Submission.Kind.NEW_INCIDENT, proposed=document, email="x@example.org"
        )
