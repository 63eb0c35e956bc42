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
IDS = "AIAAIC id AIAAIC0563; AI Incident Database id 12"
# The seed came from an AIAAIC page: its provenance credits AIAAIC.
AIAAIC_CREDIT = (
    "From the AIAAIC Repository (https://www.aiaaic.org/aiaaic-repository), CC BY-SA 4.0 "
    "(https://creativecommons.org/licenses/by-sa/4.0/)."
)
CREDITS = (
    "From the AIAAIC Repository (https://www.aiaaic.org/aiaaic-repository), CC BY-SA 4.0 "
    "(https://creativecommons.org/licenses/by-sa/4.0/); the AI Incident Database "
    "(https://incidentdatabase.ai/), terms of use https://incidentdatabase.ai/terms-of-use/."
)


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
            f"AI Incident Repository & AIAAIC. (2021, March 9). {TITLE} (Incident 563, version 1). "
            f"{AIAAIC_CREDIT} {URL}",
        )

    def test_bibtex(self):
        self.assertEqual(
            citations.as_bibtex(self.citation()),
            "@misc{incident563v1,\n"
            "  author = {{AI Incident Repository} and {AIAAIC}},\n"
            f"  title = {{{{{TITLE}}}}},\n"
            "  howpublished = {AI Incident Repository, incident 563, version 1},\n"
            "  year = {2021},\n"
            "  month = mar,\n"
            "  date = {2021-03-09},\n"
            f"  url = {{{URL}}},\n"
            f"  note = {{{AIAAIC_CREDIT}}},\n"
            "}\n",
        )

    def test_ris(self):
        self.assertEqual(
            citations.as_ris(self.citation()),
            "TY  - ELEC\r\n"
            f"TI  - {TITLE}\r\n"
            "AU  - AI Incident Repository\r\n"
            "AU  - AIAAIC\r\n"
            "PB  - AI Incident Repository\r\n"
            "PY  - 2021\r\n"
            "DA  - 2021/03/09/\r\n"
            "ET  - 1\r\n"
            f"UR  - {URL}\r\n"
            "ID  - incident563v1\r\n"
            f"N1  - Incident 563, version 1. {AIAAIC_CREDIT}\r\n"
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
                    "author": [{"literal": "AI Incident Repository"}, {"literal": "AIAAIC"}],
                    "container-title": "AI Incident Repository",
                    "publisher": "AI Incident Repository",
                    "number": "563",
                    "version": "1",
                    "issued": {"date-parts": [[2021, 3, 9]]},
                    "URL": URL,
                    "note": AIAAIC_CREDIT,
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
            "AI Incident Repository, AIAAIC & AI Incident Database. (2024, November 2). "
            f"{TITLE} (Incident 563, version 2). {CREDITS} {url}",
        )
        bibtex = citations.as_bibtex(citation)
        self.assertIn("@misc{incident563v2,\n", bibtex)
        self.assertIn(
            "  author = {{AI Incident Repository} and {AIAAIC} and {AI Incident Database}},\n", bibtex
        )
        self.assertIn("  month = nov,\n  date = {2024-11-02},\n", bibtex)
        self.assertIn(f"  note = {{{IDS}. {CREDITS}}},\n", bibtex)
        ris = citations.as_ris(citation)
        self.assertIn("AU  - AI Incident Repository\r\nAU  - AIAAIC\r\nAU  - AI Incident Database\r\n", ris)
        self.assertIn(f"N1  - Incident 563, version 2. {IDS}. {CREDITS}\r\n", ris)
        [item] = json.loads(citations.as_csl_json(citation))
        self.assertEqual(
            item["author"],
            [
                {"literal": "AI Incident Repository"},
                {"literal": "AIAAIC"},
                {"literal": "AI Incident Database"},
            ],
        )
        self.assertEqual(item["note"], f"{IDS}. {CREDITS}")

    def test_the_date_is_the_day_in_the_sites_time_zone(self):
        with self.settings(TIME_ZONE="Asia/Tokyo"):
            Revision.objects.filter(pk=self.revision.pk).update(created_at=EDITED)  # 3 Nov in Tokyo
            self.revision.refresh_from_db()
            self.assertIn("(2024, November 3)", citations.as_text(self.citation()))


class CreditTests(TestCase):
    """An incident from another database credits it in every format, with its licence."""

    def citation(self, *schemes):
        ids = {"aiaaic": "AIAAIC0001", "aiid": "7", "oecd": "x-1"}
        return citations.Citation(
            title="A title",
            slug="a-title",
            number=5,
            version=1,
            date=PUBLISHED,
            first_published=PUBLISHED,
            site="AI Incident Repository",
            site_url="https://incidents.example.org",
            external_ids=[(scheme, ids[scheme]) for scheme in schemes],
            sources=[citations.SOURCES[scheme] for scheme in schemes if scheme in citations.SOURCES],
        )

    def test_an_incident_from_no_other_database_has_the_site_as_its_one_author(self):
        citation = self.citation("oecd")
        self.assertEqual(citation.authors, ["AI Incident Repository"])
        self.assertTrue(citations.as_text(citation).startswith("AI Incident Repository. (2021"))
        self.assertNotIn("From the", citations.as_text(citation))
        self.assertEqual(dict(citations.meta_tags(citation, {})).get("DC.source"), None)
        self.assertNotIn("creditText", citations.json_ld(citation, {}))

    def test_text_names_aiaaic_and_its_licence(self):
        text = citations.as_text(self.citation("aiaaic"))
        self.assertEqual(
            text,
            "AI Incident Repository & AIAAIC. (2021, March 9). A title (Incident 5, version 1). "
            "From the AIAAIC Repository (https://www.aiaaic.org/aiaaic-repository), CC BY-SA 4.0 "
            "(https://creativecommons.org/licenses/by-sa/4.0/). "
            "https://incidents.example.org/incidents/a-title/v/1/",
        )

    def test_bibtex_ris_and_csl_name_both_authors(self):
        citation = self.citation("aiaaic")
        self.assertIn("  author = {{AI Incident Repository} and {AIAAIC}},\n", citations.as_bibtex(citation))
        self.assertIn("CC BY-SA 4.0", citations.as_bibtex(citation))
        ris = citations.as_ris(citation)
        self.assertEqual(
            [line for line in ris.split("\r\n") if line.startswith("AU")],
            ["AU  - AI Incident Repository", "AU  - AIAAIC"],
        )
        self.assertIn("CC BY-SA 4.0", ris)
        item = citations.csl_item(citation)
        self.assertEqual(item["author"], [{"literal": "AI Incident Repository"}, {"literal": "AIAAIC"}])
        self.assertIn("CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)", item["note"])

    def test_meta_tags_name_each_author_and_the_source(self):
        tags = citations.meta_tags(self.citation("aiid", "aiaaic"), {})
        self.assertEqual(
            [content for name, content in tags if name == "citation_author"],
            ["AI Incident Repository", "AI Incident Database", "AIAAIC"],
        )
        sources = [content for name, content in tags if name == "DC.source"]
        self.assertEqual(len(sources), 2)
        self.assertIn("terms of use https://incidentdatabase.ai/terms-of-use/", sources[0])
        self.assertIn("CC BY-SA 4.0", sources[1])

    def test_json_ld_has_both_authors_and_a_credit(self):
        data = citations.json_ld(self.citation("aiaaic"), {"source_url": "https://example.org/page"})
        self.assertEqual(
            [(author["name"], author["url"]) for author in data["author"]],
            [
                ("AI Incident Repository", "https://incidents.example.org/"),
                ("AIAAIC", "https://www.aiaaic.org/aiaaic-repository"),
            ],
        )
        self.assertEqual(data["publisher"]["name"], "AI Incident Repository")
        self.assertIn("AIAAIC Repository", data["creditText"])
        self.assertIn("CC BY-SA 4.0", data["creditText"])
        self.assertEqual(
            data["isBasedOn"], ["https://www.aiaaic.org/aiaaic-repository", "https://example.org/page"]
        )

    def test_a_database_is_credited_once_however_many_of_its_ids(self):
        document = {"external_ids": [{"scheme": "aiid", "value": "1"}, {"scheme": "aiid", "value": "2"}]}
        incident = Incident(slug="x", number=1, headline="X", created_at=PUBLISHED)
        revision = Revision(number=1, document=document, created_at=PUBLISHED)
        citation = citations.citation_for(incident=incident, revision=revision)
        self.assertEqual(citation.authors, [settings.SITE_NAME, "AI Incident Database"])


class BibtexEscapingTests(TestCase):
    def test_tex_specials_in_a_headline_are_escaped(self):
        self.assertEqual(
            citations.bibtex_escape("50% of {users} & $5_000 #1 ~ ^ \\ end"),
            r"50\% of \{users\} \& \$5\_000 \#1 \textasciitilde{} \textasciicircum{} \textbackslash{} end",
        )

    def test_line_breaks_cannot_start_a_new_ris_tag(self):
        self.assertEqual(citations._ris_value("Title\r\nER  - \nTY  - x"), "Title ER - TY - x")
