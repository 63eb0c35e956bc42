"""Classification by choosing: a box per value, the vocabulary's spellings suggested, an
unknown term proposed beside its box, organisations and systems looked up as one types, and
names the repository spells otherwise confirmed before anything is sent."""

from django.core.cache import cache
from django.test import override_settings

from repository import documents
from repository.models import Entity, EntityAlias, Term, TermAlias, Vocabulary
from repository.tests.base import publish
from submissions import suggestions
from submissions.models import Submission
from submissions.tests.base import SubmissionsTestCase, form_data
from submissions.tests.html import Page

IMPROVE = "/incidents/camera-flags-minority/improve/"
LOOKUP = "/lookup/names/"


def entity_alias(entity_name, spelling, kind=Entity.Kind.ORGANISATION):
    entity = Entity.objects.filter(name=entity_name, kind=kind).first()
    if entity is None:
        entity = Entity.objects.create(name=entity_name, slug=documents.fold(entity_name)[:200], kind=kind)
        EntityAlias.objects.create(entity=entity, name=entity_name, key=documents.fold(entity_name))
    if spelling != entity_name:
        EntityAlias.objects.create(entity=entity, name=spelling, key=documents.fold(spelling))
    return entity


def term_alias(vocabulary_slug, term_name, spelling):
    term = Term.objects.get(vocabulary__slug=vocabulary_slug, name=term_name)
    TermAlias.objects.create(
        term=term, vocabulary=term.vocabulary, name=spelling, key=documents.fold(spelling)
    )


def grow_taxonomy(terms_per_vocabulary=40, entities=300):
    """Many terms (each with an alias) in every vocabulary, and many organisations and systems."""
    new_terms, new_term_aliases = [], []
    for vocabulary in Vocabulary.objects.all():
        for n in range(terms_per_vocabulary):
            new_terms.append(Term(vocabulary=vocabulary, name=f"Bulk term {n}", slug=f"bulk-term-{n}"))
    Term.objects.bulk_create(new_terms)
    for term in new_terms:
        for spelling in (term.name, f"{term.name} (variant)"):
            new_term_aliases.append(
                TermAlias(term=term, vocabulary=term.vocabulary, name=spelling, key=documents.fold(spelling))
            )
    TermAlias.objects.bulk_create(new_term_aliases)
    new_entities = [
        Entity(
            name=f"Bulk company {n}",
            slug=f"bulk-company-{n}",
            kind=Entity.Kind.SYSTEM if n % 3 == 0 else Entity.Kind.ORGANISATION,
        )
        for n in range(entities)
    ]
    Entity.objects.bulk_create(new_entities)
    EntityAlias.objects.bulk_create(
        EntityAlias(entity=entity, name=entity.name, key=documents.fold(entity.name))
        for entity in new_entities
    )


class BoxesAndSuggestionsTests(SubmissionsTestCase):
    def improve_data(self, **changes):
        form = self.client.get(IMPROVE).context["form"]
        return {**form_data(form), **changes}

    def test_each_term_box_suggests_its_vocabularys_terms_and_their_other_spellings(self):
        term_alias("technology", "Facial recognition", "FRT")
        page = Page(self.client.get(IMPROVE).content.decode())
        [(_, first)] = page.find(id="id_terms_technology")
        self.assertEqual(
            first["list"], "id_terms_technology_options" if False else "terms_technology_options"
        )
        response = self.client.get(IMPROVE)
        self.assertContains(
            response,
            '<datalist id="terms_technology_options"><option value="Facial recognition">'
            '<option value="Facial recognition" label="FRT"></datalist>',
        )
        # Each box of the vocabulary uses the same list; other vocabularies have their own.
        for _, box in page.find(name="terms_technology"):
            self.assertEqual(box["list"], "terms_technology_options")
        self.assertContains(
            response, '<datalist id="terms_country_options"><option value="China"></datalist>'
        )

    def test_suggestions_are_escaped(self):
        term_alias("technology", "Facial recognition", '"><script>alert(1)</script>')
        response = self.client.get(IMPROVE)
        self.assertNotContains(response, "<script>alert(1)")
        self.assertContains(response, 'label="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"')

    def test_organisation_and_system_boxes_name_the_lookup(self):
        page = Page(self.client.get(IMPROVE).content.decode())
        [(_, deployer)] = page.find(id="id_deployer")
        self.assertEqual(deployer["value"], "Acme Retail")
        self.assertEqual(deployer["data-lookup"], "/lookup/names/?kind=organisation")
        self.assertEqual(deployer["list"], "names_organisation_options")
        [(_, system)] = page.find(id="id_system")
        self.assertEqual(system["data-lookup"], "/lookup/names/?kind=system")
        self.assertEqual(len(page.find(id="names_organisation_options")), 1)
        self.assertEqual(len(page.find(src="/static/js/choosing.js")), 1)

    def test_the_first_button_of_each_form_sends_it(self):
        """Enter in a text box presses a form's first submit button: it sends the form."""
        pages = {IMPROVE: ("full", "Send for review"), "/submit/": ("check", "Continue")}
        for url, (marker, label) in pages.items():
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                form = html[html.index(f'value="{marker}"') :]
                first = form[form.index("<button") : form.index("</button>")]
                self.assertIn(label, first)
                self.assertNotIn("name=", first)

    def test_add_another_shows_the_form_again_with_one_more_box_and_sends_nothing(self):
        data = self.improve_data(
            terms_technology=["Facial recognition", ""],
            headline="A changed headline",
            more_values="terms_technology",
        )
        response = self.client.post(IMPROVE, data)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Submission.objects.exists())
        self.assertFalse(response.context["form"].errors)
        page = Page(response.content.decode())
        boxes = page.find(name="terms_technology")
        self.assertEqual([box["value"] for _, box in boxes], ["Facial recognition", "", ""])
        self.assertIn("autofocus", boxes[-1][1])
        self.assertEqual(boxes[-1][1]["id"], "id_terms_technology_3")
        self.assertEqual(len(page.find(for_="id_terms_technology_3")), 1)  # its label
        [(_, headline)] = page.find(id="id_headline")
        self.assertEqual(headline["value"], "A changed headline")

    @override_settings(SUBMISSION_RATE_LIMIT=2, SUBMISSION_RATE_PERIOD=600)
    def test_add_another_is_not_counted_as_sending(self):
        data = self.improve_data(more_values="terms_country")
        for _ in range(4):
            self.assertEqual(self.client.post(IMPROVE, data).status_code, 200)
        data.pop("more_values")
        self.assertEqual(self.client.post(IMPROVE, {**data, "insight": "x"}).status_code, 302)

    def test_a_value_per_box_is_sent_as_a_list(self):
        data = self.improve_data(
            deployer=["Acme Retail", "", "Metro Police"], insight="Metro Police used it too."
        )
        self.client.post(IMPROVE, data)
        self.assertEqual(
            Submission.objects.get().proposed["entities"]["deployer"], ["Acme Retail", "Metro Police"]
        )

    def test_too_many_boxes_are_refused(self):
        data = self.improve_data(harmed=[f"Person {n}" for n in range(51)], insight="x")
        response = self.client.post(IMPROVE, data)
        self.assertContains(response, "Give at most 50 names.")


class ProposingANewTermTests(SubmissionsTestCase):
    def improve_data(self, **changes):
        form = self.client.get(IMPROVE).context["form"]
        return {**form_data(form), **changes}

    def test_an_unknown_term_comes_back_with_propose_beside_it_and_is_sent_once_ticked(self):
        data = self.improve_data(terms_technology=["Facial recognition", "Gait recognition"], insight="x")
        response = self.client.post(IMPROVE, data)
        self.assertContains(response, "&#x27;Gait recognition&#x27; is not a known Technology term")
        page = Page(response.content.decode())
        [(_, propose)] = page.find(name="propose_terms_technology", value="Gait recognition")
        self.assertNotIn("checked", propose)
        [(_, label)] = page.find(for_=propose["id"])
        self.assertNotIn("hidden", label)  # offered, not hidden
        # A known term's checkbox is there for the script, hidden.
        [(_, known)] = page.find(name="propose_terms_technology", value="Facial recognition")
        [(_, known_label)] = page.find(for_=known["id"])
        self.assertIn("hidden", known_label)
        self.assertFalse(Submission.objects.exists())

        # Ticking it sends the proposal, the term typed once.
        self.client.post(IMPROVE, {**data, "propose_terms_technology": "Gait recognition"})
        submission = Submission.objects.get()
        self.assertEqual(
            submission.proposed["terms"]["technology"], ["Facial recognition", "Gait recognition"]
        )

        # The editor sees it as a new term to confirm.
        self.client.force_login(self.editor)
        review = self.client.get(submission.get_absolute_url())
        self.assertContains(review, "“Gait recognition” is new; create it")

    def test_a_proposed_term_stays_ticked_when_the_form_comes_back_for_another_error(self):
        data = self.improve_data(
            terms_technology=["Gait recognition"],
            propose_terms_technology="Gait recognition",
            email="not-an-email",
            insight="x",
        )
        page = Page(self.client.post(IMPROVE, data).content.decode())
        [(_, propose)] = page.find(name="propose_terms_technology", value="Gait recognition")
        self.assertIn("checked", propose)

    def test_a_proposal_names_only_a_term_typed_in_its_vocabulary(self):
        data = self.improve_data(propose_terms_technology="Gait recognition", insight="x")
        self.client.post(IMPROVE, data)
        self.assertNotIn("Gait recognition", Submission.objects.get().proposed["terms"]["technology"])

    def test_a_report_proposes_a_new_term_in_one_step(self):
        data = {
            "step": "check",
            "headline": "Warehouse robot injures worker",
            "occurred": "March 2024",
            "narrative": "A robot arm struck a worker.",
            "deployer": ["ShipFast"],
            "terms_technology": ["Robotic arm"],
            "propose_terms_technology": "Robotic arm",
            "sources": "https://news.example.org/robot-arm",
        }
        self.client.post("/submit/", data)
        self.assertEqual(Submission.objects.get().proposed["terms"]["technology"], ["Robotic arm"])

    def test_add_another_on_the_report_keeps_what_was_typed(self):
        data = {
            "step": "check",
            "headline": "Warehouse robot injures worker",
            "developer": ["ArmWorks", "Grip Ltd"],
            "terms_country": ["China"],
            "more_values": "developer",
        }
        response = self.client.post("/submit/", data)
        self.assertFalse(response.context["form"].errors)
        page = Page(response.content.decode())
        self.assertEqual(
            [box["value"] for _, box in page.find(name="developer")], ["ArmWorks", "Grip Ltd", ""]
        )
        self.assertEqual([box["value"] for _, box in page.find(name="terms_country")], ["China", ""])
        self.assertFalse(Submission.objects.exists())


class LookupTests(SubmissionsTestCase):
    def test_it_finds_organisations_by_any_spelling_those_starting_with_it_first(self):
        entity_alias("Zhejiang Dahua Technology", "Dahua")
        entity_alias("Dahuang Foods", "Dahuang Foods")
        entity_alias("Dahua Safe City", "Dahua Safe City", kind=Entity.Kind.SYSTEM)
        response = self.client.get(LOOKUP, {"kind": "organisation", "q": "dahua"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json()["results"],
            [
                {"name": "Zhejiang Dahua Technology", "alias": "Dahua"},
                {"name": "Dahuang Foods", "alias": ""},
            ],
        )
        systems = self.client.get(LOOKUP, {"kind": "system", "q": "Dahua"}).json()["results"]
        self.assertEqual(systems, [{"name": "Dahua Safe City", "alias": ""}])
        # Inside a name too, and whatever the accents and case.
        found = self.client.get(LOOKUP, {"kind": "organisation", "q": "CORP"}).json()["results"]
        self.assertEqual(found, [{"name": "Lens Corp", "alias": ""}])

    def test_merged_entities_are_not_suggested(self):
        survivor = entity_alias("Meta Platforms", "Meta Platforms")
        merged = entity_alias("Meta Inc", "Meta Inc")
        merged.merged_into = survivor
        merged.save(update_fields=["merged_into"])
        found = self.client.get(LOOKUP, {"kind": "organisation", "q": "meta"}).json()["results"]
        self.assertEqual([item["name"] for item in found], ["Meta Platforms"])

    def test_it_answers_at_most_ten_in_one_query_at_any_size(self):
        for size in ("few", "many"):
            if size == "many":
                grow_taxonomy()
            with self.subTest(size=size), self.assertNumQueries(1):  # the aliases matching, capped
                response = self.client.get(LOOKUP, {"kind": "organisation", "q": "co"})
            results = response.json()["results"]
            self.assertLessEqual(len(results), suggestions.LOOKUP_LIMIT)
            if size == "many":
                self.assertEqual(len(results), suggestions.LOOKUP_LIMIT)

    def test_short_or_bad_requests(self):
        with self.assertNumQueries(0):
            self.assertEqual(
                self.client.get(LOOKUP, {"kind": "organisation", "q": "a"}).json(), {"results": []}
            )
            self.assertEqual(self.client.get(LOOKUP, {"kind": "organisation"}).json(), {"results": []})
        self.assertEqual(self.client.get(LOOKUP, {"kind": "people", "q": "acme"}).status_code, 400)
        self.assertEqual(self.client.post(LOOKUP, {"kind": "organisation", "q": "acme"}).status_code, 405)
        long = self.client.get(LOOKUP, {"kind": "organisation", "q": "x" * 10_000})
        self.assertEqual(long.json(), {"results": []})

    @override_settings(API_RATE_LIMIT=3, API_RATE_PERIOD=60)
    def test_it_is_rate_limited_per_address_as_the_api_is(self):
        for _ in range(3):
            self.assertEqual(self.client.get(LOOKUP, {"kind": "organisation", "q": "acme"}).status_code, 200)
        response = self.client.get(LOOKUP, {"kind": "organisation", "q": "acme"})
        self.assertEqual(response.status_code, 429)
        self.assertTrue(1 <= int(response["Retry-After"]) <= 60)
        other = self.client_class(REMOTE_ADDR="203.0.113.9")
        self.assertEqual(other.get(LOOKUP, {"kind": "organisation", "q": "acme"}).status_code, 200)


class ConfirmingNamesTests(SubmissionsTestCase):
    """Without the script, names the repository spells otherwise are asked about on sending."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.dahua = publish(
            "Dahua cameras flag a minority",
            slug="dahua-cameras",
            occurred="2020",
            entities={"developer": ["Zhejiang Dahua Technology"]},
            terms={"country": ["China"]},
            references={"news": [{"url": "https://news.example.org/dahua"}]},
        )

    def url(self):
        return f"/incidents/{self.dahua.slug}/improve/"

    def data(self, **changes):
        return {**form_data(self.client.get(self.url()).context["form"]), **changes}

    def setUp(self):
        super().setUp()
        entity_alias("Zhejiang Dahua Technology", "Dahua")

    def test_a_name_by_an_alias_is_shown_with_what_it_resolves_to_and_accepted(self):
        data = self.data(deployer=["Dahua"], insight="Dahua ran the system too.")
        response = self.client.post(self.url(), data)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Submission.objects.exists())
        self.assertContains(response, "Deployers: “Dahua” → Zhejiang Dahua Technology?")
        page = Page(response.content.decode())
        [(_, accept)] = page.find(name="name_1", value="accept")
        self.assertIn("checked", accept)
        # What was typed travels in hidden inputs, one per value.
        self.assertEqual([i["value"] for _, i in page.find(type="hidden", name="deployer")], ["Dahua"])
        posted = {**data, "name_1": "accept", "names": "checked"}
        response = self.client.post(self.url(), posted)
        submission = Submission.objects.get()
        self.assertRedirects(response, submission.get_status_url() + "?sent=1")
        self.assertEqual(submission.proposed["entities"]["deployer"], ["Zhejiang Dahua Technology"])

    def test_a_name_can_be_kept_as_written(self):
        entity_alias("Lens Corp", "LensCorp International")
        data = self.data(
            deployer=["Dahua", "LensCorp International"],
            insight="x",
            name_1="keep",
            name_2="accept",
            names="checked",
        )
        self.client.post(self.url(), data)
        proposed = Submission.objects.get().proposed
        self.assertEqual(proposed["entities"]["deployer"], ["Dahua", "Lens Corp"])

    def test_going_back_shows_the_form_as_typed(self):
        data = self.data(deployer=["Dahua"], insight="x", names="edit")
        response = self.client.post(self.url(), data)
        self.assertTemplateUsed(response, "submissions/improve.html")
        self.assertEqual(response.context["form"]["deployer"].value(), ["Dahua"])
        self.assertFalse(Submission.objects.exists())

    def test_a_report_asks_first_and_carries_the_choice_through_the_duplicate_step(self):
        entity_alias("Lens Corp", "LensCorp International")
        data = {
            "step": "check",
            "headline": "Camera flags ethnic minority for police",
            "occurred": "February 2021",
            "narrative": "The software alerted police.",
            "deployer": ["Acme Retail"],
            "developer": ["LensCorp International"],
            "sources": "https://news.example.org/b",
        }
        response = self.client.post("/submit/", data)
        self.assertTemplateUsed(response, "submissions/names_confirm.html")
        self.assertContains(response, "Developer: “LensCorp International” → Lens Corp?")
        response = self.client.post("/submit/", {**data, "step": "names", "name_1": "keep"})
        self.assertTemplateUsed(response, "submissions/report_duplicates.html")
        page = Page(response.content.decode())
        self.assertEqual([i["value"] for _, i in page.find(type="hidden", name="name_1")], ["keep"])
        response = self.client.post(
            "/submit/", {**data, "step": "send", "name_1": "keep", "duplicate_of": "new"}
        )
        submission = Submission.objects.get()
        self.assertEqual(submission.proposed["entities"]["developer"], ["LensCorp International"])

    def test_names_already_on_the_incident_or_new_are_not_asked_about(self):
        data = self.data(deployer=["Brand New Ltd"], insight="x")
        response = self.client.post(self.url(), data)
        self.assertEqual(response.status_code, 302)


class QueryCountTests(SubmissionsTestCase):
    """The improve and report pages cost the same whatever the taxonomy's size: the
    vocabularies' spellings come from the cache (one query when it is cold), organisations and
    systems are not sent at all."""

    def counts(self):
        cache.clear()
        # The incident with its current revision, the vocabularies, and the term spellings of
        # every vocabulary (cold cache).
        with self.assertNumQueries(3):
            self.client.get(IMPROVE)
        with self.assertNumQueries(2):  # the same, the spellings from the cache
            self.client.get(IMPROVE)
        with self.assertNumQueries(1):  # the report's vocabularies; their spellings cached
            self.client.get("/submit/")
        cache.clear()
        with self.assertNumQueries(2):  # the report's vocabularies and the spellings (cold)
            self.client.get("/submit/")

    def test_the_pages_cost_the_same_at_two_sizes(self):
        self.counts()
        grow_taxonomy()
        self.counts()
        self.assertContains(
            self.client.get(IMPROVE), 'label="Bulk term 39 (variant)"', count=Vocabulary.objects.count()
        )

    def test_a_new_term_is_suggested_once_published(self):
        self.client.get(IMPROVE)
        self.assertNotContains(self.client.get(IMPROVE), "Gait recognition")
        with self.captureOnCommitCallbacks(execute=True):
            publish("Gait analysis flags protesters", terms={"technology": ["Gait recognition"]})
        self.assertContains(self.client.get(IMPROVE), '<option value="Gait recognition">')
