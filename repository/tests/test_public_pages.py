import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from repository.models import Entity, Incident, Reference, Term, Vocabulary
from repository.tests.base import publish


def text_positions(html, *needles):
    return [html.index(needle) for needle in needles]


class IncidentPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.incident = publish(
            "Camera system flags an ethnic minority to police",
            slug="camera-flags-minority",
            occurred="February 2021",
            summary="A camera maker's software alerted police.",
            narrative="First paragraph of what happened.\n\n## The contract\n\nSecond part of the story.",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"], "system": ["EyeSpy"]},
            terms={
                "country": ["China"],
                "sector": ["Govt - police"],
                "technology": ["Facial recognition"],
                "issue": ["Privacy"],
                "transparency": ["Black box"],
            },
            references={
                "news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}],
                "legal": [{"url": "https://law.example.org/b", "title": "Entity list"}],
            },
        )

    def test_it_shows_the_parts_in_the_order_of_the_seed_page(self):
        response = self.client.get(self.incident.get_absolute_url())
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        positions = text_positions(
            html,
            "<h1>Camera system flags an ethnic minority to police</h1>",
            "Occurred: February 2021",
            "Can you improve this page?",
            "First paragraph of what happened.",
            "<h2>The contract</h2>",
            "Deployer:",
            "Developer:",
            "Country:",
            "Sector:",
            "Technology:",
            "Issue:",
            "Transparency:",
            "<h2>System</h2>",
            "<h2>Legal, regulatory</h2>",
            "<h2>Research, advocacy</h2>",
            "<h2>Investigations, assessments, audits</h2>",
            "<h2>News, commentary, analysis</h2>",
        )
        self.assertEqual(positions, sorted(positions))

    def test_the_invitation_links_to_the_improve_page(self):
        response = self.client.get(self.incident.get_absolute_url())
        self.assertContains(response, 'href="/incidents/camera-flags-minority/improve/"')
        self.assertContains(response, "Share your insights with us")

    def test_each_classification_value_links_to_its_term_or_entity_page(self):
        response = self.client.get(self.incident.get_absolute_url())
        self.assertContains(response, 'href="/taxonomy/country/china/">China</a>')
        self.assertContains(response, 'href="/taxonomy/sector/govt-police/">Govt - police</a>')
        self.assertContains(response, 'href="/entities/acme-retail/">Acme Retail</a>')
        self.assertContains(response, 'href="/entities/lens-corp/">Lens Corp</a>')

    def test_references_sit_under_their_section(self):
        html = self.client.get(self.incident.get_absolute_url()).content.decode()
        legal, research, news = text_positions(
            html, "<h2>Legal, regulatory</h2>", "<h2>Research, advocacy</h2>", "<h2>News, commentary"
        )
        self.assertTrue(legal < html.index("Entity list") < research)
        self.assertTrue(news < html.index("Paper reports the alerts"))

    def test_it_costs_six_queries_then_five(self):
        cache.clear()
        # incident with its revision; its terms with vocabularies; its entities; its references;
        # its external ids; the incidents sharing its entities or its terms, in one statement
        # (none here: test_incident_reading pins the page with related incidents)
        with self.assertNumQueries(6):
            self.client.get(self.incident.get_absolute_url())
        # Related incidents come from the cache until something is published.
        with self.assertNumQueries(5):
            self.client.get(self.incident.get_absolute_url())

    def test_a_vocabulary_named_only_by_a_placeholder_costs_one_query_more(self):
        incident = publish(
            "Placeholders only",
            terms={"country": ["Multiple"], "sector": ["Unclear/unknown"], "technology": ["Chatbot"]},
            entities={"deployer": ["Unknown"]},
        )
        cache.clear()
        # the six of an incident page; the vocabularies named only by a placeholder (whatever
        # their number)
        with self.assertNumQueries(7):
            response = self.client.get(incident.get_absolute_url())
        html = response.content.decode()
        country, sector, technology = text_positions(
            html, '<span class="label">Country:</span>', '<span class="label">Sector:</span>', "Technology:"
        )
        self.assertTrue(country < sector < technology)
        self.assertIn(
            'Country:</span> <span class="unknown" title="The source names no one value">Multiple', html
        )
        self.assertIn(
            'Deployer:</span> <span class="unknown" title="The source does not say who">Unknown', html
        )

    def test_an_unknown_incident_is_a_404_page(self):
        response = self.client.get("/incidents/no-such-thing/")
        self.assertEqual(response.status_code, 404)
        self.assertContains(response, "Page not found", status_code=404)

    def test_the_document_is_available_as_json(self):
        response = self.client.get(f"/incidents/{self.incident.slug}/document.json")
        self.assertEqual(response.json()["document"]["terms"]["country"], ["China"])


class HostileTextTests(TestCase):
    def test_markup_in_any_field_is_escaped_or_sanitized(self):
        incident = publish(
            "<script>alert('h')</script> headline",
            narrative="Text <script>alert('n')</script> <img src=x onerror=alert(1)> [x](javascript:alert(2))",
            summary="<b>bold</b> summary",
            terms={"country": ["<i>Utopia</i>"]},
            entities={"deployer": ['"><script>alert(3)</script>']},
            references={"news": [{"url": "https://example.org/x", "title": "<script>alert(4)</script>"}]},
        )
        for url in (incident.get_absolute_url(), "/incidents/", "/"):
            html = self.client.get(url).content.decode()
            self.assertNotIn("<script>alert", html, url)
            self.assertNotIn("<img src=x", html, url)
            self.assertNotIn("javascript:alert", html, url)
        html = self.client.get(incident.get_absolute_url()).content.decode()
        self.assertIn("&lt;script&gt;alert(&#x27;h&#x27;)&lt;/script&gt; headline", html)
        # Markup typed into the narrative is shown as the text it is.
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", html)

    def test_an_unclosed_tag_in_a_narrative_swallows_nothing(self):
        for tag in ("<style>", "<script>", "<!--", "<plaintext>", "<textarea>", "<title>"):
            with self.subTest(tag=tag):
                incident = publish(
                    f"Unclosed {tag}",
                    narrative=f"The start.\n\n{tag}\n\nThe rest of the story, **in bold**.\n\nThe end.",
                )
                response = self.client.get(incident.get_absolute_url())
                self.assertContains(response, "The start.")
                self.assertContains(response, "The rest of the story, <strong>in bold</strong>.")
                self.assertContains(response, "The end.")


class BrowseTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.police_uk = publish(
            "Police facial recognition misidentifies shoppers",
            occurred="2019",
            terms={"country": ["UK"], "sector": ["Govt - police"], "technology": ["Facial recognition"]},
            entities={"deployer": ["Metro Police"], "developer": ["FaceCo"]},
        )
        cls.police_usa = publish(
            "Predictive policing tool targets neighbourhoods",
            occurred="2016-2020",
            summary="A forecasting tool sent patrols to the same streets.",
            terms={"country": ["USA"], "sector": ["Govt - police"], "technology": ["Machine learning"]},
            entities={"deployer": ["City Police"], "developer": ["PredictCo"]},
        )
        cls.welfare = publish(
            "Welfare algorithm wrongly accuses families",
            occurred="2023-",
            narrative="An automated risk score flagged thousands of claimants.",
            terms={
                "country": ["Netherlands"],
                "sector": ["Govt - welfare"],
                "technology": ["Machine learning"],
            },
            entities={"deployer": ["Tax Office"], "developer": ["Tax Office"]},
        )
        cls.chatbot = publish(
            "Chatbot invents court cases",
            occurred="May 2023",
            type="incident",
            terms={
                "country": ["USA"],
                "sector": ["Business/professional services"],
                "technology": ["Chatbot"],
            },
            entities={"deployer": ["Law Firm"], "developer": ["FaceCo"]},
        )

    def headlines(self, query=""):
        response = self.client.get("/incidents/" + query)
        self.assertEqual(response.status_code, 200)
        return [incident.headline for incident in response.context["page"].object_list]

    def test_it_lists_every_incident_by_occurred_latest_first(self):
        self.assertEqual(
            self.headlines(),
            [
                "Chatbot invents court cases",
                "Welfare algorithm wrongly accuses families",
                "Police facial recognition misidentifies shoppers",
                "Predictive policing tool targets neighbourhoods",
            ],
        )

    def test_it_sorts_by_earliest_and_by_newest(self):
        self.assertEqual(self.headlines("?sort=oldest")[0], "Predictive policing tool targets neighbourhoods")
        self.assertEqual(self.headlines("?sort=newest")[0], "Chatbot invents court cases")
        self.assertEqual(
            self.headlines("?sort=newest")[-1], "Police facial recognition misidentifies shoppers"
        )

    def test_a_term_filter_narrows_and_values_combine(self):
        self.assertEqual(len(self.headlines("?sector=govt-police")), 2)
        self.assertEqual(self.headlines("?sector=govt-police&country=usa"), [self.police_usa.headline])
        self.assertEqual(self.headlines("?country=usa&country=uk"), [])

    def test_a_parent_term_includes_its_children(self):
        self.assertEqual(len(self.headlines("?sector=govt")), 3)

    def test_deployer_and_developer_filters(self):
        self.assertEqual(self.headlines("?deployer=tax-office"), [self.welfare.headline])
        self.assertEqual(
            set(self.headlines("?developer=faceco")), {self.police_uk.headline, self.chatbot.headline}
        )

    def test_the_occurred_range_keeps_overlapping_and_open_periods(self):
        self.assertEqual(
            set(self.headlines("?occurred_from=2020&occurred_to=2020")), {self.police_usa.headline}
        )
        self.assertEqual(
            set(self.headlines("?occurred_from=2025")), {self.welfare.headline}
        )  # "2023-" is still going on
        self.assertEqual(
            set(self.headlines("?occurred_to=2018")), {self.police_usa.headline}
        )  # 2016-2020 began before

    def test_type_filter(self):
        self.assertEqual(self.headlines("?type=incident"), [self.chatbot.headline])

    def test_search_covers_headline_summary_and_narrative(self):
        self.assertEqual(self.headlines("?q=chatbot"), [self.chatbot.headline])
        self.assertEqual(self.headlines("?q=patrols"), [self.police_usa.headline])
        self.assertEqual(self.headlines("?q=claimants"), [self.welfare.headline])
        self.assertEqual(self.headlines("?q=zebra"), [])

    def test_facet_counts_say_how_many_results_a_value_would_leave(self):
        response = self.client.get("/incidents/?sector=govt-police")
        facets = {facet.name: facet for facet in response.context["facets"]}
        countries = {value.name: value.count for value in facets["country"].values}
        self.assertEqual(countries, {"UK": 1, "USA": 1})
        technologies = {value.name: value.count for value in facets["technology"].values}
        self.assertEqual(technologies, {"Facial recognition": 1, "Machine learning": 1})
        sectors = {value.name: (value.count, value.selected) for value in facets["sector"].values}
        # A parent counts the results under it (what choosing it would leave), though no
        # incident carries "Govt" itself.
        self.assertEqual(sectors, {"Govt": (2, False), "Govt - police": (2, True)})
        developers = {value.name for value in facets["developer"].values}
        self.assertEqual(developers, {"FaceCo", "PredictCo"})

    def test_every_state_is_a_shareable_url(self):
        html = self.client.get("/incidents/?country=usa").content.decode()
        # Removing the chosen value, or adding another, are plain links.
        self.assertIn('href="?"', html)
        self.assertRegex(html, r'href="\?country=usa&amp;technology=chatbot"')

    def test_bad_parameters_are_reported_not_crashed_on(self):
        response = self.client.get("/incidents/?occurred_from=abc&country=%3Cb%3E&sort=sideways&page=999")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Some filters were not applied")
        self.assertNotContains(response, "<b>")
        self.assertEqual(len(response.context["page"].object_list), 4)

    def test_an_empty_result_says_so(self):
        response = self.client.get("/incidents/?q=nothing+matches+this")
        self.assertContains(response, "No incidents match these filters.")

    @override_settings(INCIDENTS_PER_PAGE=3)
    def test_it_paginates(self):
        first = self.client.get("/incidents/")
        self.assertEqual(len(first.context["page"].object_list), 3)
        self.assertContains(first, 'href="?page=2"')
        second = self.client.get("/incidents/?page=2")
        self.assertEqual([i.headline for i in second.context["page"].object_list], [self.police_usa.headline])


class QueryCountTests(TestCase):
    """Pages cost the same number of queries whatever the number of incidents and terms.

    Publishing renews the freshness token on commit (run here), so each first request after
    a publication computes what is cached per publication."""

    def populate(self, start, count):
        with self.captureOnCommitCallbacks(execute=True):
            self._populate(start, count)

    def _populate(self, start, count):
        for n in range(start, start + count):
            publish(
                f"Incident number {n}",
                occurred=f"{2000 + n % 20}",
                terms={
                    "country": [f"Country {n % 7}", "Everywhere"],
                    "sector": [f"Sector {n % 5}"],
                    "technology": ["Machine learning", f"Technique {n}"],
                },
                entities={
                    "deployer": [f"Deployer {n % 4}"],
                    "developer": ["Big Lab"],
                    "harmed": [f"Group {n % 3}", "Everyone"],
                },
            )

    def test_the_list_with_three_facets_selected(self):
        self.populate(0, 6)
        url = "/incidents/?country=everywhere&technology=machine-learning&developer=big-lab"
        # vocabularies; the facets and the count (one statement); chosen terms; chosen
        # entities; the page of incidents; their countries and sectors; their deployers
        with self.assertNumQueries(7):
            small = self.client.get(url)
        self.populate(6, 30)
        with self.assertNumQueries(7):
            large = self.client.get(url)
        self.assertEqual(small.context["page"].paginator.count, 6)
        self.assertEqual(large.context["page"].paginator.count, 36)
        self.assertEqual(len(large.context["page"].object_list), 25)

    def test_the_list_narrowed_to_a_harmed_party(self):
        self.populate(0, 6)
        url = "/incidents/?harmed=group-1"
        # vocabularies; the facets (harmed parties among them) and the count; chosen entities;
        # the page of incidents; their countries and sectors; their deployers
        with self.assertNumQueries(6):
            small = self.client.get(url)
        self.populate(6, 30)
        with self.assertNumQueries(6):
            large = self.client.get(url)
        self.assertEqual(small.context["page"].paginator.count, 2)
        self.assertEqual(large.context["page"].paginator.count, 12)
        harmed = next(facet for facet in large.context["facets"] if facet.name == "harmed")
        self.assertEqual(
            [(value.name, value.count) for value in harmed.values], [("Everyone", 12), ("Group 1", 12)]
        )

    def test_the_unfiltered_list(self):
        self.populate(0, 3)
        # vocabularies; the facets and the count; page; countries and sectors; deployers
        with self.assertNumQueries(5):
            self.client.get("/incidents/")
        # Until the next publication the facets and the count come from the cache.
        with self.assertNumQueries(4):
            self.client.get("/incidents/?sort=newest")
        self.populate(3, 30)
        with self.assertNumQueries(5):
            response = self.client.get("/incidents/")
        self.assertEqual(response.context["page"].paginator.count, 33)
        with self.assertNumQueries(4):
            self.client.get("/incidents/")

    def test_term_entity_vocabulary_and_home_pages(self):
        self.populate(0, 3)
        # (queries after a publication, queries until the next one: counts are cached)
        pages = {
            # term with vocabulary; children; [count]; its other spellings; page; countries
            # and sectors; deployers
            "/taxonomy/technology/machine-learning/": (7, 6),
            # entity; [its role counts; count]; its other spellings; page; countries and
            # sectors; deployers; its roles
            "/entities/big-lab/": (8, 6),
            # vocabulary; [incidents under each term; its terms]; the page's terms
            "/taxonomy/technology/": (4, 2),
            # latest; their countries and sectors; deployers; [three counts; incidents per year]
            "/": (7, 3),
        }
        for url, (fresh, cached) in pages.items():
            with self.assertNumQueries(fresh):
                self.assertEqual(self.client.get(url).status_code, 200)
            with self.assertNumQueries(cached):
                self.assertEqual(self.client.get(url).status_code, 200)
        self.populate(3, 30)
        for url, (fresh, cached) in pages.items():
            with self.assertNumQueries(fresh):
                self.client.get(url)
            with self.assertNumQueries(cached):
                self.client.get(url)


class TermAndEntityPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.first = publish(
            "Lab's model leaks data",
            terms={"sector": ["Govt - police"]},
            entities={"developer": ["Big Lab"], "deployer": ["Big Lab"]},
        )
        cls.second = publish(
            "Shop uses the lab's model",
            terms={"sector": ["Govt - welfare"]},
            entities={"deployer": ["Shop"], "developer": ["Big Lab"]},
        )

    def test_a_term_page_lists_its_incidents_and_a_parent_includes_its_children(self):
        response = self.client.get("/taxonomy/sector/govt-police/")
        self.assertEqual([i.headline for i in response.context["page"].object_list], [self.first.headline])
        response = self.client.get("/taxonomy/sector/govt/")
        self.assertEqual(response.context["page"].paginator.count, 2)
        self.assertContains(response, "Govt - welfare")

    def test_an_entity_page_shows_each_role(self):
        response = self.client.get("/entities/big-lab/")
        self.assertEqual(response.context["page"].paginator.count, 2)
        self.assertEqual(
            [(role["label"], role["count"]) for role in response.context["roles"]],
            [("Deployer", 1), ("Developer", 2)],
        )
        self.assertContains(response, "As deployer, developer")
        only_deployed = self.client.get("/entities/big-lab/?role=deployer")
        self.assertEqual(only_deployed.context["page"].paginator.count, 1)

    def test_a_merged_term_or_entity_redirects_to_its_survivor(self):
        police = Term.objects.get(slug="govt-police")
        welfare = Term.objects.get(slug="govt-welfare")
        Term.objects.filter(pk=welfare.pk).update(merged_into=police)
        response = self.client.get("/taxonomy/sector/govt-welfare/")
        self.assertRedirects(response, "/taxonomy/sector/govt-police/", status_code=301)
        Entity.objects.filter(slug="shop").update(merged_into=Entity.objects.get(slug="big-lab"))
        self.assertRedirects(self.client.get("/entities/shop/"), "/entities/big-lab/", status_code=301)

    def test_unknown_terms_entities_and_vocabularies_are_404(self):
        for url in ("/taxonomy/sector/nope/", "/taxonomy/nope/", "/entities/nope/"):
            self.assertEqual(self.client.get(url).status_code, 404, url)


class HomeAndHealthTests(TestCase):
    def test_the_home_page_with_no_incidents_says_so(self):
        response = self.client.get("/")
        self.assertContains(response, "No incidents have been published yet.")

    def test_the_home_page_shows_the_latest_and_the_counts(self):
        publish("A fresh incident", terms={"country": ["Chile"]}, entities={"deployer": ["Org"]})
        response = self.client.get(reverse("repository:home"))
        self.assertContains(response, "A fresh incident")
        self.assertEqual(response.context["counts"], {"incidents": 1, "entities": 1, "countries": 1})

    def test_healthz_is_a_cheap_liveness_answer(self):
        with self.assertNumQueries(0):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_readyz_checks_the_database_cache_and_broker(self):
        with self.assertNumQueries(1):  # SELECT 1
            response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {"status": "ok", "database": "ok", "cache": "local", "broker": "in-process", "down": []},
        )


class DemoDataTests(TestCase):
    def test_the_demo_loads_into_an_empty_database_once(self):
        out = StringIO()
        call_command("load_demo", stdout=out)
        self.assertRegex(out.getvalue(), r"Demo dataset loaded: 1[0-9] incidents created")
        count = Incident.objects.count()
        self.assertTrue(Incident.objects.filter(slug="dahua-real-time-uyghur-warnings").exists())
        out = StringIO()
        call_command("load_demo", stdout=out)
        self.assertIn("the demo was not loaded", out.getvalue())
        self.assertEqual(Incident.objects.count(), count)

    def test_every_demo_page_renders(self):
        call_command("load_demo", stdout=StringIO())
        for incident in Incident.objects.all():
            response = self.client.get(incident.get_absolute_url())
            self.assertEqual(response.status_code, 200)
            self.assertEqual(len(re.findall(r"<h2>", response.content.decode())) >= 5, True)


class AdminTests(TestCase):
    def test_staff_can_open_every_model_in_the_admin(self):
        publish("Admin sees this", terms={"country": ["Chile"]}, entities={"deployer": ["Org"]})
        admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "a-long-password-1")
        self.client.force_login(admin)
        models = [
            "vocabulary",
            "term",
            "termalias",
            "entity",
            "entityalias",
            "incident",
            "incidentterm",
            "incidententity",
            "reference",
            "revision",
            "sourcerecord",
            "externalid",
            "curationevent",
            "datasetsnapshot",
        ]
        for model in models:
            response = self.client.get(f"/admin/repository/{model}/")
            self.assertEqual(response.status_code, 200, model)
        incident = Incident.objects.get()
        self.assertEqual(
            self.client.get(f"/admin/repository/incident/{incident.pk}/change/").status_code, 200
        )

    def test_the_admin_shows_the_published_record_read_only(self):
        incident = publish("Admin sees this", terms={"country": ["Chile"]}, entities={"deployer": ["Org"]})
        term, entity = Term.objects.get(name="Chile"), Entity.objects.get(name="Org")
        admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "a-long-password-1")
        self.client.force_login(admin)
        response = self.client.get(f"/admin/repository/term/{term.pk}/change/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f'href="/moderation/taxonomy/terms/{term.pk}/"')
        self.assertNotContains(response, 'name="_save"')
        attempts = [
            (
                f"/admin/repository/incident/{incident.pk}/change/",
                {"headline": "Changed by hand", "number": 9},
            ),
            (
                f"/admin/repository/term/{term.pk}/change/",
                {"name": "Chili", "slug": "chili", "vocabulary": 1},
            ),
            (
                f"/admin/repository/entity/{entity.pk}/change/",
                {"name": "Other", "slug": "other", "kind": "organisation"},
            ),
            (f"/admin/repository/incident/{incident.pk}/delete/", {"post": "yes"}),
            (f"/admin/repository/term/{term.pk}/delete/", {"post": "yes"}),
            ("/admin/repository/incident/add/", {"headline": "Added by hand", "number": 99, "slug": "added"}),
            ("/admin/repository/reference/add/", {"url": "https://example.org/"}),
        ]
        for url, data in attempts:
            with self.subTest(url=url):
                self.assertEqual(self.client.post(url, data).status_code, 403)
        incident.refresh_from_db()
        self.assertEqual(incident.headline, "Admin sees this")
        self.assertEqual(Incident.objects.count(), 1)
        self.assertEqual(Term.objects.get(pk=term.pk).name, "Chile")
        self.assertEqual(Entity.objects.get(pk=entity.pk).name, "Org")
        self.assertFalse(Reference.objects.exists())
        # Administrators' own concerns stay editable: a vocabulary's label and order.
        vocabulary = Vocabulary.objects.get(slug="country")
        response = self.client.post(
            f"/admin/repository/vocabulary/{vocabulary.pk}/change/",
            {
                "slug": "country",
                "label": "Countries",
                "group": vocabulary.group,
                "order": 7,
                "parent_separator": "",
            },
        )
        self.assertEqual(response.status_code, 302)
        vocabulary.refresh_from_db()
        self.assertEqual((vocabulary.label, vocabulary.order), ("Countries", 7))

    def test_the_admin_is_closed_to_the_public(self):
        response = self.client.get("/admin/repository/incident/")
        self.assertEqual(response.status_code, 302)
