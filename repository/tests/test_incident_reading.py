"""What a reader gets beyond the incident itself: permanent versions, citations and the page's
metadata, related incidents, dates and counts, and invitations under empty sections."""

import json
from html.parser import HTMLParser
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import TestCase, override_settings

from repository.models import DatasetSnapshot, Incident, Revision
from repository.services import incident_publish
from repository.services.merging import incident_merge
from repository.tests.base import make_document, publish


class PageMarkup(HTMLParser):
    """The `<meta name>` tags and JSON-LD blocks of a page, as a browser would read them."""

    def __init__(self, html):
        super().__init__()
        self.meta, self.json_ld, self._in_json = {}, [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and "name" in attrs:
            self.meta.setdefault(attrs["name"], []).append(attrs["content"])
        self._in_json = tag == "script" and attrs.get("type") == "application/ld+json"
        if self._in_json:
            self.json_ld.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_json = False

    def handle_data(self, data):
        if self._in_json:
            self.json_ld[-1] += data


def reset_caches():
    cache.clear()  # related incidents are cached per incident under the freshness token


@override_settings(SITE_URL="https://incidents.example.org")
class VersionPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Camera system flags an ethnic minority",
            slug="camera-flags-minority",
            occurred="February 2021",
            narrative="The first account of what happened.",
            terms={"country": ["China"]},
            entities={"developer": ["Lens Corp"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )
        document = make_document(
            "Camera system flags Uyghurs to police",
            occurred="February 2021",
            narrative="A better account.",
            terms={"country": ["China"]},
            entities={"developer": ["Lens Corp"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )
        incident_publish(document=document, incident=cls.incident)

    def setUp(self):
        reset_caches()

    def test_an_old_version_keeps_its_text_and_says_a_newer_one_exists(self):
        response = self.client.get("/incidents/camera-flags-minority/v/1/")
        self.assertContains(response, "<h1>Camera system flags an ethnic minority</h1>", html=True)
        self.assertContains(response, "The first account of what happened.")
        self.assertNotContains(response, "A better account.")
        self.assertContains(response, "A newer version exists (version 2)")
        self.assertContains(
            response, '<a href="/incidents/camera-flags-minority/">read the current page</a>', html=True
        )
        self.assertContains(response, "Lens Corp")
        self.assertContains(response, "Paper reports the alerts")

    def test_the_current_version_says_it_is_current(self):
        response = self.client.get("/incidents/camera-flags-minority/v/2/")
        self.assertContains(response, "<h1>Camera system flags Uyghurs to police</h1>", html=True)
        self.assertContains(response, "it is the current one")
        self.assertNotContains(response, "A newer version exists")

    def test_a_missing_version_or_incident_is_a_404(self):
        for url in (
            "/incidents/camera-flags-minority/v/3/",
            "/incidents/camera-flags-minority/v/0/",
            "/incidents/no-such-incident/v/1/",
            "/incidents/camera-flags-minority/v/3/cite.bib",
            "/incidents/camera-flags-minority/v/1/cite.docx",
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_incident_page_cites_the_version_it_shows(self):
        response = self.client.get("/incidents/camera-flags-minority/")
        self.assertContains(response, "Cite this incident")
        self.assertContains(response, "https://incidents.example.org/incidents/camera-flags-minority/v/2/")
        self.assertContains(response, 'href="/incidents/camera-flags-minority/v/2/cite.bib"')
        self.assertNotContains(response, "/v/1/")

    def test_each_citation_downloads_with_its_type_and_file_name(self):
        expected = {
            "txt": "text/plain; charset=utf-8",
            "bib": "application/x-bibtex; charset=utf-8",
            "ris": "application/x-research-info-systems; charset=utf-8",
            "json": "application/vnd.citationstyles.csl+json; charset=utf-8",
        }
        number = self.incident.number
        for extension, content_type in expected.items():
            with self.subTest(extension=extension):
                response = self.client.get(f"/incidents/camera-flags-minority/v/1/cite.{extension}")
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response["Content-Type"], content_type)
                self.assertEqual(
                    response["Content-Disposition"],
                    f'attachment; filename="incident-{number}-v1.{extension}"',
                )
                body = response.content.decode()
                self.assertIn("Camera system flags an ethnic minority", body)
                self.assertIn("https://incidents.example.org/incidents/camera-flags-minority/v/1/", body)
        csl = json.loads(self.client.get("/incidents/camera-flags-minority/v/2/cite.json").content)
        self.assertEqual(csl[0]["title"], "Camera system flags Uyghurs to police")

    def test_a_citation_download_costs_two_queries(self):
        with self.assertNumQueries(2):  # the incident; the revision
            self.client.get("/incidents/camera-flags-minority/v/2/cite.ris")

    def test_the_history_links_each_revision_to_its_version(self):
        response = self.client.get("/incidents/camera-flags-minority/history/")
        self.assertContains(response, 'href="/incidents/camera-flags-minority/v/1/"')
        self.assertContains(response, 'href="/incidents/camera-flags-minority/v/2/"')

    def test_a_merged_incidents_versions_stay_readable(self):
        editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-1234-long")
        survivor = publish("Dahua cameras send Uyghur alerts", slug="dahua-alerts", occurred="2021")
        incident_merge(survivor=survivor, merged=self.incident, editor=editor)
        self.assertRedirects(
            self.client.get("/incidents/camera-flags-minority/"), "/incidents/dahua-alerts/", status_code=301
        )
        response = self.client.get("/incidents/camera-flags-minority/v/1/")
        self.assertContains(response, "The first account of what happened.")
        self.assertContains(response, "was merged into")
        self.assertContains(response, 'href="/incidents/dahua-alerts/"')
        self.assertEqual(self.client.get("/incidents/camera-flags-minority/v/1/cite.ris").status_code, 200)

    def test_the_version_page_costs_the_same_queries_however_many_versions_and_incidents(self):
        # the incident with its current version's number and its survivor; the revision;
        # the vocabularies (labels and order of the classification)
        with self.assertNumQueries(3):
            self.client.get("/incidents/camera-flags-minority/v/1/")
        for n in range(8):
            document = make_document(
                f"Camera system flags Uyghurs to police ({n})",
                terms={"country": ["China", f"Land {n}"], "sector": ["Govt - police"]},
                entities={"developer": ["Lens Corp"], "deployer": [f"Force {n}"]},
                references={"news": [{"url": f"https://news.example.org/{n}", "title": f"Story {n}"}]},
            )
            incident_publish(document=document, incident=self.incident)
            publish(
                f"Another incident {n}", terms={"country": ["China"]}, entities={"developer": ["Lens Corp"]}
            )
        with self.assertNumQueries(3):
            response = self.client.get("/incidents/camera-flags-minority/v/9/")
        self.assertContains(response, "Force 6")  # versions 3 to 10 were published in the loop
        self.assertContains(response, "A newer version exists (version 10)")


@override_settings(SITE_URL="https://incidents.example.org", SITE_NAME="AI Incident Repository")
class IncidentPageMarkupTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Face search engine built from scraped photos",
            slug="face-search-scraping",
            occurred="2020-",
            summary="A start-up collected billions of photos.",
            source_url="https://www.aiaaic.org/aiaaic-repository/ai-algorithmic-and-automation-incidents/clearview",
            external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0281"}, {"scheme": "aiid", "value": "1"}],
            entities={"developer": ["Clearview AI"], "deployer": ["City Police"]},
            terms={"country": ["USA", "Canada"], "technology": ["Facial recognition"]},
            references={
                "legal": [{"url": "https://law.example.org/fine", "title": "Regulator fines the company"}],
                "news": [
                    {"url": "https://news.example.org/1", "title": "The secretive company"},
                    {"url": "https://news.example.org/2", "title": "Police used it"},
                ],
            },
        )

    def setUp(self):
        reset_caches()

    def markup(self, url=None):
        response = self.client.get(url or self.incident.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        return PageMarkup(response.content.decode()), response

    def test_highwire_meta_tags_name_the_version_shown(self):
        markup, _ = self.markup()
        meta = markup.meta
        day = self.incident.created_at.strftime("%Y/%m/%d")
        self.assertEqual(meta["citation_title"], ["Face search engine built from scraped photos"])
        self.assertEqual(meta["citation_publisher"], ["AI Incident Repository"])
        # The databases the incident came from are its authors too, credited with their terms.
        self.assertEqual(
            meta["citation_author"], ["AI Incident Repository", "AIAAIC", "AI Incident Database"]
        )
        self.assertIn("CC BY-SA 4.0", meta["DC.source"][0])
        self.assertEqual(meta["citation_publication_date"], [day])
        self.assertEqual(meta["citation_date"], [day])
        self.assertEqual(
            meta["citation_public_url"], ["https://incidents.example.org/incidents/face-search-scraping/v/1/"]
        )
        self.assertEqual(meta["citation_keywords"], ["USA; Canada; Facial recognition"])
        self.assertEqual(meta["DC.identifier"], ["AIAAIC id AIAAIC0281", "AI Incident Database id 1"])

    def test_json_ld_describes_an_article_about_the_event(self):
        markup, _ = self.markup()
        [block] = markup.json_ld
        data = json.loads(block)
        self.assertEqual(data["@context"], "https://schema.org")
        self.assertEqual(data["@type"], "Article")
        self.assertEqual(data["headline"], "Face search engine built from scraped photos")
        self.assertEqual(data["url"], "https://incidents.example.org/incidents/face-search-scraping/v/1/")
        self.assertEqual(
            data["mainEntityOfPage"], "https://incidents.example.org/incidents/face-search-scraping/"
        )
        self.assertEqual(data["datePublished"], self.incident.created_at.isoformat())
        self.assertEqual(data["version"], "1")
        self.assertEqual(data["publisher"]["name"], "AI Incident Repository")
        self.assertEqual(
            [author["name"] for author in data["author"]],
            ["AI Incident Repository", "AIAAIC", "AI Incident Database"],
        )
        self.assertIn(
            "AIAAIC Repository (https://www.aiaaic.org/aiaaic-repository), CC BY-SA 4.0", data["creditText"]
        )
        self.assertEqual(data["license"], "https://creativecommons.org/licenses/by-sa/4.0/")
        self.assertEqual(data["about"]["@type"], "Event")
        self.assertEqual(data["about"]["startDate"], "2020")
        self.assertNotIn("endDate", data["about"])
        self.assertEqual([place["name"] for place in data["about"]["location"]], ["USA", "Canada"])
        self.assertEqual(
            [(item["propertyID"], item["value"]) for item in data["identifier"]],
            [
                ("AI Incident Repository", str(self.incident.number)),
                ("AIAAIC", "AIAAIC0281"),
                ("AI Incident Database", "1"),
            ],
        )
        self.assertEqual(data["sameAs"], ["https://incidentdatabase.ai/cite/1/"])

    def test_dates_sources_and_external_records(self):
        _, response = self.markup()
        day = self.incident.created_at.strftime("%-d %B %Y")
        stamp = self.incident.created_at.isoformat()
        self.assertContains(
            response, f'<dt>First published</dt><dd><time datetime="{stamp}">{day}</time></dd>', count=1
        )
        self.assertContains(response, "<dt>Sources</dt><dd>3</dd>", html=True)
        # Each external id links to its record where the source has one.
        self.assertContains(response, 'href="https://incidentdatabase.ai/cite/1/"')
        self.assertContains(
            response,
            'href="https://www.aiaaic.org/aiaaic-repository/ai-algorithmic-and-automation-incidents/clearview"'
            ' rel="nofollow noopener noreferrer">AIAAIC0281</a>',
        )

    def test_an_aiaaic_id_without_its_page_links_to_the_resolver(self):
        incident = publish("Another", external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0999"}])
        response = self.client.get(incident.get_absolute_url())
        self.assertContains(response, '<a href="/id/aiaaic/AIAAIC0999">AIAAIC0999</a>', html=True)

    def test_each_empty_reference_section_invites_a_source(self):
        _, response = self.markup()
        html = response.content.decode()
        invitation = '<p class="empty">None yet — <a href="/incidents/face-search-scraping/improve/#add-source-title">add one</a></p>'
        self.assertEqual(html.count(invitation), 3)  # system, research, investigations
        sections = html[html.index("<h2>System</h2>") : html.index("<h2>News, commentary, analysis</h2>")]
        legal = sections[sections.index("<h2>Legal, regulatory</h2>") : sections.index("<h2>Research")]
        self.assertNotIn("None yet", legal)
        self.assertIn(invitation, sections[: sections.index("<h2>Legal")])

    def test_the_copy_buttons_are_an_enhancement_from_a_static_script(self):
        _, response = self.markup()
        html = response.content.decode()
        self.assertIn('<script src="/static/js/copy-citation.js" defer></script>', html)
        self.assertIn('<button type="button" class="copy" data-copy-target="cite-txt" hidden>', html)
        # Without the script, the citation is text on the page.
        self.assertIn(
            "AI Incident Repository, AIAAIC &amp; AI Incident Database. "
            f"({self.incident.created_at:%Y, %B} {self.incident.created_at.day}). "
            f"Face search engine built from scraped photos (Incident {self.incident.number}, version 1). "
            "From the AIAAIC Repository",
            html,
        )
        scripts = [
            line for line in html.split("<script")[1:] if 'type="application/ld+json"' not in line[:40]
        ]
        self.assertTrue(all(line.startswith(' src="') for line in scripts), scripts)

    def test_a_hostile_headline_cannot_break_out_of_json_ld_or_meta(self):
        headline = '</script><script>alert(1)</script> "quoted" & <!-- <b>'
        incident = publish(
            headline, slug="hostile", terms={"country": ["</script><script>alert(2)</script>"]}
        )
        for url in (incident.get_absolute_url(), "/incidents/hostile/v/1/"):
            with self.subTest(url=url):
                markup, response = self.markup(url)
                html = response.content.decode()
                self.assertNotIn("<script>alert", html)
                self.assertNotIn("<!--", html)
                [block] = markup.json_ld
                self.assertNotIn("<", block)
                data = json.loads(block)
                self.assertEqual(data["headline"], headline)
                self.assertEqual(data["keywords"], ["</script><script>alert(2)</script>"])
                self.assertEqual(markup.meta["citation_title"], [headline])
                self.assertIn(
                    'content="&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;quoted&quot;', html
                )


class RelatedIncidentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Face search engine built from scraped photos",
            slug="clearview",
            occurred="2020",
            entities={"deployer": ["Clearview AI"], "developer": ["Lens Corp"]},
            terms={"country": ["USA"], "technology": ["Facial recognition"], "sector": ["Govt - police"]},
        )
        cls.same_deployer_and_country = publish(
            "Clearview AI fined in Italy",
            occurred="2022",
            entities={"deployer": ["Clearview AI"]},
            terms={"country": ["USA"]},
        )
        cls.same_deployer_near = publish(
            "Clearview AI client list leaked", occurred="2020", entities={"deployer": ["Clearview AI"]}
        )
        cls.same_deployer_far = publish(
            "Clearview AI sued in Illinois", occurred="2010", entities={"deployer": ["Clearview AI"]}
        )
        cls.other_role = publish(
            "Police use a face search tool", occurred="2015", entities={"developer": ["Clearview AI"]}
        )
        cls.three_terms = publish(
            "Police facial recognition misidentifies shoppers",
            occurred="2019",
            terms={"country": ["USA"], "technology": ["Facial recognition"], "sector": ["Govt - police"]},
        )
        cls.one_term_near = publish(
            "A chatbot invents court cases", occurred="2020", terms={"country": ["USA"]}
        )
        cls.one_term_far = publish("A welfare algorithm errs", occurred="2001", terms={"country": ["USA"]})
        cls.unrelated = publish("Elsewhere", occurred="2020", terms={"country": ["France"]})
        cls.merged = publish("Clearview duplicate", occurred="2020", entities={"deployer": ["Clearview AI"]})
        editor = get_user_model().objects.create_user("edith", "edith@example.org", "pw-1234-long")
        incident_merge(survivor=cls.same_deployer_near, merged=cls.merged, editor=editor)

    def setUp(self):
        reset_caches()

    def related(self):
        return self.client.get("/incidents/clearview/").context["related"]

    def test_ranked_by_shared_entities_then_terms_then_closeness_in_time(self):
        self.assertEqual(
            [item["headline"] for item in self.related()],
            [
                "Clearview AI fined in Italy",  # an entity and a term
                "Clearview AI client list leaked",  # an entity, the same year
                "Police use a face search tool",  # an entity, five years apart
                "Clearview AI sued in Illinois",  # an entity, ten years apart
                "Police facial recognition misidentifies shoppers",  # three terms
                "A chatbot invents court cases",  # one term, the same year
            ],
        )

    def test_each_says_why_it_is_related(self):
        reasons = {item["headline"]: item["reasons"] for item in self.related()}
        self.assertEqual(
            reasons["Clearview AI fined in Italy"], "Same deployer: Clearview AI; same country: USA"
        )
        self.assertEqual(reasons["Police use a face search tool"], "Also involves Clearview AI")
        self.assertEqual(
            reasons["Police facial recognition misidentifies shoppers"],
            "Same country: USA; same sector: Govt - police; same technology: Facial recognition",
        )
        response = self.client.get("/incidents/clearview/")
        self.assertContains(
            response, '<span class="reason">Same deployer: Clearview AI; same country: USA</span>'
        )
        self.assertContains(response, f'<a href="{self.three_terms.get_absolute_url()}">')

    def test_merged_and_unrelated_incidents_are_left_out(self):
        headlines = [item["headline"] for item in self.related()]
        self.assertNotIn("Clearview duplicate", headlines)
        self.assertNotIn("Elsewhere", headlines)
        self.assertNotIn("Face search engine built from scraped photos", headlines)

    def test_an_incident_merged_with_its_links_kept_is_left_out(self):
        # A sheet import merges an incident by pointing it at its survivor and keeps its links
        # (repository.importers.dataset), so the link tables still name it.
        kept = publish(
            "Clearview AI merged by a sheet",
            occurred="2020",
            entities={"deployer": ["Clearview AI"], "developer": ["Lens Corp"]},
            terms={"country": ["USA"], "technology": ["Facial recognition"], "sector": ["Govt - police"]},
        )
        self.assertEqual(self.related()[0]["headline"], "Clearview AI merged by a sheet")
        Incident.objects.filter(pk=kept.pk).update(merged_into=self.same_deployer_near)
        self.assertTrue(kept.incident_entities.exists())
        self.assertTrue(kept.incident_terms.exists())
        reset_caches()
        related = self.related()
        self.assertNotIn("Clearview AI merged by a sheet", [item["headline"] for item in related])
        self.assertEqual(related[0]["headline"], "Clearview AI fined in Italy")
        self.assertEqual(len(related), 6)

    def test_an_incident_sharing_nothing_says_so(self):
        response = self.client.get(self.unrelated.get_absolute_url())
        self.assertEqual(response.context["related"], [])
        self.assertContains(response, "No other incident shares its organisations or classification yet.")

    def test_the_answer_is_cached_until_something_is_published(self):
        self.related()
        with self.captureOnCommitCallbacks(execute=True):
            publish(
                "Clearview AI banned in Canada",
                occurred="2020",
                entities={"deployer": ["Clearview AI"]},
                terms={"country": ["USA"]},
            )
        self.assertIn("Clearview AI banned in Canada", [item["headline"] for item in self.related()])


class RelatedCandidateCapTests(TestCase):
    def test_the_capped_candidates_are_the_best_not_the_newest(self):
        incident = publish(
            "Face search",
            slug="face-search",
            entities={"deployer": ["Clearview AI"]},
            terms={"country": ["USA"]},
        )
        best = publish(
            "Oldest, sharing the most", entities={"deployer": ["Clearview AI"]}, terms={"country": ["USA"]}
        )
        for n in range(3):
            publish(f"Newer {n}", entities={"deployer": ["Clearview AI"]})
        for n in range(3):
            publish(f"Country only {n}", terms={"country": ["USA"]})
        cache.clear()
        with mock.patch("repository.related.CANDIDATES", 2):
            related = self.client.get(incident.get_absolute_url()).context["related"]
        self.assertEqual(related[0]["headline"], best.headline)
        self.assertEqual(related[0]["reasons"], "Same deployer: Clearview AI; same country: USA")


class RelatedReasonLengthTests(TestCase):
    def test_a_reason_names_a_few_things_and_counts_the_rest(self):
        shared = {
            "country": ["USA"],
            "sector": ["Health"],
            "purpose": ["Generate text"],
            "technology": [
                "Chatbot",
                "NLP/text analysis",
                "Neural network",
                "Deep learning",
                "Machine learning",
            ],
            "issue": ["Accuracy/reliability"],
        }
        incident = publish("A chatbot misdiagnoses children", slug="misdiagnoses", terms=shared)
        publish("A chatbot gives wrong medical advice", terms=shared)
        cache.clear()
        [item] = self.client.get(incident.get_absolute_url()).context["related"]
        self.assertEqual(
            item["reasons"],
            "Same country: USA; same sector: Health; same purpose: Generate text; 2 more in common",
        )
        technology = publish("Another chatbot", terms={"technology": shared["technology"]})
        cache.clear()
        [item] = self.client.get(technology.get_absolute_url()).context["related"][:1]
        self.assertEqual(
            item["reasons"], "Same technology: Chatbot, NLP/text analysis, Neural network and 2 more"
        )


class IncidentPageQueryTests(TestCase):
    """The incident page's queries do not grow with the repository."""

    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Face search engine built from scraped photos",
            slug="clearview",
            occurred="2020",
            external_id="AIAAIC0281",
            entities={"deployer": ["Clearview AI"], "developer": ["Clearview AI"]},
            terms={"country": ["USA"], "technology": ["Facial recognition"]},
            references={"news": [{"url": "https://news.example.org/1", "title": "The secretive company"}]},
        )

    def add_incidents(self, count, start=0):
        for n in range(start, start + count):
            publish(
                f"Related incident {n}",
                occurred=str(2000 + n % 25),
                entities={"deployer": ["Clearview AI"] if n % 2 else [f"Company {n}"]},
                terms={"country": ["USA"], "technology": ["Facial recognition"] if n % 3 else ["Chatbot"]},
            )

    def count_page(self, expected):
        reset_caches()
        # incident with its revision; its terms with vocabularies; its entities; its references;
        # its external ids; related: the candidates sharing entities or terms with what ranks
        # them (one statement), the winners' shared entities and terms (one)
        with self.assertNumQueries(expected):
            response = self.client.get("/incidents/clearview/")
        # Cached: only the incident's own rows.
        with self.assertNumQueries(5):
            self.client.get("/incidents/clearview/")
        return response

    def test_the_same_queries_at_two_sizes(self):
        self.add_incidents(4)
        small = self.count_page(7)
        self.assertEqual(len(small.context["related"]), 4)
        self.add_incidents(120, start=4)
        large = self.count_page(7)
        self.assertEqual(len(large.context["related"]), 6)
        self.assertTrue(
            all(
                item["reasons"].startswith("Same deployer: Clearview AI") for item in large.context["related"]
            )
        )


@override_settings(SITE_URL="https://incidents.example.org")
class ExportDatasetMarkupTests(TestCase):
    def test_the_export_page_describes_the_dataset_and_each_file(self):
        from django.utils import timezone

        made = timezone.now()
        csv = DatasetSnapshot.objects.create(
            format="csv",
            file_name="incidents-1.csv",
            created_at=made,
            size=1234,
            sha256="a" * 64,
            incident_count=3,
        )
        DatasetSnapshot.objects.create(
            format="json",
            file_name="incidents-1.json",
            created_at=made,
            size=99,
            sha256="b" * 64,
            incident_count=3,
        )
        with self.assertNumQueries(1):  # the snapshots
            response = self.client.get("/export/")
        [block] = PageMarkup(response.content.decode()).json_ld
        data = json.loads(block)
        self.assertEqual(data["@type"], "Dataset")
        self.assertEqual(data["license"], "https://creativecommons.org/licenses/by-sa/4.0/")
        self.assertIn("AIAAIC", [creator["name"] for creator in data["creator"]])
        self.assertIn("AIAAIC Repository", data["creditText"])
        self.assertEqual(
            [(item["encodingFormat"], item["contentUrl"]) for item in data["distribution"]],
            [
                ("text/csv", f"https://incidents.example.org/export/{csv.pk}/download/"),
                ("application/json", f"https://incidents.example.org/export/{csv.pk + 1}/download/"),
            ],
        )

    def test_with_no_snapshot_the_dataset_has_no_distribution(self):
        response = self.client.get("/export/")
        [block] = PageMarkup(response.content.decode()).json_ld
        self.assertEqual(json.loads(block)["distribution"], [])


class RevisionsAreUntouched(TestCase):
    def test_reading_a_version_writes_nothing(self):
        incident = publish("One", slug="one")
        before = list(Revision.objects.values_list("pk", "number", "document"))
        self.client.get("/incidents/one/v/1/")
        self.client.get("/incidents/one/v/1/cite.bib")
        self.assertEqual(list(Revision.objects.values_list("pk", "number", "document")), before)
        self.assertEqual(incident.revisions.count(), 1)
