"""In a real browser: the incident page's citation block, its copy button and its JSON-LD under
the site's strict Content-Security-Policy, and the permanent version page.

Like submissions/tests/test_browser.py, it drives Debian's Chromium through Playwright (a
missing browser is a failure, not a skip); `pytest -m "not browser"` leaves it out.
"""

import json
import os
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from repository.services import incident_publish
from repository.tests.base import make_document, publish

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
AXE_CORE = os.environ.get(
    "AXE_CORE", str(Path(__file__).resolve().parents[2] / ".make/axe/node_modules/axe-core/axe.min.js")
)
TIMEOUT_MS = 15_000

HEADLINE = 'Camera maker\'s "Smart Police" alerts </script><script>alert(1)</script>'
# Records every CSP violation the page meets, before any of the page's own scripts run.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI}`);
});
"""


class BrowserTestCase(StaticLiveServerTestCase):
    """Chromium for the class; `page()` a new page under the site's CSP watch."""

    @classmethod
    def setUpClass(cls):
        # Playwright's sync API runs an event loop in this thread (see test_browser.py).
        previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        cls.addClassCleanup(
            lambda: (
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
                if previous is None
                else os.environ.__setitem__("DJANGO_ALLOW_ASYNC_UNSAFE", previous)
            )
        )
        super().setUpClass()
        expect.set_options(timeout=TIMEOUT_MS)
        cls.browser, cls.browser_problem = None, ""
        if not os.access(CHROMIUM, os.X_OK):
            cls.browser_problem = (
                f"The browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium, "
                'or set CHROMIUM=/path/to/chromium, or leave them out with -m "not browser").'
            )
            return
        cls.playwright = sync_playwright().start()
        cls.addClassCleanup(cls.playwright.stop)
        try:
            cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            cls.browser_problem = f"Chromium at {CHROMIUM} did not start: {exc}"
            return
        cls.addClassCleanup(cls.browser.close)

    def setUp(self):
        if self.browser_problem:
            self.fail(self.browser_problem)
        cache.clear()
        # A TransactionTestCase empties every table after each test, the vocabularies that a
        # data migration created included: put them back.
        import_module("repository.migrations.0002_vocabularies_and_search_index").create_vocabularies(
            apps, None
        )

    def page(self, **options):
        context = self.browser.new_context(base_url=self.live_server_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.addCleanup(context.close)
        context.add_init_script(WATCH_CSP)
        return context.new_page()


class IncidentPageInABrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.incident = publish(
            "Camera system flags an ethnic minority",
            slug="camera-flags-minority",
            occurred="February 2021",
            narrative="The first account.",
            external_ids=[{"scheme": "aiid", "value": "12"}],
            entities={"developer": ["Lens Corp"]},
            terms={"country": ["China"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )
        incident_publish(
            document=make_document(
                HEADLINE,
                occurred="February 2021",
                narrative="A better account.",
                external_ids=[{"scheme": "aiid", "value": "12"}],
                entities={"developer": ["Lens Corp"]},
                terms={"country": ["China"]},
                references={
                    "news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]
                },
            ),
            incident=self.incident,
        )
        publish("Lens Corp cameras in schools", occurred="2022", entities={"developer": ["Lens Corp"]})

    def test_the_citation_block_works_under_the_csp(self):
        page = self.page(permissions=["clipboard-read", "clipboard-write"])
        page.goto(self.incident.get_absolute_url())
        expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)

        # The JSON-LD block is data: the browser reads it back as the headline, runs nothing.
        data = json.loads(page.locator('script[type="application/ld+json"]').text_content())
        self.assertEqual(data["headline"], HEADLINE)
        self.assertEqual(data["version"], "2")

        # The copy button appears (its static script ran) and copies the citation as shown.
        cite = page.locator("section.cite")
        text = cite.locator("#cite-txt").text_content()
        self.assertIn("(Incident 1, version 2).", text)
        button = cite.get_by_role("button", name="Copy the Text citation")
        expect(button).to_be_visible()
        button.click()
        expect(cite.locator(".copy-status").first).to_have_text("Copied.")
        self.assertEqual(page.evaluate("navigator.clipboard.readText()"), text)

        # The other formats open on demand; related incidents say why.
        cite.get_by_text("BibTeX", exact=True).click()
        expect(cite.locator("#cite-bib")).to_contain_text("@misc{incident1v2,")
        expect(page.locator("section.related")).to_contain_text("Same developer: Lens Corp")

        self.assertEqual(page.evaluate("window.__cspViolations"), [])

        # The permanent address of the first version keeps its text and points at the newer one.
        page.goto("/incidents/camera-flags-minority/v/1/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Camera system flags an ethnic minority")
        expect(page.locator(".newer-version")).to_contain_text("A newer version exists (version 2)")
        self.assertEqual(page.evaluate("window.__cspViolations"), [])
        page.get_by_role("link", name="read the current page").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(HEADLINE)

    def test_without_javascript_the_citation_is_still_there_to_copy(self):
        page = self.page(java_script_enabled=False)
        page.goto(self.incident.get_absolute_url())
        expect(page.locator("#cite-txt")).to_contain_text("(Incident 1, version 2).")
        expect(page.get_by_role("button", name="Copy the Text citation")).to_be_hidden()
        expect(page.get_by_role("link", name="Download incident-1-v2.txt")).to_be_visible()
        page.locator("section.cite summary", has_text="BibTeX").click()  # a native disclosure
        expect(page.get_by_role("link", name="Download incident-1-v2.bib")).to_be_visible()

    def test_the_incident_and_version_pages_have_no_accessibility_violations(self):
        if not os.path.isfile(AXE_CORE):
            self.fail(
                f"The accessibility checks need axe-core at {AXE_CORE} "
                "(npm install --prefix .make/axe axe-core, or set AXE_CORE=/path/to/axe.min.js)."
            )
        page = self.page(bypass_csp=True)  # lets axe-core's script in
        for url in (self.incident.get_absolute_url(), "/incidents/camera-flags-minority/v/1/"):
            with self.subTest(url=url):
                page.goto(url)
                page.add_script_tag(path=AXE_CORE)
                violations = page.evaluate(
                    """async () => (await axe.run(document, {
                        runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
                        resultTypes: ["violations"],
                    })).violations.map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(" ")).join(", ")})`)"""
                )
                self.assertEqual(violations, [], url)


class SearchInABrowserTests(BrowserTestCase):
    """The browse page with a search: the sort it shows and keeps, "Did you mean", and the
    editors' page of search synonyms, with no accessibility violations."""

    def setUp(self):
        super().setUp()
        # The shipped synonyms, which the end of the previous test emptied as every table.
        import_module("repository.migrations.0017_search_synonyms_and_words").add_synonyms(apps, None)
        publish("Camera system flags an ethnic minority", occurred="February 2021", narrative="Uyghur")
        publish("Camera maker's alerts", occurred="2020", narrative="Police cameras.")
        publish("Lens Corp cameras in schools", occurred="2022", entities={"developer": ["Lens Corp"]})

    def test_with_a_search_apply_keeps_the_relevance_sort(self):
        page = self.page()
        page.goto("/incidents/?q=camera")
        sort = page.get_by_label("Sort by")
        expect(sort).to_have_value("relevance")
        page.get_by_label("Type").select_option("incident")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**type=incident**")
        self.assertIn("sort=relevance", page.url)
        expect(page.get_by_label("Sort by")).to_have_value("relevance")

    def test_did_you_mean_leads_to_the_corrected_search(self):
        page = self.page()
        page.goto("/incidents/?q=camra+schools")
        offer = page.locator("p.did-you-mean")
        expect(offer).to_have_text("Did you mean camera schools? 1 incident")
        offer.get_by_role("link").click()
        expect(page.locator(".result-count")).to_contain_text("1 incident matching “camera schools”")

    def test_the_search_states_and_the_synonyms_page_have_no_accessibility_violations(self):
        if not os.path.isfile(AXE_CORE):
            self.fail(f"The accessibility checks need axe-core at {AXE_CORE}.")
        editor = get_user_model().objects.create_user("editor", password="unused")
        editor.user_permissions.add(
            Permission.objects.get(codename="moderate", content_type__app_label="submissions")
        )
        client = Client()
        client.force_login(editor)
        page = self.page(bypass_csp=True)  # lets axe-core's script in
        page.context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": self.live_server_url}]
        )
        for url in (
            "/incidents/?q=camra",
            "/incidents/?q=Uighur",
            "/moderation/search/synonyms/",
            "/moderation/search/synonyms/?error",
        ):
            with self.subTest(url=url):
                if url.endswith("?error"):  # the form sent with the same spelling twice
                    page.goto("/moderation/search/synonyms/")
                    page.get_by_label("Spelling", exact=True).fill("camera")
                    page.get_by_label("Searched together with").fill("Camera")
                    page.get_by_role("button", name="Search them together").click()
                    expect(page.locator(".error-summary")).to_be_visible()
                else:
                    page.goto(url)
                page.add_script_tag(path=AXE_CORE)
                violations = page.evaluate(
                    """async () => (await axe.run(document, {
                        runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
                        resultTypes: ["violations"],
                    })).violations.map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(" ")).join(", ")})`)"""
                )
                self.assertEqual(violations, [], url)
