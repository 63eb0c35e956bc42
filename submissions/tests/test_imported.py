"""What an import leaves for editors: a newer export's change to a value an editor changed
becomes a pending improvement proposal; a row whose id names another story, a merge proposal."""

from django.test import TestCase

from repository.importers.sheet import sheet_import
from repository.models import Incident
from repository.services import incident_publish
from repository.tests.base import terms
from repository.tests.test_statements import export, line
from submissions.models import ModerationEvent, Submission


class ImportedProposalTests(TestCase):
    def test_a_newer_exports_change_to_an_editors_value_is_a_pending_improvement(self):
        old = export(
            "AIAAIC, updated 2025-10-01",
            [line(2, "Delivery robot blocks ambulance", "robot", Sector="Health")],
        )
        sheet_import(data=old)
        robot = Incident.objects.get()
        edited = {**robot.current_revision.document}
        edited["terms"] = {**edited["terms"], "sector": ["Emergency services"]}
        incident_publish(document=edited, incident=robot, summary="Corrected by an editor")
        new = export(
            "AIAAIC, updated 2026-05-01",
            [line(2, "Delivery robot blocks ambulance", "robot", Sector="Logistics")],
        )
        with self.captureOnCommitCallbacks(execute=True):
            sheet_import(data=new)
        proposal = Submission.objects.get()
        robot.refresh_from_db()
        self.assertEqual(
            (proposal.kind, proposal.state, proposal.incident, proposal.base_revision),
            (Submission.Kind.IMPROVEMENT, Submission.State.PENDING, robot, robot.current_revision),
        )
        self.assertEqual(proposal.proposed["terms"]["sector"], ["Logistics"])
        self.assertEqual(terms(robot, "sector"), ["Emergency services"])  # kept until an editor decides
        self.assertIn("AIAAIC export of 2026-05-01", proposal.insight)
        self.assertEqual((proposal.name, proposal.email), ("", ""))
        self.assertTrue(ModerationEvent.objects.filter(submission=proposal, action="submit").exists())
        # The same export again proposes nothing more.
        with self.captureOnCommitCallbacks(execute=True):
            sheet_import(data=new)
        self.assertEqual(Submission.objects.count(), 1)

    def test_a_reused_id_becomes_a_new_incident_and_a_merge_proposal_with_the_evidence(self):
        sheet_import(
            data=export("AIAAIC, 2025-06-15", [line(7, "Smart speaker records conversations", "speaker")])
        )
        with self.captureOnCommitCallbacks(execute=True):
            sheet_import(
                data=export(
                    "AIAAIC, 2026-02-01", [line(7, "Tenant screening AI rejects applicants", "tenants")]
                )
            )
        speaker, tenants = Incident.objects.order_by("number")
        proposal = Submission.objects.get()
        self.assertEqual(
            (proposal.kind, proposal.incident, proposal.other_incident),
            (Submission.Kind.MERGE, speaker, tenants),
        )
        self.assertIn("AIAAIC0007", proposal.reasons[0]["text"])
        self.assertIn("Tenant screening AI rejects applicants", proposal.reasons[0]["text"])
        with self.captureOnCommitCallbacks(execute=True):
            sheet_import(
                data=export(
                    "AIAAIC, 2026-03-01", [line(7, "Tenant screening AI rejects applicants", "tenants")]
                )
            )
        self.assertEqual(Submission.objects.count(), 1)  # the pair is proposed once


class CrossSourceTests(TestCase):
    def test_an_aiid_change_to_what_the_aiaaic_sheet_gives_a_merged_incident_is_a_proposal(self):
        import shutil
        import tempfile
        from pathlib import Path

        from django.contrib.auth import get_user_model

        from repository.importers.aiid import aiid_import
        from repository.services import incident_merge
        from repository.tests.test_aiid_import import FIXTURES, SNAPSHOT

        aiid_import(path_or_dir=SNAPSHOT)
        shuttle = Incident.objects.get(external_ids__scheme="aiid", external_ids__value="1")
        sheet_import(
            data=export(
                "AIAAIC, 2025-06-15",
                [line(950, "Autonomous shuttle strikes pedestrian", "shuttle", Country="USA")],
            )
        )
        aiaaic = Incident.objects.get(external_ids__value="AIAAIC0950")
        editor = get_user_model().objects.create_user("editor")
        incident_merge(survivor=aiaaic, merged=shuttle, editor=editor)
        later = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, later)
        for name in ("incidents.csv", "reports.csv"):
            text = (FIXTURES / "later" / name).read_text(encoding="utf-8")
            (later / name).write_text(
                text.replace(
                    "Self-driving shuttle hits pedestrian at crossing", "Driverless shuttle injures walker"
                ),
                encoding="utf-8",
            )
        with self.captureOnCommitCallbacks(execute=True):
            result = aiid_import(path_or_dir=later)
        self.assertEqual(result.proposals, 1)
        aiaaic.refresh_from_db()
        self.assertEqual(aiaaic.headline, "Autonomous shuttle strikes pedestrian")  # the sheet's stays
        # What the sheet does not give follows the snapshot.
        self.assertEqual(
            aiaaic.summary, "An autonomous shuttle struck a pedestrian; the operator paused the service."
        )
        proposal = Submission.objects.get(kind=Submission.Kind.IMPROVEMENT)
        self.assertEqual(proposal.incident, aiaaic)
        self.assertEqual(proposal.proposed["headline"], "Driverless shuttle injures walker")
        self.assertIn("AI Incident Database", proposal.insight)

    def test_a_sheet_value_where_the_aiid_gives_one_on_a_merged_incident_is_a_proposal(self):
        from django.contrib.auth import get_user_model

        from repository.importers.aiid import aiid_import
        from repository.services import incident_merge
        from repository.tests.test_aiid_import import SNAPSHOT
        from repository.tests.test_sheet_exports import LINK, sheet

        aiid_import(path_or_dir=SNAPSHOT)
        shuttle = Incident.objects.get(external_ids__scheme="aiid", external_ids__value="1")
        aiid_summary = shuttle.summary
        columns = ["AIAAIC ID#", "Headline", "Summary", "Description/links"]

        def export_of(title, summary):
            return sheet(
                [
                    {
                        "AIAAIC ID#": "AIAAIC0950",
                        "Headline": "Autonomous shuttle strikes pedestrian",
                        "Summary": summary,
                        "Description/links": LINK + "shuttle",
                    }
                ],
                columns=columns,
                title=title,
            )

        sheet_import(data=export_of("AIAAIC, 2025-06-15", ""))
        aiaaic = Incident.objects.get(external_ids__value="AIAAIC0950")
        incident_merge(survivor=aiaaic, merged=shuttle, editor=get_user_model().objects.create_user("editor"))
        aiaaic.refresh_from_db()
        self.assertEqual(aiaaic.summary, aiid_summary)
        with self.captureOnCommitCallbacks(execute=True):
            result = sheet_import(data=export_of("AIAAIC, 2026-02-01", "A shuttle hit a woman crossing."))
        self.assertEqual(result.proposals, 1)
        aiaaic.refresh_from_db()
        self.assertEqual(aiaaic.summary, aiid_summary)  # the AIID's stays until an editor decides
        proposal = Submission.objects.get(kind=Submission.Kind.IMPROVEMENT)
        self.assertEqual(proposal.proposed["summary"], "A shuttle hit a woman crossing.")
