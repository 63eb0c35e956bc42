"""The duplicate finder's evidence and score, its caps on look-alikes, the queue's order of
merge pairs, and its precision on the frozen half of the labelled set."""

import datetime
import json
from pathlib import Path

from repository.tests.base import publish
from submissions.duplicates import merge_proposals_create, pairs
from submissions.duplicates.measure import measure, wilson
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase

LABELS = Path(__file__).resolve().parent / "fixtures" / "duplicate_labels.json"


def rules(submission):
    return {reason["rule"] for reason in submission.reasons}


class EvidenceTests(SubmissionsTestCase):
    def test_a_cross_database_pair_shows_its_evidence_and_score(self):
        aiaaic = publish(
            "Uber self-driving car kills Arizona pedestrian",
            occurred="2018",
            entities={"deployer": ["OpenAI"]},
            external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0100"}],
            references={"news": [{"url": "https://news.example.org/uber-crash?utm_source=x"}]},
        )
        aiid = publish(
            "Uber AV Killed Pedestrian in Arizona",
            occurred="2018-03-18",
            entities={"deployer": ["Open AI"]},  # one organisation, through its alias
            external_ids=[{"scheme": "aiid", "value": "4"}, {"scheme": "aiaaic", "value": "aiaaic0100"}],
            references={"news": [{"url": "http://www.news.example.org/uber-crash/"}]},
        )
        result = pairs.duplicates_find()
        self.assertEqual(result.proposed, 1)
        submission = Submission.objects.get(kind=Submission.Kind.MERGE)
        self.assertEqual((submission.incident, submission.other_incident), (aiaaic, aiid))
        self.assertEqual(rules(submission), {"headline", "period", "organisation", "source", "external_id"})
        texts = [reason["text"] for reason in submission.reasons]
        self.assertIn("Both cite the same source: news.example.org/uber-crash (+0.30)", texts)
        self.assertIn("Both name OpenAI as deployer or developer (+0.12)", texts)
        self.assertIn("Their periods overlap (2018 and 2018) (+0.08)", texts)
        self.assertIn("Both carry the same aiaaic id: aiaaic0100 (+0.30)", texts)
        self.assertTrue(texts[0].startswith("Headlines "), texts[0])
        self.assertEqual(submission.score, 1.0)

    def test_headlines_alike_alone_score_below_what_evidence_adds(self):
        a = publish("Chatbot invents a court case for a New York lawyer", occurred="2023")
        b = publish("Lawyer fined after a chatbot invented a court case in New York", occurred="2023")
        far = publish("Chatbot invents a court case for a New York lawyer", occurred="2016", type="issue")
        finder = pairs.Finder(pairs.Corpus.load())
        close, close_reasons, _strong = finder.score(a.pk, b.pk)
        apart, apart_reasons, _strong = finder.score(a.pk, far.pk)
        self.assertIn("period", {reason["rule"] for reason in close_reasons})
        self.assertIn("apart", {reason["rule"] for reason in apart_reasons})
        self.assertGreater(close, pairs.PROPOSE)
        self.assertLess(apart, pairs.PROPOSE)

    def test_a_whole_system_is_not_one_incident_of_it(self):
        system = publish("Voice clone scams a bank manager", type="system")
        incident = publish("Voice clone scams a bank manager", type="incident", occurred="2020")
        finder = pairs.Finder(pairs.Corpus.load())
        self.assertEqual(finder.score(system.pk, incident.pk), (0.0, [], False))

    def test_other_code_may_propose_a_pair_with_reasons_as_text(self):
        other = publish("Camera flags minority shoppers", occurred="2021")
        [submission] = merge_proposals_create(
            [(other.pk, self.incident.pk, [{"text": "Same AIID report URL as AIAAIC0001"}], None)]
        )
        self.assertEqual((submission.incident, submission.other_incident), (self.incident, other))
        self.client.force_login(self.editor)
        response = self.client.get(f"/moderation/{submission.pk}/")
        self.assertContains(response, "<li>Same AIID report URL as AIAAIC0001</li>", html=True)
        self.assertNotContains(response, "Score:")


class CapTests(SubmissionsTestCase):
    """Sixty variants of each of three stories: groups, not thousands of pairs."""

    STORIES = [
        ("Delivery robot blocks an ambulance in Los Angeles", "2022", "Serve Robotics"),
        ("Hiring algorithm rejects older applicants automatically", "2021", "iTutorGroup"),
        ("Deepfake robocall imitates president before primary", "2024", "Lingo Telecom"),
    ]

    def corpus(self, variants=60):
        corpus = pairs.Corpus()
        pk = 0
        for headline, year, organisation in self.STORIES:
            year = int(year)
            for n in range(1, variants + 1):
                pk += 1
                corpus.add(
                    pk,
                    number=pk,
                    kind="incident",
                    headline=f"{headline} (variant {n})",
                    period=(datetime.date(year, 1, 1), datetime.date(year, 12, 31)),
                    organisations={organisation},
                )
                corpus.add_url(pk, f"https://news.example.org/{year}/story")
        return corpus

    def test_sixty_variants_of_a_story_give_at_most_three_proposals_per_incident(self):
        finder = pairs.Finder(self.corpus())
        self.assertEqual(len(finder.members), 3)  # one group per story
        findings, result = finder.find()
        chosen = pairs.select(findings, set(), {}, result, finder.group)
        per_incident = {}
        for finding in chosen:
            for pk in (finding.first, finding.second):
                per_incident[pk] = per_incident.get(pk, 0) + 1
        self.assertLessEqual(max(per_incident.values()), pairs.PER_INCIDENT)
        self.assertEqual(len(chosen), 3 * pairs.PER_INCIDENT)  # each group's oldest, three at a time
        self.assertEqual(
            {finder.group[finding.first] for finding in chosen}, {1, 61, 121}
        )  # within groups only: the stories are not one another's
        # Groups are scored against groups sharing a rare word, an organisation or a source:
        # none here, and never the 16,110 pairs of 180 incidents.
        self.assertEqual(result.pairs_examined, 0)

    def test_the_finder_keeps_the_caps_with_what_is_pending_already(self):
        story = "Delivery robot blocks an ambulance in Los Angeles"
        oldest = publish(f"{story} (variant 1)", occurred="2022")
        variants = [publish(f"{story} (variant {n})", occurred="2022") for n in range(2, 9)]
        first = pairs.duplicates_find()
        self.assertEqual(first.proposed, pairs.PER_INCIDENT)
        self.assertEqual(first.capped, len(variants) - pairs.PER_INCIDENT)
        again = pairs.duplicates_find(incident_ids=[variants[-1].pk])
        self.assertEqual(again.proposed, 0)  # the oldest has three pending already
        Submission.objects.filter(kind=Submission.Kind.MERGE).update(
            state=Submission.State.REJECTED,
            reason=Submission.Reason.NOT_DUPLICATE,
            decided_at="2026-01-01T00:00Z",
        )
        after = pairs.duplicates_find()
        self.assertEqual((after.proposed, after.known), (pairs.PER_INCIDENT, pairs.PER_INCIDENT))
        for submission in Submission.objects.filter(kind=Submission.Kind.MERGE):
            self.assertEqual(submission.incident, oldest)
            self.assertIn("lookalike", rules(submission))


class QueueOrderTests(SubmissionsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        others = [publish(f"Incident number {n}") for n in range(4)]
        cls.pairs = [
            Submission.objects.create(
                kind=Submission.Kind.MERGE,
                incident=cls.incident,
                other_incident=other,
                proposed={},
                score=score,
                reasons=[{"text": "Why"}],
                effect="merge pair",
                effect_kind=Submission.Effect.MERGE,
            )
            for other, score in zip(others, [0.7, None, 0.95, 0.8], strict=True)
        ]

    def test_the_queue_lists_merge_pairs_strongest_first(self):
        self.client.force_login(self.editor)
        # session; user; user permissions; group permissions; counts by state; page count; page;
        # the header count
        with self.assertNumQueries(8):
            response = self.client.get("/moderation/?kind=merge")
        listed = [submission.score for submission in response.context["page"].object_list]
        self.assertEqual(listed, [0.95, 0.8, 0.7, None])
        self.assertContains(response, '<span class="score">score 0.95</span>', html=True)
        response = self.client.get("/moderation/?does=merge")
        self.assertEqual([s.score for s in response.context["page"].object_list], [0.95, 0.8, 0.7, None])

    def test_the_whole_queue_stays_oldest_first(self):
        self.client.force_login(self.editor)
        response = self.client.get("/moderation/")
        self.assertEqual(list(response.context["page"].object_list), self.pairs)


class LabelledSetTests(SubmissionsTestCase):
    """The frozen test half of scripts/make_duplicate_labels.py's set."""

    def test_precision_and_the_top_three_rate_reach_their_goals(self):
        labelled = json.loads(LABELS.read_text(encoding="utf-8"))
        self.assertGreaterEqual(len(labelled["pairs"]), 200)
        result = measure(labelled)
        self.assertGreaterEqual(result.precision, 0.85, result.lines())
        self.assertGreaterEqual(result.top3_rate, 0.95, result.lines())
        self.assertGreaterEqual(result.known, 100)

    def test_wilson_intervals(self):
        low, high = wilson(85, 100)
        self.assertAlmostEqual(low, 0.767, places=3)
        self.assertAlmostEqual(high, 0.907, places=3)
