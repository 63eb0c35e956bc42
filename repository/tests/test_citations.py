"""Citations of the seed incident (data/pages), each format to the character."""

import datetime
import json
from pathlib import Path

from django.conf import settings
from django.test import TestCase, override_settings

from repository import citations
from repository.importers.pages import page_import, read_pages
from repository.models import Incident, Revision
from repository.services import incident_publish

SEED = Path(settings.BASE_DIR) / "data" / "pages" / "dahua-real-time-uyghur-warnings.txt"
PUBLISHED = datetime.datetime(2021, 3, 9, 10, 30, tzinfo=datetime.UTC)
EDITED = datetime.datetime(2024, 11, 2, 23, 45, tzinfo=datetime.UTC)
URL = "https://incidents.example.org/incidents/dahua-real-time-uyghur-warnings/v/1/"
TITLE = "Dahua 'Smart Police Heart Of City' real-time Uyghur warnings"


@override_settings(SITE_URL="https://incidents.example.org", SITE_NAME="AI Incident Repository")
class SeedCitationTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        [(_slug, result)] = page_import(pages=read_pages([SEED]))
        Incident.objects.filter(pk=result.incident.pk).update(number=563, created_at=PUBLISHED)
        Revision.objects.filter(pk=result.revision.pk).update(created_at=PUBLISHED)
        cls.incident = Incident.objects.get(pk=result.incident.pk)
        cls.revision = Revision.objects.get(pk=result.revision.pk)

    def citation(self):
        return citations.citation_for(incident=self.incident, revision=self.revision)

    def test_text(self):
        self.assertEqual(
            citations.as_text(self.citation()),
            f"AI Incident Repository. (2021, March 9). {TITLE} (Incident 563, version 1). {URL}",
        )

    def test_bibtex(self):
        self.assertEqual(
            citations.as_bibtex(self.citation()),
            "@misc{incident563v1,\n"
            "  author = {{AI Incident Repository}},\n"
            f"  title = {{{{{TITLE}}}}},\n"
            "  howpublished = {AI Incident Repository, incident 563, version 1},\n"
            "  year = {2021},\n"
            "  month = mar,\n"
            "  date = {2021-03-09},\n"
            f"  url = {{{URL}}},\n"
            "}\n",
        )

    def test_ris(self):
        self.assertEqual(
            citations.as_ris(self.citation()),
            "TY  - ELEC\r\n"
            f"TI  - {TITLE}\r\n"
            "AU  - AI Incident Repository\r\n"
            "PB  - AI Incident Repository\r\n"
            "PY  - 2021\r\n"
            "DA  - 2021/03/09/\r\n"
            "ET  - 1\r\n"
            f"UR  - {URL}\r\n"
            "ID  - incident563v1\r\n"
            "N1  - Incident 563, version 1\r\n"
            "ER  - \r\n",
        )

    def test_csl_json(self):
        text = citations.as_csl_json(self.citation())
        self.assertEqual(
            json.loads(text),
            [
                {
                    "id": "incident563v1",
                    "type": "webpage",
                    "title": TITLE,
                    "author": [{"literal": "AI Incident Repository"}],
                    "container-title": "AI Incident Repository",
                    "publisher": "AI Incident Repository",
                    "number": "563",
                    "version": "1",
                    "issued": {"date-parts": [[2021, 3, 9]]},
                    "URL": URL,
                }
            ],
        )
        self.assertTrue(text.startswith('[\n  {\n    "id": "incident563v1",\n'))

    def test_a_later_version_is_cited_at_its_own_address_and_date_with_external_ids(self):
        document = {
            **self.revision.document,
            "external_ids": [{"scheme": "aiaaic", "value": "AIAAIC0563"}, {"scheme": "aiid", "value": "12"}],
        }
        revision = incident_publish(document=document, incident=self.incident).revision
        Revision.objects.filter(pk=revision.pk).update(created_at=EDITED)
        revision.refresh_from_db()
        citation = citations.citation_for(incident=self.incident, revision=revision)
        url = URL.replace("/v/1/", "/v/2/")
        self.assertEqual(
            citations.as_text(citation),
            f"AI Incident Repository. (2024, November 2). {TITLE} (Incident 563, version 2). {url}",
        )
        bibtex = citations.as_bibtex(citation)
        self.assertIn("@misc{incident563v2,\n", bibtex)
        self.assertIn("  month = nov,\n  date = {2024-11-02},\n", bibtex)
        self.assertIn("  note = {AIAAIC id AIAAIC0563; AI Incident Database id 12},\n", bibtex)
        self.assertIn(
            "N1  - Incident 563, version 2. AIAAIC id AIAAIC0563; AI Incident Database id 12\r\n",
            citations.as_ris(citation),
        )
        self.assertEqual(
            json.loads(citations.as_csl_json(citation))[0]["note"],
            "AIAAIC id AIAAIC0563; AI Incident Database id 12",
        )

    def test_the_date_is_the_day_in_the_sites_time_zone(self):
        with self.settings(TIME_ZONE="Asia/Tokyo"):
            Revision.objects.filter(pk=self.revision.pk).update(created_at=EDITED)  # 3 Nov in Tokyo
            self.revision.refresh_from_db()
            self.assertIn("(2024, November 3)", citations.as_text(self.citation()))


class BibtexEscapingTests(TestCase):
    def test_tex_specials_in_a_headline_are_escaped(self):
        self.assertEqual(
            citations.bibtex_escape("50% of {users} & $5_000 #1 ~ ^ \\ end"),
            r"50\% of \{users\} \& \$5\_000 \#1 \textasciitilde{} \textasciicircum{} \textbackslash{} end",
        )

    def test_line_breaks_cannot_start_a_new_ris_tag(self):
        self.assertEqual(citations._ris_value("Title\r\nER  - \nTY  - x"), "Title ER - TY - x")
