"""End to end in a real browser: a contributor improves an incident page, an editor reviews
and approves the change, and the public page and its history show it.

Playwright drives Debian's Chromium (/usr/bin/chromium, or the CHROMIUM variable); `make test`
installs it when it is missing. Playwright's own browser downloads are never used. A missing
browser is a failure, not a skip. `pytest -m "not browser"` leaves this test out.
"""

import contextlib
import os
import re
import tempfile
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core.cache import cache
from django.test import override_settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

from repository.models import Incident, Term
from repository.services import term_merge
from repository.tests.base import publish
from submissions import services
from submissions.models import Submission
from submissions.tests.base import PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_CORE = os.environ.get(
    "AXE_CORE", str(Path(__file__).resolve().parents[2] / ".make/axe/node_modules/axe-core/axe.min.js")
)
TIMEOUT_MS = 15_000  # for each action and each expectation; generous for a slow CI machine

OLD_HEADLINE = "Camera system flags an ethnic minority to police"
NEW_HEADLINE = "Camera system flags Uyghurs to police in Xinjiang"
INSIGHT = "The company's own documentation names the Uyghur minority."


def _initial_vocabularies():
    """The starting vocabularies, which a data migration creates. A TransactionTestCase
    empties every table after each test, so a transactional test that ran before this one
    has removed them; get_or_create puts back any that are missing."""
    import_module("repository.migrations.0002_vocabularies_and_search_index").create_vocabularies(apps, None)


# A fast hasher: the editor's password is hashed once and checked once, each a second otherwise.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
class ImproveReviewPublishTests(StaticLiveServerTestCase):
    """A threaded live server; the test's rows are committed so that its threads see them."""

    @classmethod
    def setUpClass(cls):
        # Playwright's sync API runs an event loop in this thread, and Django refuses database
        # calls from a thread with a running loop unless told otherwise (as its docs advise).
        previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        cls.addClassCleanup(cls._restore_environ, previous)
        super().setUpClass()
        expect.set_options(timeout=TIMEOUT_MS)
        cls.browser, cls.browser_problem = None, ""
        if not os.access(CHROMIUM, os.X_OK):
            # Reported by each test as its failure (a skip would hide it).
            cls.browser_problem = (
                f"The browser tests need Debian's Chromium at {CHROMIUM}, and it is missing. "
                "`make test` installs it; by hand: apt-get install -y chromium "
                '(or set CHROMIUM=/path/to/chromium, or leave these tests out with -m "not browser").'
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

    @staticmethod
    def _restore_environ(previous):
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

    def setUp(self):
        if self.browser_problem:
            self.fail(self.browser_problem)
        cache.clear()  # rate-limit counters
        _initial_vocabularies()
        services.editor_create(username="edith", email="edith@example.org", password=PASSWORD)
        self.incident = publish(
            OLD_HEADLINE,
            slug="camera-flags-minority",
            occurred="February 2021",
            summary="A camera maker's software alerted police.",
            narrative="What happened, in brief.",
            entities={"deployer": ["Acme Retail"], "developer": ["Lens Corp"]},
            terms={"country": ["China"], "technology": ["Facial recognition"]},
            references={"news": [{"url": "https://news.example.org/a", "title": "Paper reports the alerts"}]},
        )
        # Another incident, so that "Hong Kong" is a country term the taxonomy knows.
        publish(
            "Police trial facial recognition at a border crossing",
            occurred="2023",
            terms={"country": ["Hong Kong"]},
        )
        self.pages = {}

    def page(self, who, **options):
        """A page in a browser context of its own (its own cookies): one per person.
        `bypass_csp=True` lets axe-core's script in (the site's policy forbids inline scripts)."""
        context = self.browser.new_context(base_url=self.live_server_url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        self.addCleanup(context.close)
        self.pages[who] = context.new_page()
        return self.pages[who]

    @contextlib.contextmanager
    def screenshots_on_failure(self):
        """On a failure, a screenshot of each person's page, named in the error."""
        try:
            yield
        except Exception as exc:
            folder = Path(tempfile.gettempdir())
            for who, page in self.pages.items():
                path = folder / f"airepo-browser-{self._testMethodName}-{who}.png"
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(path=path, full_page=True)
                    exc.add_note(f"{who}'s page ({page.url}): {path}")
            raise

    def test_an_improvement_is_published_only_once_an_editor_approves_it(self):
        with self.screenshots_on_failure():
            self.check_improve_review_publish()

    def check_improve_review_publish(self):
        incident_url = self.incident.get_absolute_url()

        # A contributor, without an account, proposes a better headline and a country.
        contributor = self.page("contributor")
        contributor.goto(incident_url)
        contributor.get_by_role("link", name="Can you improve this page?").click()
        expect(contributor.get_by_role("heading", level=1)).to_have_text("Can you improve this page?")
        form = contributor.locator("main form")
        expect(form.get_by_label("Headline")).to_have_value(OLD_HEADLINE)
        form.get_by_label("Headline").fill(NEW_HEADLINE)
        expect(form.get_by_label("Country", exact=True)).to_have_value("China")
        form.get_by_label("Country 2", exact=True).fill("Hong Kong")
        form.get_by_label("Your insight").fill(INSIGHT)
        form.get_by_label("Name", exact=True).fill("Rita")
        form.get_by_label("Credit me publicly by name").check()
        form.get_by_role("button", name="Send for review").click()

        # The confirmation: a private link to follow the proposal, which waits for review.
        expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))
        expect(contributor.get_by_role("heading", level=1)).to_contain_text(
            "your proposal is with the editors"
        )
        status_url = contributor.url.removesuffix("?sent=1")
        expect(contributor.get_by_label("Your private link to this page")).to_have_value(status_url)
        expect(contributor.get_by_role("button", name="Copy the link")).to_be_visible()  # its script ran
        expect(contributor.locator("dl.status")).to_contain_text("Pending review")

        # Nothing is public yet.
        contributor.goto(incident_url)
        expect(contributor.get_by_role("heading", level=1)).to_have_text(OLD_HEADLINE)
        expect(contributor.get_by_text(NEW_HEADLINE)).to_have_count(0)
        expect(contributor.locator(".classification")).not_to_contain_text("Hong Kong")

        # An editor signs in (the login form, not the header's search form) and sees one waiting.
        editor = self.page("editor")
        editor.goto("/accounts/login/")
        login = editor.locator("main form")
        login.get_by_label("Username").fill("edith")
        login.get_by_label("Password").fill(PASSWORD)
        login.get_by_role("button", name="Sign in").click()
        expect(editor.get_by_role("heading", level=1)).to_have_text("Moderation queue")
        pending = editor.get_by_role("navigation", name="Main").locator(".badge")
        expect(pending).to_have_text("1")

        # The review page shows the insight and the change, field by field.
        editor.locator("table.queue").get_by_role("link", name=OLD_HEADLINE).click()
        expect(editor.get_by_role("heading", level=1)).to_contain_text(OLD_HEADLINE)
        expect(editor.locator("blockquote")).to_contain_text(INSIGHT)
        changes = editor.locator("table.diff-table")
        headline = changes.locator("tr", has=editor.get_by_role("rowheader", name="Headline"))
        expect(headline.locator("td.old")).to_have_text(OLD_HEADLINE)
        expect(headline.locator("td.new")).to_have_text(NEW_HEADLINE)
        country = changes.locator("tr", has=editor.get_by_role("rowheader", name="Country"))
        expect(country.locator("td.new ins")).to_have_text("Hong Kong")

        # The editor claims it, then approves it.
        editor.get_by_role("button", name="Claim it").click()
        expect(editor.locator(".messages")).to_contain_text("Claimed.")
        expect(editor.locator(".notice.claim")).to_contain_text("You claimed this")
        editor.get_by_label("Note for the history (optional)").fill("Checked against the maker's documents.")
        editor.get_by_role("button", name="Approve as proposed").click()
        expect(editor.locator(".messages")).to_contain_text("Approved and published.")
        # Nothing else waits: the editor is back on the queue, told so.
        expect(editor.get_by_role("heading", level=1)).to_have_text("Moderation queue")
        expect(editor.locator(".messages")).to_contain_text("Nothing else waits in this view of the queue.")
        expect(pending).to_have_text("0")
        editor.get_by_role("link", name="Approved").first.click()
        editor.locator("table.queue").get_by_role("link", name=NEW_HEADLINE).click()
        expect(editor.locator("main .state").first).to_have_text("Approved")
        expect(editor.get_by_role("link", name="revision 2")).to_be_visible()

        # Anyone now sees the new headline, and the change in the page's history.
        visitor = self.page("visitor")
        visitor.goto(incident_url)
        expect(visitor.get_by_role("heading", level=1)).to_have_text(NEW_HEADLINE)
        expect(visitor.locator(".classification")).to_contain_text("Hong Kong")
        visitor.get_by_role("link", name="History of this page").click()
        expect(visitor).to_have_url(re.compile(rf"{re.escape(incident_url)}history/$"))
        revision = visitor.locator("#revision-2")
        expect(revision.get_by_role("heading", level=2)).to_contain_text("Revision 2")
        expect(revision.locator(".meta")).to_contain_text("Contributed by Rita")
        expect(revision.locator(".meta")).to_contain_text(
            "“Checked against the maker's documents”: Changed Headline, Country"
        )
        headline = revision.locator("tr", has=visitor.get_by_role("rowheader", name="Headline"))
        expect(headline.locator("td.old")).to_have_text(OLD_HEADLINE)
        expect(headline.locator("td.new")).to_have_text(NEW_HEADLINE)
        expect(visitor.locator("#revision-1")).to_be_visible()
        expect(visitor.get_by_role("button", name=re.compile("Revert"))).to_have_count(0)

        # The contributor's private page says it was approved and links to the change.
        contributor.goto(status_url)
        expect(contributor.locator("dl.status")).to_contain_text("Approved")
        contributor.get_by_role("link", name="See the published change").click()
        expect(contributor).to_have_url(re.compile(rf"{re.escape(incident_url)}history/#revision-2$"))
        expect(contributor.locator("#revision-2")).to_contain_text(NEW_HEADLINE)

    def sign_in_editor(self, page):
        page.goto("/accounts/login/")
        login = page.locator("main form")
        login.get_by_label("Username").fill("edith")
        login.get_by_label("Password").fill(PASSWORD)
        login.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Moderation queue")

    def assert_accessible(self, page):
        """axe-core finds no violation on the page (WCAG 2.1 A and AA, and best practices)."""
        self.assertEqual(self.axe_violations(page), [], f"axe-core on {page.url}")

    def test_an_editor_merges_two_terms_and_the_old_term_page_redirects(self):
        with self.screenshots_on_failure():
            publish("A misspelt country", occurred="2024", terms={"country": ["Hong Kongg"]})
            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            editor.get_by_role("link", name="Taxonomy").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text("Taxonomy")
            self.assert_accessible(editor)
            editor.locator("tr", has_text="Country").get_by_role("link", name="Variants").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text("Probable variants to merge")
            self.assert_accessible(editor)
            editor.get_by_role("button", name="“Hong Kongg” into “Hong Kong” (1 incident)").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text("Merge a term")
            expect(editor.locator("main")).to_contain_text("1 incident will get a new revision")
            touched = editor.get_by_role("table", name="The incidents it changes")
            expect(touched.locator("tbody tr")).to_have_count(1)
            expect(touched).to_contain_text("A misspelt country")
            expect(touched).to_contain_text("Country: “Hong Kongg” becomes “Hong Kong”")
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Confirm").click()
            expect(editor.locator(".messages")).to_contain_text("Done. 1 incident(s) got a new revision.")
            expect(editor.get_by_role("heading", level=1)).to_have_text("Hong Kong")
            self.assert_accessible(editor)

            # The undo is confirmed too, from a page listing the incident it publishes back.
            editor.goto("/moderation/taxonomy/log/")
            editor.get_by_role("link", name="Undo: Country: “Hong Kongg” merged into “Hong Kong”").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text("Undo a change")
            touched = editor.get_by_role("table", name="The incidents it changed")
            expect(touched).to_contain_text("A misspelt country")
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Confirm the undo").click()
            expect(editor.locator(".messages")).to_contain_text("Undone. 1 incident(s) got a new revision.")
            visitor = self.page("visitor")
            visitor.goto("/taxonomy/country/hong-kongg/")
            expect(visitor.get_by_role("heading", level=1)).to_have_text("Hong Kongg")
            # Merged again, for what follows.
            term_merge(
                term=Term.objects.get(name="Hong Kongg"),
                into=Term.objects.get(name="Hong Kong"),
                editor=get_user_model().objects.get(username="edith"),
            )

            visitor.goto("/taxonomy/country/hong-kongg/")
            expect(visitor).to_have_url(re.compile(r"/taxonomy/country/hong-kong/$"))
            expect(visitor.get_by_role("heading", level=1)).to_have_text("Hong Kong")
            expect(visitor.locator("main")).to_contain_text("A misspelt country")

    def test_an_editor_confirms_a_merge_of_two_incidents_and_undoes_it(self):
        with self.screenshots_on_failure():
            twin = publish(
                "Camera system flags a minority to police",
                slug="camera-twin",
                occurred="2021",
                references={"news": [{"url": "https://other.example.org/b", "title": "Twin's report"}]},
            )
            pair = Submission.objects.create(
                kind=Submission.Kind.MERGE, incident=self.incident, other_incident=twin, proposed={}
            )
            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            editor.goto(f"/moderation/{pair.pk}/")
            editor.get_by_role("button", name="Merge the two incidents…").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text(
                f"Merge #{twin.number} into #{self.incident.number}"
            )
            main = editor.locator("main")
            expect(main).to_contain_text(OLD_HEADLINE)
            expect(main).to_contain_text("the default: it is the older of the two")
            expect(main).to_contain_text("Twin's report")
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Confirm the merge").click()
            expect(editor.locator(".messages")).to_contain_text(
                "Merged: the incident you kept carries both now"
            )
            self.assertEqual(Incident.objects.get(pk=twin.pk).merged_into_id, self.incident.pk)

            editor.goto(f"/moderation/{pair.pk}/")
            editor.get_by_role("link", name="Undo this merge…").click()
            expect(editor.get_by_role("heading", level=1)).to_have_text("Undo a merge")
            expect(editor.locator("main")).to_contain_text("Camera system flags a minority to police")
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Confirm the undo").click()
            expect(editor.locator(".messages")).to_contain_text("Merge undone")
            visitor = self.page("visitor")
            visitor.goto("/incidents/camera-twin/")
            expect(visitor.get_by_role("heading", level=1)).to_have_text(
                "Camera system flags a minority to police"
            )
            expect(visitor.locator("main")).to_contain_text("Twin's report")

    def test_reader_and_review_pages_have_no_accessibility_violations(self):
        with self.screenshots_on_failure():
            # An undated incident with grouped vocabularies (harms), for the facets and charts.
            publish(
                "Police database profiles protesters",
                terms={
                    "sector": ["Govt - police"],
                    "issue": ["Privacy"],
                    "harm-individual": ["Privacy loss"],
                },
            )
            reader = self.page("reader", bypass_csp=True)
            pages = {
                "/": "Incidents and controversies driven by AI, algorithms and automation",
                "/incidents/": "Incidents",
                "/incidents/?country=china&technology=facial-recognition": "Incidents",
                self.incident.get_absolute_url(): OLD_HEADLINE,
                "/stats/": "Charts",
                "/stats/?country=china": "Charts of selected incidents",
                f"/incidents/{self.incident.slug}/improve/": "Can you improve this page?",
            }
            self.maxDiff = None
            found = {}  # every page's violations, so that a failure names them all
            for url, heading in pages.items():
                reader.goto(url)
                expect(reader.get_by_role("heading", level=1)).to_have_text(heading)
                found[url] = self.axe_violations(reader)
            self.assertEqual(found, {url: [] for url in pages})

            # The charts are images with a name, each with its table.
            reader.goto("/stats/")
            expect(
                reader.get_by_role("img", name=re.compile(r"^Incidents per year, 2021 to 2023"))
            ).to_be_visible()
            years = reader.get_by_role("table", name="Incidents per year: the numbers")
            expect(years.get_by_role("row", name="2023 1")).to_be_visible()
            expect(reader.get_by_role("link", name="Download incidents per year (CSV)")).to_be_visible()

            services.submission_create(
                kind="improvement",
                incident=self.incident,
                proposed={**self.incident.current_revision.document, "headline": NEW_HEADLINE},
                insight=INSIGHT,
            )
            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            editor.locator("table.queue").get_by_role("link", name=OLD_HEADLINE).click()
            expect(editor.locator("table.diff-table")).to_be_visible()
            self.assert_accessible(editor)

    def axe_violations(self, page):
        """axe-core's violations on the page as it is (its script injected past the CSP)."""
        if not os.path.isfile(AXE_CORE):
            self.fail(
                f"The accessibility checks need axe-core at {AXE_CORE}, and it is missing. `make test` "
                "installs it (npm install --prefix .make/axe axe-core), or set AXE_CORE=/path/to/axe.min.js."
            )
        page.add_script_tag(path=AXE_CORE)
        return page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
                resultTypes: ["violations"],
            })).violations.map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(" ")).join(", ")})`)"""
        )

    def test_an_invalid_form_lands_on_its_error_summary(self):
        with self.screenshots_on_failure():
            contributor = self.page("contributor")
            contributor.goto(f"/incidents/{self.incident.slug}/improve/")
            form = contributor.locator("main form").last
            form.get_by_label("Headline").fill("")
            form.get_by_label("Occurred").fill("someday")
            form.get_by_role("button", name="Send for review").click()

            expect(contributor).to_have_title(re.compile(r"^Error: Improve: "))
            summary = contributor.get_by_role("alert")
            expect(summary).to_be_focused()
            expect(summary.get_by_role("heading")).to_have_text("There are problems with what you sent")
            headline = contributor.locator("#id_headline")
            expect(headline).to_have_attribute("aria-invalid", "true")
            expect(contributor.locator("#id_headline_error")).to_contain_text("This field is required.")
            summary.get_by_role("link", name=re.compile("^Occurred")).click()
            expect(contributor.locator("#id_occurred")).to_be_focused()

    def test_an_invalid_full_improve_form_lands_with_its_summary_in_view_at_two_widths(self):
        """Reached by the "change anything else" link (a #full-form address), the full form
        with a classification error and a bad email comes back with its focused summary on
        screen, each message linking to its field, and what was typed kept."""
        for width, height in ((1280, 900), (390, 844)):
            with self.subTest(width=width), self.screenshots_on_failure():
                contributor = self.page(f"contributor-{width}", viewport={"width": width, "height": height})
                contributor.goto(f"/incidents/{self.incident.slug}/improve/")
                contributor.get_by_role("link", name="Or change anything else on the page").click()
                expect(contributor).to_have_url(re.compile(r"#full-form$"))
                technology = contributor.locator("#id_terms_technology")
                technology.fill("Facial recognition; Gait recognition")
                contributor.locator("#id_email").fill("not-an-email")
                contributor.locator("#id_name").fill("Ada")
                contributor.get_by_role("button", name="Send for review").click()

                expect(contributor).to_have_title(re.compile(r"^Error: Improve: "))
                expect(contributor).to_have_url(re.compile(r"/improve/$"))  # no fragment to scroll past
                summary = contributor.get_by_role("alert")
                expect(summary).to_be_focused()
                expect(summary).to_be_in_viewport()
                expect(summary.get_by_role("link")).to_have_count(2)
                expect(summary.get_by_role("link", name=re.compile("Gait recognition"))).to_have_attribute(
                    "href", "#id_terms_technology"
                )
                expect(technology).to_have_value("Facial recognition; Gait recognition")
                expect(contributor.locator("#id_email")).to_have_value("not-an-email")
                expect(contributor.locator("#id_name")).to_have_value("Ada")
                summary.get_by_role("link", name=re.compile("^Email")).click()
                expect(contributor.locator("#id_email")).to_be_focused()
                expect(contributor.locator("#id_email")).to_be_in_viewport()
                summary.get_by_role("link", name=re.compile("Gait recognition")).click()
                expect(technology).to_be_focused()
                expect(technology).to_be_in_viewport()

    def test_the_improve_form_with_errors_has_no_accessibility_violations(self):
        with self.screenshots_on_failure():
            checker = self.page("checker", bypass_csp=True)
            checker.goto(f"/incidents/{self.incident.slug}/improve/")
            form = checker.locator("main form").last
            form.get_by_label("Headline").fill("")
            form.get_by_role("button", name="Send for review").click()
            expect(checker.get_by_role("alert")).to_be_visible()
            self.assertEqual(self.axe_violations(checker), [])
            # The check can fail: a field without a label is reported.
            checker.evaluate(
                """document.querySelector("main form").insertAdjacentHTML("beforeend", "<input type=text>")"""
            )
            self.assertTrue(any(v.startswith("label:") for v in self.axe_violations(checker)))

    def test_a_source_is_added_in_one_step(self):
        with self.screenshots_on_failure():
            contributor = self.page("contributor")
            contributor.goto(f"/incidents/{self.incident.slug}/improve/")
            source = contributor.locator(".add-source")
            source.get_by_label("Web address").fill("https://research.example.org/audit")
            source.get_by_label("Section").select_option(label="Research, advocacy")
            source.get_by_label("Note (optional)").fill("An audit of the alerts.")
            source.get_by_role("button", name="Send the source for review").click()

            expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))
            changes = contributor.locator("table.diff-table")
            research = changes.locator(
                "tr", has=contributor.get_by_role("rowheader", name=re.compile("Research"))
            )
            expect(research.locator("td.new ins")).to_have_text("https://research.example.org/audit")
            expect(changes.locator("tr")).to_have_count(2)  # the header and that one row

    def test_an_editor_asks_for_changes_the_contributor_revises_and_the_editor_approves(self):
        with self.screenshots_on_failure():
            submission = services.submission_create(
                kind="improvement",
                incident=self.incident,
                proposed={**self.incident.current_revision.document, "headline": "Cameras flag uyghurs"},
                insight=INSIGHT,
                email="rita@example.org",
            )
            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            self.assert_accessible(editor)  # the queue
            editor.locator("table.queue").get_by_role("link", name=OLD_HEADLINE).click()
            editor.get_by_label("What should change").fill("Please write Uyghurs with a capital U.")
            editor.get_by_role("button", name="Ask the contributor for changes").click()
            expect(editor.locator(".messages")).to_contain_text("Sent back to the contributor for changes.")
            expect(editor.get_by_role("heading", level=1)).to_have_text("Moderation queue")

            # The contributor reads the note on the status page, revises and sends it again.
            contributor = self.page("contributor")
            contributor.goto(submission.get_status_url())
            expect(contributor.locator("#changes-asked")).to_contain_text(
                "Please write Uyghurs with a capital U."
            )
            contributor.get_by_label("Headline").fill(NEW_HEADLINE)
            contributor.get_by_role("button", name="Send the revision").click()
            expect(contributor.locator(".messages")).to_contain_text(
                "your revision is with the editors again"
            )

            # The editor sees what changed between the versions, and approves.
            editor.reload()
            editor.locator("table.queue").get_by_role("link", name=OLD_HEADLINE).click()
            expect(editor.get_by_role("heading", name="Revised: version 2")).to_be_visible()
            versions = editor.locator("table.versions")
            expect(versions).to_contain_text("Cameras flag uyghurs")
            expect(versions).to_contain_text(NEW_HEADLINE)
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")

            visitor = self.page("visitor")
            visitor.goto(self.incident.get_absolute_url())
            expect(visitor.get_by_role("heading", level=1)).to_have_text(NEW_HEADLINE)

    def assert_no_sideways_scrolling(self, page):
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        self.assertLessEqual(widths[0], widths[1], f"{page.url} scrolls sideways at {widths[1]} px")

    def test_on_a_phone_results_come_first_and_no_page_scrolls_sideways(self):
        with self.screenshots_on_failure():
            vocabularies = ["sector", "purpose", "technology", "issue", "transparency", "harm-individual"]
            for n in range(6):
                publish(
                    f"Police camera number {n} misreads faces at a station",
                    occurred=f"{2015 + n}",
                    summary="A very-long-compound-word-that-would-push-a-narrow-page-sideways-if-unbroken "
                    "and https://example.org/a/very/long/address/that/goes/on/and/on/for/ever.",
                    terms={name: [f"{name} value {n}", f"{name} other {n % 2}"] for name in vocabularies},
                    entities={"deployer": [f"Police force {n}"], "developer": ["Lens Corp"]},
                )
            submission = services.submission_create(
                kind="improvement",
                incident=self.incident,
                proposed={
                    **self.incident.current_revision.document,
                    "headline": "Cameras flag an ethnic minority to police: "
                    "https://example.org/a/very/long/address/without/any/spaces/at/all",
                },
                insight=INSIGHT,
            )
            phone = self.page("phone", viewport={"width": 390, "height": 844})
            phone.goto("/incidents/?q=police+camera&sector=sector-other-0")
            filters = phone.locator("details.filters-fold > summary")
            expect(filters).to_have_text("Filters (2 active)")
            search = phone.get_by_role("searchbox", name="Search", exact=True)
            expect(search).to_be_hidden()  # folded away
            first = phone.locator(".incident-row").first
            expect(first).to_contain_text("Police camera")
            expect(first).to_be_in_viewport(ratio=1)
            self.assertEqual(phone.evaluate("window.scrollY"), 0)
            self.assert_no_sideways_scrolling(phone)
            filters.click()
            expect(search).to_be_visible()
            expect(search).to_have_value("police camera")
            self.assert_no_sideways_scrolling(phone)

            for path in (self.incident.get_absolute_url(), f"/incidents/{self.incident.slug}/improve/"):
                phone.goto(path)
                expect(phone.get_by_role("heading", level=1)).to_be_visible()
                self.assert_no_sideways_scrolling(phone)
            self.sign_in_editor(phone)  # lands on the queue
            self.assert_no_sideways_scrolling(phone)
            phone.goto(submission.get_absolute_url())
            expect(phone.get_by_role("button", name="Claim it")).to_be_visible()
            self.assert_no_sideways_scrolling(phone)

            # On a wide screen the filters stand open beside the results.
            desk = self.page("desk", viewport={"width": 1280, "height": 900})
            desk.goto("/incidents/?q=police+camera")
            checker = self.page("checker", bypass_csp=True, viewport={"width": 390, "height": 844})
            for path in ("/incidents/?q=police+camera", "/incidents/?q=police+zebra"):
                checker.goto(path)
                self.assert_accessible(checker)
            expect(desk.get_by_role("searchbox", name="Search", exact=True)).to_be_visible()
            expect(desk.locator("details.filters-fold > summary")).to_be_hidden()
            expect(desk.locator(".incident-row .headline mark", has_text="Police").first).to_be_visible()

    # Proposals that land clean -----------------------------------------------------------

    def test_a_report_naming_an_organisation_by_an_alias_is_confirmed_without_javascript(self):
        from repository import documents
        from repository.models import Entity, EntityAlias, Incident

        lens = Entity.objects.get(name="Lens Corp")
        EntityAlias.objects.create(
            entity=lens, name="LensCorp International", key=documents.fold("LensCorp International")
        )
        entities_before = Entity.objects.count()
        with self.screenshots_on_failure():
            contributor = self.page("contributor", java_script_enabled=False)
            contributor.goto("/submit/")
            form = contributor.locator("main form")
            form.get_by_label("Headline").fill("Camera system flags minority to police")
            form.get_by_label("Occurred").fill("February 2021")
            form.get_by_label("What happened").fill("The cameras alerted police.")
            form.get_by_label("Deployer", exact=True).fill("Acme Retail")
            form.get_by_label("Developer", exact=True).fill("LensCorp International")
            form.get_by_label("Sources").fill("https://news.example.org/report")
            form.get_by_role("button", name="Continue").click()

            # The server asks before it respells the name.
            expect(contributor.get_by_role("heading", level=1)).to_have_text("Did you mean these?")
            question = contributor.get_by_role(
                "group", name="Developer: “LensCorp International” → Lens Corp?"
            )
            expect(question.get_by_label("Yes, Lens Corp")).to_be_checked()
            expect(question.get_by_label("No, keep “LensCorp International” as written")).not_to_be_checked()
            contributor.get_by_role("button", name="Continue").click()

            contributor.get_by_label(f"Mine is this one: {OLD_HEADLINE}").check()
            contributor.get_by_role("button", name="Send for review").click()
            expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))

            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            editor.locator("table.queue").get_by_role("link", name=re.compile(OLD_HEADLINE)).click()
            expect(editor.locator('input[name="confirm_new"]')).to_have_count(0)
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")

        self.assertEqual(Entity.objects.count(), entities_before)
        incident = Incident.objects.get(pk=self.incident.pk)
        self.assertEqual(incident.current_revision.document["entities"]["developer"], ["Lens Corp"])
        self.assertEqual(incident.type, self.incident.type)  # approving did not set it

    # Classification by choosing ----------------------------------------------------------

    def test_a_term_picked_from_the_suggestions_is_accepted_and_an_unknown_one_proposed_in_one_step(self):
        with self.screenshots_on_failure():
            contributor = self.page("contributor", bypass_csp=True)
            improve_url = f"/incidents/{self.incident.slug}/improve/"
            contributor.goto(improve_url)
            form = contributor.locator("main form").last

            # The country's second box suggests the vocabulary's terms; a known one needs nothing more.
            country = form.get_by_label("Country 2", exact=True)
            suggested = country.evaluate("input => Array.from(input.list.options, option => option.value)")
            self.assertIn("Hong Kong", suggested)
            country.fill("Hong Kong")
            expect(form.get_by_label("Propose “Hong Kong” as a new Country term")).to_be_hidden()

            # "Add another" adds a box in place (nothing is sent), focused.
            form.get_by_role("button", name="Add another Technology").click()
            third = form.get_by_label("Technology 3", exact=True)
            expect(third).to_be_focused()
            expect(contributor).to_have_url(re.compile(rf"{re.escape(improve_url)}$"))

            # A term the vocabulary lacks offers "propose it as a new term" at once.
            third.fill("Gait recognition")
            propose = form.get_by_label("Propose “Gait recognition” as a new Technology term")
            expect(propose).to_be_visible()
            self.assertEqual(self.axe_violations(contributor), [])  # suggestions and the offer shown
            propose.check()
            form.get_by_label("Your insight").fill("The cameras also read gait.")
            # Enter in a text box sends the form (it does not press the first "Add another").
            form.get_by_label("Name", exact=True).fill("Ada")
            form.get_by_label("Name", exact=True).press("Enter")
            expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))

        proposed = Submission.objects.get().proposed
        self.assertEqual(proposed["terms"]["country"], ["China", "Hong Kong"])
        self.assertEqual(proposed["terms"]["technology"], ["Facial recognition", "Gait recognition"])

    def test_organisations_are_suggested_as_one_types_and_a_name_by_an_alias_is_confirmed(self):
        from repository import documents
        from repository.models import Entity, EntityAlias

        publish("Cameras flag a minority", entities={"developer": ["Zhejiang Dahua Technology"]})
        dahua = Entity.objects.get(name="Zhejiang Dahua Technology")
        EntityAlias.objects.create(entity=dahua, name="Dahua", key=documents.fold("Dahua"))
        with self.screenshots_on_failure():
            contributor = self.page("contributor", bypass_csp=True)
            contributor.goto(f"/incidents/{self.incident.slug}/improve/")
            form = contributor.locator("main form").last
            deployer = form.get_by_label("Deployers 2", exact=True)
            deployer.press_sequentially("Dahu")
            options = contributor.locator("#names_organisation_options option")
            expect(options).to_have_count(1)
            expect(options.first).to_have_attribute("value", "Zhejiang Dahua Technology")
            expect(options.first).to_have_attribute("label", "Dahua")
            self.assertEqual(self.axe_violations(contributor), [])

            # Typed as the alias and sent: the server asks first.
            deployer.fill("Dahua")
            form.get_by_role("button", name="Send for review").click()
            expect(contributor.get_by_role("heading", level=1)).to_have_text("Did you mean these?")
            question = contributor.get_by_role(
                "group", name="Deployers: “Dahua” → Zhejiang Dahua Technology?"
            )
            expect(question.get_by_label("Yes, Zhejiang Dahua Technology")).to_be_checked()
            self.assertEqual(self.axe_violations(contributor), [])  # the confirmation step
            contributor.get_by_role("button", name="Send for review").click()
            expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))

        self.assertEqual(
            Submission.objects.get().proposed["entities"]["deployer"],
            ["Acme Retail", "Zhejiang Dahua Technology"],
        )

    def test_two_proposals_on_different_fields_are_both_approved_as_proposed(self):
        from submissions.models import Submission

        document = self.incident.current_revision.document
        for changes in ({"narrative": "The alerts named the minority."}, {"headline": NEW_HEADLINE}):
            services.submission_create(
                kind=Submission.Kind.IMPROVEMENT, incident=self.incident, proposed={**document, **changes}
            )
        with self.screenshots_on_failure():
            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            editor.locator("table.queue").get_by_role("link", name=re.compile(OLD_HEADLINE)).first.click()
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")
            # On to the second, made against the revision before: merged, no choice to make.
            expect(editor.locator(".three-way-merge h2")).to_contain_text("merged, no conflict")
            expect(editor.locator('input[type="radio"][name^="choice_"]')).to_have_count(0)
            self.assert_accessible(editor)
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")

            visitor = self.page("visitor")
            visitor.goto(self.incident.get_absolute_url())
            expect(visitor.get_by_role("heading", level=1)).to_have_text(NEW_HEADLINE)
            expect(visitor.locator("main")).to_contain_text("The alerts named the minority.")
            visitor.get_by_role("link", name="History of this page").click()
            expect(visitor.locator("#revision-3")).to_be_visible()

    def test_the_same_source_in_two_spellings_is_published_once(self):
        from repository.models import Reference

        spellings = [
            "https://www.latimes.com/business/story/camera-alerts",
            "http://latimes.com/business/story/camera-alerts/?utm_source=x",
        ]
        with self.screenshots_on_failure():
            for n, url in enumerate(spellings):
                contributor = self.page(f"contributor-{n}")
                contributor.goto(f"/incidents/{self.incident.slug}/improve/")
                source = contributor.locator(".add-source")
                source.get_by_label("Web address").fill(url)
                source.get_by_role("button", name="Send the source for review").click()
                expect(contributor).to_have_url(re.compile(r"/submissions/[\w-]+/\?sent=1$"))
            expect(contributor.locator(".sources-known")).to_contain_text("someone else proposed it too")

            editor = self.page("editor", bypass_csp=True)
            self.sign_in_editor(editor)
            expect(editor.locator(".lookalike").first).to_contain_text("2 proposals add the same source")
            expect(editor.locator("td.effect").first).to_have_text("Adds 1 source")
            self.assert_accessible(editor)
            editor.locator("table.queue").get_by_role("link", name=re.compile(OLD_HEADLINE)).first.click()
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")
            # On to the second: it adds nothing the page lacks now, and merges without a choice.
            expect(editor.locator(".three-way-merge h2")).to_contain_text("merged, no conflict")
            editor.get_by_role("button", name="Approve as proposed").click()
            expect(editor.locator(".messages")).to_contain_text("Approved and published.")

            visitor = self.page("visitor")
            visitor.goto(self.incident.get_absolute_url())
            expect(visitor.locator("main a[href*='latimes.com']")).to_have_count(1)
        self.assertEqual(
            list(
                Reference.objects.filter(incident=self.incident, url__contains="latimes").values_list(
                    "url", flat=True
                )
            ),
            [spellings[0]],
        )
