import copy
from datetime import date

from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from repository import documents
from repository.documents import DocumentError, change_summary, diff, fold, normalize
from repository.models import Entity, EntityAlias, Incident, IncidentEntity, Reference, Revision, Term
from repository.services import incident_publish


def make_document(**changes):
    document = documents.empty_document()
    document.update(
        {
            "headline": "Exam proctoring software flags students who look away",
            "type": "incident",
            "occurred": "2021-02",
            "narrative": "A proctoring tool flagged students as cheating.",
            "terms": {"country": ["USA"], "technology": ["Eye tracking"]},
            "entities": {"deployer": ["Westbrook University"], "developer": ["ProctorEye"], "system": []},
            "references": {
                "system": [],
                "legal": [],
                "research": [],
                "investigations": [],
                "news": [
                    {
                        "url": "https://example.org/news/proctoring",
                        "title": "Students say proctoring tool is unfair",
                        "publisher": "Campus Post",
                        "published": "2021-02-09",
                    }
                ],
            },
        }
    )
    document.update(changes)
    return document


class FoldTests(SimpleTestCase):
    def test_it_folds_variant_spellings_of_one_name(self):
        self.assertEqual(fold("Open AI"), "openai")
        self.assertEqual(fold("OpenAI"), "openai")
        self.assertEqual(fold(" openai "), "openai")

    def test_it_ignores_accents_and_punctuation(self):
        self.assertEqual(fold("Café-Bar"), fold("cafe bar"))

    def test_different_names_fold_apart(self):
        self.assertNotEqual(fold("OpenAI"), fold("Open Air"))

    def test_programming_languages_keep_their_signs(self):
        self.assertEqual(len({fold("C++"), fold("C#"), fold("C")}), 3)
        self.assertEqual(fold("c ++"), fold("C++"))

    def test_a_name_of_only_punctuation_keeps_a_key(self):
        self.assertEqual(fold(" ?! "), "?!")


class NormalizeTests(SimpleTestCase):
    def assertErrorAt(self, document, path, fragment="", vocabularies=None):
        with self.assertRaises(DocumentError) as caught:
            normalize(document, vocabularies)
        self.assertIn(path, caught.exception.message_dict)
        if fragment:
            self.assertIn(fragment, " ".join(caught.exception.message_dict[path]))
        return caught.exception.message_dict

    def test_it_trims_text_fields_and_collapses_inner_whitespace(self):
        clean = normalize(make_document(headline="  Exam   proctoring flags students \n", released=" 2021 "))
        self.assertEqual(clean["headline"], "Exam proctoring flags students")
        self.assertEqual(clean["released"], "2021")

    def test_placeholders_are_kept_as_written_in_every_vocabulary_and_role(self):
        clean = normalize(
            make_document(
                terms={"country": ["UK", "Multiple"], "sector": ["N/A", "n.a."], "purpose": ["Various"]},
                entities={"deployer": ["Unclear/unknown"], "system": ["Grok", "Unknown"]},
                placeholders={"sector": "Unclear"},
            ),
            vocabularies={"country", "sector", "purpose"},
        )
        self.assertEqual(clean["terms"], {"country": ["UK"]})
        self.assertEqual((clean["entities"]["deployer"], clean["entities"]["system"]), ([], ["Grok"]))
        self.assertEqual(
            clean["placeholders"],
            {
                "deployer": "Unclear/unknown",
                "system": "Unknown",
                "country": "Multiple",
                "purpose": "Various",
                "sector": "Unclear; N/A",
            },
        )
        self.assertEqual(normalize(clean, vocabularies={"country", "sector", "purpose"}), clean)
        self.assertErrorAt(
            make_document(placeholders={"operator": "Unclear"}), "placeholders", vocabularies={"country"}
        )

    def test_it_trims_names_and_drops_blank_ones(self):
        clean = normalize(make_document(terms={"country": ["  USA ", "", "   ", " United   Kingdom"]}))
        self.assertEqual(clean["terms"], {"country": ["USA", "United Kingdom"]})

    def test_it_keeps_the_first_of_variant_spellings(self):
        document = make_document(
            terms={"country": ["USA"]},
            entities={"deployer": [], "developer": ["OpenAI", " Open AI", "openai "], "system": []},
        )
        self.assertEqual(normalize(document)["entities"]["developer"], ["OpenAI"])

    def test_it_dedupes_variant_spellings_of_terms(self):
        clean = normalize(make_document(terms={"technology": ["Machine learning", "machine  Learning"]}))
        self.assertEqual(clean["terms"], {"technology": ["Machine learning"]})

    def test_it_drops_a_vocabulary_left_empty(self):
        clean = normalize(make_document(terms={"country": ["USA"], "sector": [" "]}))
        self.assertEqual(list(clean["terms"]), ["country"])

    def test_it_fills_every_role_and_category(self):
        clean = normalize({"headline": "Only a headline"})
        self.assertEqual(list(clean["entities"]), documents.ROLES)
        self.assertEqual(list(clean["references"]), documents.CATEGORIES)
        self.assertEqual(clean["schema"], documents.SCHEMA_VERSION)

    def test_it_writes_occurred_in_iso_form(self):
        self.assertEqual(normalize(make_document(occurred="February 2021"))["occurred"], "2021-02")
        self.assertEqual(normalize(make_document(occurred="2019 - 2024"))["occurred"], "2019/2024")
        self.assertEqual(normalize(make_document(occurred=""))["occurred"], "")

    def test_it_lowercases_the_type(self):
        self.assertEqual(normalize(make_document(type=" Issue "))["type"], "issue")

    def test_it_normalizes_a_reference_date_and_accepts_a_bare_url(self):
        references = {
            "news": [
                {"url": " https://example.org/a ", "title": " A  title ", "published": "9 February 2021"},
                "https://example.org/b",
            ]
        }
        clean = normalize(make_document(references=references))
        self.assertEqual(
            clean["references"]["news"],
            [
                {
                    "url": "https://example.org/a",
                    "title": "A title",
                    "publisher": "",
                    "published": "2021-02-09",
                },
                {"url": "https://example.org/b", "title": "", "publisher": "", "published": ""},
            ],
        )

    def test_it_keeps_a_url_once_across_categories(self):
        references = {"system": ["https://example.org/a"], "news": ["https://example.org/a"]}
        clean = normalize(make_document(references=references))
        self.assertEqual(len(clean["references"]["system"]), 1)
        self.assertEqual(clean["references"]["news"], [])

    def test_normalizing_twice_changes_nothing(self):
        once = normalize(make_document(headline="  Spaced  out ", occurred="Feb 2021"))
        self.assertEqual(normalize(copy.deepcopy(once)), once)

    def test_a_missing_headline_is_an_error_on_headline(self):
        self.assertErrorAt(make_document(headline="  "), "headline", "required")

    def test_a_too_long_headline_is_an_error_on_headline(self):
        self.assertErrorAt(make_document(headline="x" * 301), "headline", "300")

    def test_a_headline_of_300_characters_is_accepted(self):
        self.assertEqual(len(normalize(make_document(headline="x" * 300))["headline"]), 300)

    def test_a_too_long_released_value_is_an_error_on_released(self):
        self.assertErrorAt(make_document(released="2" * 101), "released", "100")

    def test_an_unknown_type_is_an_error_on_type(self):
        self.assertErrorAt(make_document(type="Accident"), "type", "accident")

    def test_an_unreadable_occurred_is_an_error_on_occurred(self):
        self.assertErrorAt(make_document(occurred="sometime"), "occurred", "sometime")

    def test_a_bad_source_url_is_an_error_on_source_url(self):
        self.assertErrorAt(make_document(source_url="www.example.org/page"), "source_url")

    def test_a_reference_without_a_valid_url_is_an_error_on_its_category(self):
        self.assertErrorAt(
            make_document(references={"legal": [{"url": "ftp://example.org/a", "title": "Ruling"}]}),
            "references.legal",
            "ftp://example.org/a",
        )

    def test_a_bad_reference_date_is_an_error_on_its_category(self):
        self.assertErrorAt(
            make_document(references={"news": [{"url": "https://example.org/a", "published": "soon"}]}),
            "references.news",
            "Publication date",
        )

    def test_a_too_long_name_is_an_error_on_its_vocabulary(self):
        self.assertErrorAt(make_document(terms={"sector": ["s" * 501]}), "terms.sector", "500")

    def test_a_too_long_entity_name_is_an_error_on_its_role(self):
        entities = {"deployer": [], "developer": ["d" * 501], "system": []}
        self.assertErrorAt(make_document(entities=entities), "entities.developer", "500")

    def test_an_unknown_vocabulary_is_an_error_when_vocabularies_are_given(self):
        self.assertErrorAt(
            make_document(terms={"mood": ["Sad"]}), "terms.mood", "mood", vocabularies={"country"}
        )

    def test_an_unknown_role_is_an_error_on_entities(self):
        self.assertErrorAt(make_document(entities={"owner": ["Acme"]}), "entities", "deployer")

    def test_an_unknown_reference_category_is_an_error_on_references(self):
        self.assertErrorAt(make_document(references={"blogs": ["https://example.org/a"]}), "references")

    def test_an_unknown_schema_is_an_error_on_schema(self):
        self.assertErrorAt(make_document(schema=99), "schema", "99")

    def test_it_reports_every_error_at_once(self):
        errors = self.assertErrorAt(
            make_document(headline="", type="accident", occurred="2021-13"), "headline"
        )
        self.assertEqual(set(errors), {"headline", "type", "occurred"})

    def test_a_document_that_is_not_a_mapping_is_an_error(self):
        with self.assertRaises(DocumentError):
            normalize(["headline"])


class DiffTests(SimpleTestCase):
    def setUp(self):
        self.old = normalize(make_document())

    def test_equal_documents_have_no_changes(self):
        self.assertEqual(diff(self.old, copy.deepcopy(self.old)), [])
        self.assertEqual(change_summary([]), "No changes")

    def test_it_reports_a_changed_field_with_old_and_new_values(self):
        new = normalize(make_document(headline="Proctoring tool flags students", occurred="2021"))
        changes = {change.path: change for change in diff(self.old, new)}
        self.assertEqual(set(changes), {"headline", "occurred"})
        self.assertEqual(changes["occurred"].old, "2021-02")
        self.assertEqual(changes["occurred"].new, "2021")
        self.assertFalse(changes["headline"].is_list)

    def test_it_reports_added_and_removed_terms(self):
        new = normalize(make_document(terms={"country": ["USA", "Canada"], "technology": []}))
        changes = {change.path: change for change in diff(self.old, new)}
        self.assertEqual(set(changes), {"terms.country", "terms.technology"})
        self.assertEqual(changes["terms.country"].added, ["Canada"])
        self.assertEqual(changes["terms.country"].removed, [])
        self.assertEqual(changes["terms.technology"].added, [])
        self.assertEqual(changes["terms.technology"].removed, ["Eye tracking"])
        self.assertTrue(changes["terms.country"].is_list)

    def test_it_reports_added_and_removed_entities_by_role(self):
        entities = {"deployer": ["Eastbrook College"], "developer": ["ProctorEye"], "system": []}
        changes = diff(self.old, normalize(make_document(entities=entities)))
        self.assertEqual(len(changes), 1)
        self.assertEqual(changes[0].path, "entities.deployer")
        self.assertEqual(changes[0].added, ["Eastbrook College"])
        self.assertEqual(changes[0].removed, ["Westbrook University"])

    def test_it_compares_references_by_url(self):
        new = copy.deepcopy(self.old)
        new["references"]["news"][0]["title"] = "A corrected title"
        new["references"]["legal"].append(
            {"url": "https://example.org/ruling", "title": "", "publisher": "", "published": ""}
        )
        changes = {change.path: change for change in diff(self.old, new)}
        self.assertEqual(set(changes), {"references.legal", "references.news"})
        # Same URL, new title: changed, but neither added nor removed.
        self.assertEqual(changes["references.news"].added, [])
        self.assertEqual(changes["references.news"].removed, [])
        self.assertEqual(
            [ref["url"] for ref in changes["references.legal"].added], ["https://example.org/ruling"]
        )

    def test_changes_come_in_page_order_with_vocabularies_in_the_given_order(self):
        new = normalize(
            make_document(headline="New headline", terms={"country": ["Canada"], "technology": ["Webcam"]})
        )
        changes = diff(self.old, new, vocabulary_labels={"technology": "Technology", "country": "Country"})
        self.assertEqual(
            [change.path for change in changes], ["headline", "terms.technology", "terms.country"]
        )
        self.assertEqual(change_summary(changes), "Changed Headline, Technology, Country")

    def test_a_first_document_differs_from_nothing(self):
        paths = [change.path for change in diff(None, self.old)]
        self.assertIn("headline", paths)
        self.assertIn("references.news", paths)


class ThreeWayTests(SimpleTestCase):
    """Base, current and proposed: what an editor chooses between when an incident moved on."""

    def setUp(self):
        self.base = normalize(make_document())
        news = self.base["references"]["news"]
        self.current = {
            **self.base,
            "summary": "An editor's summary",
            "references": {**self.base["references"], "news": [*news, {"url": "https://b.example.org/1"}]},
        }
        self.proposed = {
            **self.base,
            "references": {**self.base["references"], "news": [{"url": "https://c.example.org/2"}]},
        }
        self.current, self.proposed = normalize(self.current), normalize(self.proposed)

    def rows(self):
        return {row.path: row for row in documents.three_way(self.base, self.current, self.proposed)}

    def test_a_list_both_sides_changed_keeps_both_by_default(self):
        row = self.rows()["references.news"]
        self.assertFalse(row.conflict)  # different items: they merge by themselves
        self.assertEqual(row.default, "combined")
        # The proposal removed the base's reference and added its own; the incident's addition stays.
        self.assertEqual(
            [ref["url"] for ref in row.combined], ["https://b.example.org/1", "https://c.example.org/2"]
        )
        resolved = documents.resolve(self.current, list(self.rows().values()), {})
        self.assertEqual(resolved["references"]["news"], row.combined)
        self.assertEqual(resolved["summary"], "An editor's summary")

    def test_the_editor_may_still_keep_one_side_of_a_list(self):
        rows = list(self.rows().values())
        resolved = documents.resolve(self.current, rows, {"references.news": "proposed"})
        self.assertEqual(resolved["references"]["news"], self.proposed["references"]["news"])

    def test_names_are_combined_by_their_folded_spelling(self):
        base = normalize(make_document())
        current = normalize({**base, "entities": {**base["entities"], "developer": ["Lens Corp", "Open AI"]}})
        proposed = normalize(
            {**base, "entities": {**base["entities"], "developer": ["Lens Corp", "OpenAI", "X"]}}
        )
        row = next(r for r in documents.three_way(base, current, proposed) if r.path == "entities.developer")
        self.assertEqual(row.combined, ["Lens Corp", "Open AI", "X"])

    def test_a_text_both_sides_changed_has_no_default(self):
        proposed = normalize({**self.base, "summary": "A contributor's summary"})
        row = next(r for r in documents.three_way(self.base, self.current, proposed) if r.path == "summary")
        self.assertIsNone(row.default)
        self.assertIsNone(row.combined)


class IncidentPublishTests(TestCase):
    def test_it_creates_an_incident_with_a_first_revision(self):
        result = incident_publish(document=make_document())
        self.assertTrue(result.created)
        self.assertTrue(result.changed)
        incident = Incident.objects.get()
        self.assertEqual(incident.slug, "exam-proctoring-software-flags-students-who-look-away")
        self.assertEqual(incident.number, 1)
        self.assertEqual(incident.current_revision, result.revision)
        self.assertEqual(result.revision.number, 1)
        self.assertEqual(incident.occurred_start, date(2021, 2, 1))
        self.assertEqual(incident.occurred_end, date(2021, 2, 28))
        self.assertEqual(incident.occurred_precision, Incident.Precision.MONTH)
        self.assertEqual(
            list(incident.incident_entities.values_list("entity__name", "role")),
            [("Westbrook University", "deployer"), ("ProctorEye", "developer")],
        )
        self.assertEqual(
            list(incident.incident_terms.values_list("term__vocabulary__slug", "term__name")),
            [("country", "USA"), ("technology", "Eye tracking")],
        )

    def test_the_revision_stores_the_normalized_document(self):
        result = incident_publish(document=make_document(headline="  Spaced   headline "))
        self.assertEqual(result.revision.document["headline"], "Spaced headline")
        self.assertEqual(result.revision.document, normalize(make_document(headline="Spaced headline")))

    def test_publishing_the_same_document_again_adds_no_revision(self):
        incident = incident_publish(document=make_document()).incident
        updated_at = Incident.objects.get().updated_at
        result = incident_publish(document=make_document(), incident=incident)
        self.assertFalse(result.changed)
        self.assertIsNone(result.revision)
        self.assertEqual(Revision.objects.count(), 1)
        self.assertEqual(Incident.objects.get().updated_at, updated_at)

    def test_a_document_that_differs_only_in_spelling_adds_no_revision(self):
        incident = incident_publish(document=make_document()).incident
        result = incident_publish(
            document=make_document(headline="  Exam proctoring software flags students who look away  "),
            incident=incident,
        )
        self.assertFalse(result.changed)
        self.assertEqual(Revision.objects.count(), 1)

    def test_each_change_adds_a_revision_with_the_next_number(self):
        incident = incident_publish(document=make_document()).incident
        second = incident_publish(document=make_document(occurred="2021"), incident=incident)
        third = incident_publish(document=make_document(occurred="2022"), incident=incident)
        self.assertEqual([second.revision.number, third.revision.number], [2, 3])
        self.assertEqual(list(incident.revisions.values_list("number", flat=True)), [3, 2, 1])
        incident.refresh_from_db()
        self.assertEqual(incident.current_revision, third.revision)
        self.assertEqual(incident.occurred, "2022")
        self.assertEqual(second.revision.summary, "Changed Occurred")

    def test_a_change_replaces_the_relational_rows(self):
        incident = incident_publish(document=make_document()).incident
        entities = {"deployer": ["Eastbrook College"], "developer": ["ProctorEye"], "system": []}
        incident_publish(
            document=make_document(terms={"country": ["Canada"]}, entities=entities), incident=incident
        )
        self.assertEqual(list(incident.incident_terms.values_list("term__name", flat=True)), ["Canada"])
        self.assertEqual(
            list(incident.incident_entities.values_list("entity__name", flat=True)),
            ["Eastbrook College", "ProctorEye"],
        )

    def test_incident_numbers_increase_and_slugs_stay_unique(self):
        first = incident_publish(document=make_document()).incident
        second = incident_publish(document=make_document()).incident
        self.assertEqual([first.number, second.number], [1, 2])
        self.assertEqual(second.slug, f"{first.slug}-2")

    def test_variant_spellings_publish_as_one_entity_under_its_first_name(self):
        incident_publish(
            document=make_document(entities={"deployer": [], "developer": ["OpenAI"], "system": []})
        )
        result = incident_publish(
            document=make_document(entities={"deployer": [" Open AI"], "developer": [], "system": []})
        )
        self.assertEqual(Entity.objects.filter(name__icontains="open").count(), 1)
        self.assertEqual(result.revision.document["entities"]["deployer"], ["OpenAI"])
        self.assertEqual(EntityAlias.objects.get(key="openai").entity.name, "OpenAI")

    def test_a_term_with_a_dash_gets_its_parent(self):
        incident_publish(document=make_document(terms={"sector": ["Govt - police"]}))
        term = Term.objects.get(name="Govt - police")
        self.assertEqual(term.parent.name, "Govt")
        self.assertEqual(term.parent.vocabulary, term.vocabulary)

    def test_link_health_survives_a_republish_that_keeps_the_url(self):
        incident = incident_publish(document=make_document()).incident
        checked_at = timezone.now()
        Reference.objects.filter(incident=incident).update(
            checked_at=checked_at, status_code=301, final_url="https://example.org/moved", check_error=""
        )
        reference_id = Reference.objects.get(incident=incident).id
        references = make_document()["references"]
        references["news"][0]["title"] = "A corrected title"
        references["legal"] = ["https://example.org/ruling"]
        result = incident_publish(document=make_document(references=references), incident=incident)
        self.assertTrue(result.changed)
        kept = Reference.objects.get(incident=incident, url="https://example.org/news/proctoring")
        self.assertEqual(kept.id, reference_id)
        self.assertEqual(kept.title, "A corrected title")
        self.assertEqual((kept.checked_at, kept.status_code), (checked_at, 301))
        self.assertEqual(kept.final_url, "https://example.org/moved")
        self.assertEqual(Reference.objects.filter(incident=incident).count(), 2)

    def test_a_reference_dropped_from_the_document_is_deleted(self):
        incident = incident_publish(document=make_document()).incident
        incident_publish(document=make_document(references={}), incident=incident)
        self.assertFalse(Reference.objects.filter(incident=incident).exists())

    def test_an_invalid_document_writes_nothing(self):
        with self.assertRaises(DocumentError):
            incident_publish(document=make_document(occurred="sometime", terms={"sector": ["Govt - police"]}))
        self.assertFalse(Incident.objects.exists())
        self.assertFalse(Term.objects.exists())
        self.assertFalse(IncidentEntity.objects.exists())

    def test_document_from_incident_matches_the_published_document(self):
        result = incident_publish(document=make_document())
        incident = Incident.objects.get(pk=result.incident.pk)
        self.assertEqual(documents.document_from_incident(incident), result.revision.document)


class ShortenTests(SimpleTestCase):
    def test_a_long_text_is_cut_at_a_word_within_the_limit(self):
        self.assertEqual(documents.shorten("Chatbot gives wrong advice", 100), "Chatbot gives wrong advice")
        self.assertEqual(documents.shorten("Chatbot gives wrong advice", 16), "Chatbot gives…")
        self.assertLessEqual(len(documents.shorten("word " * 100, 50)), 50)
