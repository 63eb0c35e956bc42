"""Real exports of the AIAAIC sheet: drifting headers, reused ids, blanks, ranges, spellings,
systems and placeholders. Each sheet here is built for its test, in the shape of the real
exports."""

import csv
import io
from io import StringIO
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import TestCase

from repository import documents
from repository.importers.sheet import header_key, sheet_import, sheet_period
from repository.lookalikes import merge_candidates
from repository.models import Entity, EntityAlias, ExternalId, Incident, Revision, Term, TermAlias
from repository.services import incident_merge, incident_publish
from repository.tests.base import entities, publish, terms

FIXTURES = Path(__file__).parent / "fixtures"
LINK = "https://www.aiaaic.org/aiaaic-repository/ai-algorithmic-and-automation-incidents/"
COLUMNS_2024 = [
    "AIAAIC ID#",
    "Headline",
    "Type",
    "Released",
    "Occurred",
    "Country(ies)",
    "Sector(s)",
    "Deployer(s)",
    "Developer(s)",
    "System name(s)",
    "Technology(ies)",
    "Purpose(s)",
    "Media trigger(s)",
    "Issue(s)",
    "Transparency",
    "Description/links",
]


def sheet(rows, columns=COLUMNS_2024, title="AIAAIC Repository (beta) [ REPORT INCIDENT ]"):
    """A sheet export: a title row, the column row, then a row per dict (by column name)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title] + [""] * (len(columns) - 1))
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return out.getvalue()


def row(number, headline, **cells):
    slug = documents.fold_text(headline).replace(" ", "-")[:60]
    values = {"AIAAIC ID#": f"AIAAIC{number:04d}", "Headline": headline, "Description/links": LINK + slug}
    for name, value in cells.items():
        values[name.replace("_", " ")] = value
    return values


def incident_of(external_id):
    return Incident.objects.get(external_ids__scheme="aiaaic", external_ids__value=external_id)


def notes(result, kind):
    return [str(finding) for finding in result.report.of_kind(kind)]


class HeaderVariantTests(TestCase):
    def test_header_names_are_normalised(self):
        self.assertEqual(header_key("  Country(ies) "), "country")
        self.assertEqual(header_key("Technology(ies)"), "technology")
        self.assertEqual(header_key("News trigger (taxonomy)"), "news trigger")
        self.assertEqual(header_key("HEADLINE/TITLE"), "headline/title")

    def test_a_2024_export_with_headline_title_and_drifting_spelling_imports_whole(self):
        columns = [
            "aiaaic id# ",
            "Headline/title",
            "TYPE",
            "Released ",
            "Occurred",
            "Countries",
            "Sector(s)",
            "Deployers",
            "Developer",
            "System Name(s)",
            "Technology(ies)",
            "Purpose(s)",
            "Media Trigger(s)",
            "Issues",
            "Transparency",
            "Description/links",
        ]
        data = sheet(
            [
                {
                    "aiaaic id# ": "AIAAIC0501",
                    "Headline/title": "Parking camera fines drivers twice",
                    "TYPE": "Incident",
                    "Occurred": "2021-22",
                    "Countries": "UK",
                    "Deployers": "Northgate Council",
                    "Developer": "ParkSense",
                    "System Name(s)": "ParkSense ANPR",
                    "Media Trigger(s)": "Local news report",
                    "Issues": "Accuracy/reliability",
                    "Description/links": LINK + "parking-camera-fines-drivers-twice",
                }
            ],
            columns=columns,
            title="Any title text at all",
        )
        result = sheet_import(data=data)
        self.assertEqual((result.layout, result.created, result.warnings), ("2024", 1, []))
        incident = incident_of("AIAAIC0501")
        self.assertEqual(incident.headline, "Parking camera fines drivers twice")
        self.assertEqual(incident.occurred, "2021/2022")
        self.assertEqual(entities(incident, "deployer"), ["Northgate Council"])
        self.assertEqual(entities(incident, "system"), ["ParkSense ANPR"])
        self.assertEqual(terms(incident, "news-trigger"), ["Local news report"])

    def test_the_2026_layout_with_its_groups_is_read_by_name(self):
        result = sheet_import(data=(FIXTURES / "sheet-2026.csv").read_bytes())
        self.assertEqual((result.layout, result.created, result.warnings), ("2026", 3, []))

    def test_an_unnamed_column_with_values_is_kept_and_reported(self):
        data = sheet([row(501, "Robot arm injures worker", **{"": "see notes"})], columns=[*COLUMNS_2024, ""])
        result = sheet_import(data=data)
        self.assertIn(
            "column 'Column Q': not a column this site knows; its 1 non-blank",
            notes(result, "unknown-column")[0],
        )
        self.assertEqual(
            incident_of("AIAAIC0501").current_revision.document["extra"], {"Column Q": "see notes"}
        )


class PeriodReadingTests(TestCase):
    def test_year_ranges_with_two_digits_are_ranges(self):
        self.assertEqual(sheet_period("2021-22"), ("2021/2022", ""))
        self.assertEqual(sheet_period("1999-03"), ("1999-03", ""))  # no range ends before it starts
        self.assertEqual(
            sheet_period("2011-12"), ("2011/2012", "'2011-12' read as the years 2011-2012, not as a month")
        )
        self.assertEqual(sheet_period("2019-2024"), ("2019/2024", ""))
        self.assertEqual(sheet_period("February 2021"), ("2021-02", ""))
        self.assertEqual(sheet_period("2023-"), ("2023/..", ""))

    def test_an_ambiguous_range_is_read_as_years_with_a_warning(self):
        result = sheet_import(
            data=sheet([row(501, "Scoring tool misfires", Occurred="2011-12", Released="2010-11")])
        )
        incident = incident_of("AIAAIC0501")
        self.assertEqual(incident.occurred, "2011/2012")
        self.assertEqual(incident.released, "2010/2011")
        self.assertEqual(
            notes(result, "ambiguous"),
            [
                "row 3, column 'Released': '2010-11' read as the years 2010-2011, not as a month.",
                "row 3, column 'Occurred': '2011-12' read as the years 2011-2012, not as a month.",
            ],
        )


class IdentityTests(TestCase):
    def test_an_id_that_now_names_another_story_becomes_a_new_incident(self):
        sheet_import(data=sheet([row(501, "Legal chatbot invents case citations", Occurred="2023")]))
        first = incident_of("AIAAIC0501")
        result = sheet_import(data=sheet([row(501, "Delivery drone drops parcel on roof", Occurred="2024")]))
        self.assertEqual((result.created, result.updated), (1, 0))
        [reused] = notes(result, "id-reused")
        self.assertIn("AIAAIC0501 names incident", reused)
        self.assertIn("'Legal chatbot invents case citations'", reused)
        self.assertIn("'Delivery drone drops parcel on roof' here: a different story", reused)
        first.refresh_from_db()
        self.assertEqual(first.headline, "Legal chatbot invents case citations")
        self.assertEqual(first.occurred, "2023")
        both = Incident.objects.filter(external_ids__value="AIAAIC0501").order_by("number")
        self.assertEqual(
            [i.headline for i in both],
            ["Legal chatbot invents case citations", "Delivery drone drops parcel on roof"],
        )
        again = sheet_import(data=sheet([row(501, "Delivery drone drops parcel on roof", Occurred="2024")]))
        self.assertEqual((again.created, again.updated, again.unchanged), (0, 0, 1))

    def test_the_same_story_with_a_reworded_headline_updates_it(self):
        sheet_import(data=sheet([row(501, "Grok generates Nazi Micky Mouse, Taylor Swift deepfakes")]))
        reworded = row(501, "Grok generates Nazi Mickey Mouse, Taylor Swift deepfakes", Occurred="2024")
        reworded["Description/links"] = "https://other.example.org/grok"  # even with another link
        result = sheet_import(data=sheet([reworded]))
        self.assertEqual((result.created, result.updated), (0, 1))
        self.assertEqual(incident_of("AIAAIC0501").occurred, "2024")

    def test_the_same_source_link_alone_never_joins_rows_of_different_ids(self):
        # A row links, by the source's mistake, to another incident's page: its own story.
        sheet_import(data=sheet([row(501, "Hiring tool ranks applicants by postcode")]))
        moved = row(777, "Recruitment algorithm penalises postcodes")
        moved["Description/links"] = LINK + "hiring-tool-ranks-applicants-by-postcode".replace(
            "https://www.", "http://"
        )
        moved["Description/links"] = (
            moved["Description/links"].replace("https://www.", "http://") + "?utm_source=x"
        )
        result = sheet_import(data=sheet([moved]))
        self.assertEqual((result.created, result.updated), (1, 0))
        self.assertEqual(incident_of("AIAAIC0501").headline, "Hiring tool ranks applicants by postcode")
        self.assertEqual(incident_of("AIAAIC0777").headline, "Recruitment algorithm penalises postcodes")

    def test_the_same_source_link_joins_a_row_without_an_id(self):
        sheet_import(data=sheet([row(501, "Hiring tool ranks applicants by postcode")]))
        moved = row(777, "Recruitment algorithm penalises postcodes")
        moved["AIAAIC ID#"] = ""
        moved["Description/links"] = LINK + "hiring-tool-ranks-applicants-by-postcode"
        result = sheet_import(data=sheet([moved]))
        self.assertEqual((result.created, result.updated), (0, 1))

    def test_after_an_editor_merges_two_rows_incidents_a_re_import_makes_no_new_incident(self):
        data = sheet(
            [
                row(501, "Face ID unlocks for twin brothers", Occurred="2017"),
                row(502, "Brothers unlock each other's iPhone with Face ID", Occurred="2017"),
            ]
        )
        sheet_import(data=data)
        survivor, merged = incident_of("AIAAIC0501"), incident_of("AIAAIC0502")
        editor = get_user_model().objects.create_user("edith")
        incident_merge(survivor=survivor, merged=merged, editor=editor)
        again = sheet_import(data=data)
        self.assertEqual((again.created, again.updated, again.unchanged), (0, 0, 1))
        self.assertEqual(Incident.objects.count(), 2)  # the survivor, and the merged one redirecting
        [finding] = notes(again, "merged-id")
        self.assertIn("row 4: AIAAIC0502 belongs to incident", finding)
        self.assertIn("row 3 updated it already: this row is left as it is.", finding)

    def test_the_id_page_resolves_an_id_or_lists_the_incidents_sharing_it(self):
        sheet_import(data=sheet([row(501, "Legal chatbot invents case citations")]))
        response = self.client.get("/id/aiaaic/AIAAIC501")
        self.assertRedirects(response, incident_of("AIAAIC0501").get_absolute_url())
        sheet_import(data=sheet([row(501, "Delivery drone drops parcel on roof")]))
        response = self.client.get("/id/aiaaic/AIAAIC0501")
        self.assertContains(response, "This id names 2 incidents")
        self.assertContains(response, "Delivery drone drops parcel on roof")
        self.assertContains(response, "Legal chatbot invents case citations")
        self.assertEqual(self.client.get("/id/aiaaic/AIAAIC9999").status_code, 404)

    def test_the_incident_page_shows_its_external_ids_with_links(self):
        incident = publish(
            "Tram braking system fails",
            external_ids=[{"scheme": "aiaaic", "value": "AIAAIC0501"}, {"scheme": "aiid", "value": "42"}],
        )
        response = self.client.get(incident.get_absolute_url())
        self.assertContains(
            response, '<dt>AIAAIC id</dt><dd><a href="/id/aiaaic/AIAAIC0501">AIAAIC0501</a></dd>', html=False
        )
        self.assertContains(
            response,
            '<a href="https://incidentdatabase.ai/cite/42/" rel="nofollow noopener noreferrer">42</a>',
        )


class NothingErasedTests(TestCase):
    def test_a_blank_cell_keeps_the_stored_value(self):
        sheet_import(
            data=sheet([row(501, "Tram braking fails", **{"Country(ies)": "UK", "Sector(s)": "Transport"})])
        )
        result = sheet_import(
            data=sheet([row(501, "Tram braking fails", **{"Sector(s)": "Transport/logistics"})])
        )
        self.assertEqual(result.updated, 1)
        incident = incident_of("AIAAIC0501")
        self.assertEqual(terms(incident, "country"), ["UK"])
        self.assertEqual(terms(incident, "sector"), ["Transport/logistics"])

    def test_blank_clears_opts_in_to_clearing(self):
        sheet_import(
            data=sheet(
                [row(501, "Tram braking fails", **{"Country(ies)": "UK", "Deployer(s)": "City Trams"})]
            )
        )
        path = self.enterContext(__import__("tempfile").TemporaryDirectory()) + "/later.csv"
        Path(path).write_text(sheet([row(501, "Tram braking fails")]), encoding="utf-8")
        call_command("import_sheet", path, "--blank-clears", stdout=StringIO())
        incident = incident_of("AIAAIC0501")
        self.assertEqual(terms(incident, "country"), [])
        self.assertEqual(entities(incident, "deployer"), [])

    def test_an_editors_change_survives_a_re_import_until_the_sheet_changes_that_value(self):
        data = sheet([row(501, "Tram braking fails", **{"Country(ies)": "UK", "Sector(s)": "Transport"})])
        sheet_import(data=data)
        incident = incident_of("AIAAIC0501")
        edited = {**incident.current_revision.document, "headline": "Tram emergency braking fails in tunnel"}
        edited["terms"] = {**edited["terms"], "country": ["United Kingdom"]}
        incident_publish(document=edited, incident=incident, summary="Edited by an editor")
        again = sheet_import(data=data)
        self.assertEqual((again.updated, again.unchanged), (0, 1))
        incident.refresh_from_db()
        self.assertEqual(incident.headline, "Tram emergency braking fails in tunnel")
        self.assertEqual(terms(incident, "country"), ["United Kingdom"])
        # A later export that changes the country the editor changed proposes it to editors;
        # the incident keeps the editor's decision meanwhile. A value the editor left as the
        # sheet said (the sector) follows the sheet.
        later = sheet([row(501, "Tram braking fails", **{"Country(ies)": "Ireland", "Sector(s)": "Health"})])
        result = sheet_import(data=later)
        self.assertEqual((result.updated, result.proposals), (1, 1))
        self.assertIn("country", notes(result, "proposed")[0])
        incident.refresh_from_db()
        self.assertEqual(incident.headline, "Tram emergency braking fails in tunnel")
        self.assertEqual(terms(incident, "country"), ["United Kingdom"])
        self.assertEqual(terms(incident, "sector"), ["Health"])

    def test_a_less_precise_period_never_replaces_a_more_precise_one(self):
        publish(
            "Tram braking fails",
            occurred="February 2021",
            source_url=LINK + "tram-braking-fails",
            slug="tram-braking-fails",
        )
        result = sheet_import(data=sheet([row(501, "Tram braking fails", Occurred="2021")]))
        self.assertEqual(result.updated, 1)  # it gains its AIAAIC id
        self.assertEqual(Incident.objects.get().occurred, "2021-02")
        self.assertIn(
            "occurred 'February 2021' kept: the file's '2021' is less precise.",
            notes(result, "kept-precise")[0],
        )
        sheet_import(data=sheet([row(501, "Tram braking fails", Occurred="March 2021")]))
        self.assertEqual(Incident.objects.get().occurred, "2021-03")  # a different period replaces it

    def test_page_then_sheet_and_sheet_then_page_give_the_same_incident(self):
        page = FIXTURES / "pages" / "welfare-fraud-algorithm-flags-single-parents.txt"
        the_row = row(
            904,
            "Welfare fraud algorithm wrongly flags single parents",
            Type="Incident",
            Released="2018",
            Occurred="2021",
            **{
                "Country(ies)": "Netherlands",
                "Sector(s)": "Govt - welfare",
                "Deployer(s)": "Ministry of Social Affairs; Eastvale Municipality",
                "Developer(s)": "Scorewell Analytics",
                "Technology(ies)": "Risk assessment algorithm; Machine learning",
                "Purpose(s)": "Detect welfare fraud",
                "Media trigger(s)": "Media investigation",
                "Issue(s)": "Bias/discrimination - income; Accountability; Privacy",
                "Transparency": "Black box; Complaints/appeals",
                "Description/links": LINK + "welfare-fraud-algorithm-flags-single-parents",
            },
        )
        data = sheet([the_row])
        call_command("import_page", str(page), stdout=StringIO())
        sheet_import(data=data)
        page_first = Incident.objects.get().current_revision.document
        Incident.objects.update(current_revision=None)
        Revision.objects.all().delete()
        Incident.objects.all().delete()
        sheet_import(data=data)
        call_command("import_page", str(page), stdout=StringIO())
        sheet_first = Incident.objects.get().current_revision.document
        self.assertEqual(page_first["occurred"], "2021-02")
        # The same values (where each came from depends on which said it first).
        self.assertEqual(documents.values_of(sheet_first), documents.values_of(page_first))


class SpellingTests(TestCase):
    def test_every_variant_is_kept_as_an_alias_and_shown_on_the_term_page(self):
        rows = [
            row(500 + n, f"Incident {n}", **{"Country(ies)": spelling})
            for n, spelling in enumerate(["UK", "U.K.", "uk ", "U.K."])
        ]
        result = sheet_import(data=sheet(rows))
        term = Term.objects.get(vocabulary__slug="country")
        self.assertEqual(term.name, "U.K.")  # the most common spelling names the term
        self.assertEqual(
            sorted(term.aliases.values_list("name", "uses")), [("U.K.", 2), ("UK", 1), ("uk", 1)]
        )
        self.assertEqual(len(notes(result, "folded")), 1)
        response = self.client.get(term.get_absolute_url())
        self.assertContains(response, "Also written: UK; uk")

    def test_the_name_follows_the_most_common_spelling_across_imports(self):
        sheet_import(data=sheet([row(501, "First", **{"Developer(s)": "Open AI"})]))
        self.assertEqual(Entity.objects.get().name, "Open AI")
        rows = [row(502 + n, f"Later {n}", **{"Developer(s)": "OpenAI"}) for n in range(3)]
        result = sheet_import(data=sheet(rows))
        openai = Entity.objects.get()
        self.assertEqual(openai.name, "OpenAI")
        self.assertEqual(
            notes(result, "renamed"),
            ["column 'organisation': 'Open AI' is now 'OpenAI', its most common spelling."],
        )
        self.assertEqual(sorted(openai.aliases.values_list("name", flat=True)), ["Open AI", "OpenAI"])
        self.assertEqual(entities(incident_of("AIAAIC0503"), "developer"), ["OpenAI"])

    def test_probable_variants_are_listed_as_merge_candidates(self):
        self.assertEqual(
            merge_candidates(
                [
                    "US",
                    "USA",
                    "UK",
                    "United Kingdom",
                    "Ukraine",
                    "Accuracy/reliability",
                    "Accuracy/reliablity",
                    "USD 23m fine",
                    "USD 30m fine",
                ]
            ),
            [("Accuracy/reliability", "Accuracy/reliablity"), ("UK", "United Kingdom"), ("US", "USA")],
        )
        self.assertEqual(
            merge_candidates(["Meta/Facebook", "Meta", "Facebook"]),
            [("Facebook", "Meta/Facebook"), ("Meta", "Meta/Facebook")],
        )
        rows = [row(501, "One", **{"Country(ies)": "US"}), row(502, "Two", **{"Country(ies)": "USA"})]
        result = sheet_import(data=sheet(rows))
        self.assertEqual(
            notes(result, "merge-candidate"), ["column 'country': 'US' and 'USA' may be one name."]
        )
        self.assertEqual(Term.objects.filter(vocabulary__slug="country").count(), 2)  # not folded

    def test_probable_variants_of_organisations_and_systems_are_listed(self):
        rows = [
            row(501, "One", **{"Deployer(s)": "Humana Inc", "System name(s)": "ChatGPT"}),
            row(502, "Two", **{"Deployer(s)": "Humana", "System name(s)": "ChatGPT"}),
            row(503, "Three", **{"Country(ies)": "S Korea; Multiple"}),
            row(504, "Four", **{"Country(ies)": "South Korea", "Sector(s)": "Multiple"}),
        ]
        result = sheet_import(data=sheet(rows))
        self.assertEqual(
            notes(result, "merge-candidate"),
            [
                "column 'country': 'S Korea' and 'South Korea' may be one name.",
                "column 'organisation': 'Humana' and 'Humana Inc' may be one name.",
                "column 'system': 2 rows named 'ChatGPT' may be one.",
            ],
        )


class KindsAndPlaceholdersTests(TestCase):
    def test_systems_of_one_name_are_one_entity_only_when_they_share_an_organisation(self):
        rows = [
            row(
                501,
                "Police facial recognition flags protesters",
                **{"Developer(s)": "Hessen Police IT", "System name(s)": "Safe City"},
            ),
            row(
                502,
                "Pet chatbot gives bad advice",
                **{"Developer(s)": "PetPal Inc", "System name(s)": "safe city"},
            ),
            row(
                503,
                "Police system misidentifies suspect",
                **{"Deployer(s)": "Hessen Police IT", "System name(s)": "Safe City"},
            ),
        ]
        sheet_import(data=sheet(rows))
        systems = Entity.objects.filter(kind=Entity.Kind.SYSTEM).order_by("pk")
        self.assertEqual(
            [(e.name, e.slug) for e in systems], [("Safe City", "safe-city"), ("safe city", "safe-city-2")]
        )
        self.assertEqual(entities(incident_of("AIAAIC0503"), "system"), ["Safe City"])
        self.assertEqual(
            incident_of("AIAAIC0503").incident_entities.get(role="system").entity_id,
            incident_of("AIAAIC0501").incident_entities.get(role="system").entity_id,
        )
        again = sheet_import(data=sheet(rows))
        self.assertEqual((again.updated, again.unchanged), (0, 3))

    def test_a_system_never_folds_into_an_organisation(self):
        sheet_import(
            data=sheet([row(501, "Fares surge", **{"Developer(s)": "Grab", "System name(s)": "Grab"})])
        )
        self.assertEqual(
            sorted(Entity.objects.values_list("kind", "slug")),
            [("organisation", "grab"), ("system", "grab-2")],
        )

    def test_placeholders_record_an_unknown_role_and_are_not_entities(self):
        rows = [
            row(
                501,
                "Deepfake robocalls",
                **{"Deployer(s)": "Unclear/unknown", "Developer(s)": "Multiple; VoiceCo"},
            )
        ]
        sheet_import(data=sheet(rows))
        incident = incident_of("AIAAIC0501")
        document = incident.current_revision.document
        self.assertEqual(document["placeholders"], {"deployer": "Unclear/unknown", "developer": "Multiple"})
        self.assertEqual(document["entities"]["developer"], ["VoiceCo"])
        self.assertEqual(list(Entity.objects.values_list("name", flat=True)), ["VoiceCo"])
        self.assertFalse(EntityAlias.objects.filter(key__in=["unclearunknown", "multiple"]).exists())
        response = self.client.get(incident.get_absolute_url())
        self.assertContains(response, '<span class="label">Deployer:</span> <span class="unknown"')
        self.assertContains(response, "Unclear/unknown</span>")

    def test_placeholders_in_a_vocabulary_are_kept_as_written_never_terms(self):
        rows = [
            row(
                501,
                "Voice clones spread",
                **{"Country(ies)": "UK; Multiple", "Sector(s)": "Unclear/unknown", "Deployer(s)": "Various"},
            ),
            row(502, "Second case", **{"Country(ies)": "multiple", "Sector(s)": "Media"}),
        ]
        sheet_import(data=sheet(rows))
        incident = incident_of("AIAAIC0501")
        document = incident.current_revision.document
        self.assertEqual(document["terms"], {"country": ["UK"]})
        self.assertEqual(
            document["placeholders"],
            {"deployer": "Various", "country": "Multiple", "sector": "Unclear/unknown"},
        )
        self.assertEqual(
            incident_of("AIAAIC0502").current_revision.document["placeholders"], {"country": "multiple"}
        )
        self.assertFalse(Term.objects.filter(name__iexact="multiple").exists())
        self.assertFalse(Term.objects.filter(vocabulary__slug="sector", name="Unclear/unknown").exists())
        self.assertFalse(TermAlias.objects.filter(key__in=["multiple", "unclearunknown"]).exists())
        self.assertFalse(Entity.objects.exists())
        # The page shows them as written, after the terms, and a vocabulary with nothing else.
        page = self.client.get(incident.get_absolute_url()).content.decode()
        self.assertIn(
            '<span class="label">Country:</span> <a href="/taxonomy/country/uk/">UK</a>; <span class="unknown"',
            page,
        )
        self.assertIn(
            '<span class="label">Sector:</span> <span class="unknown" title="The source names no one value">Unclear/unknown</span>',
            page,
        )
        self.assertIn("Various</span>", page)
        # The API and the permanent version say the same.
        api = self.client.get(f"/api/v1/incidents/{incident.slug}/").json()
        self.assertEqual(api["document"]["placeholders"]["country"], "Multiple")
        version = self.client.get(f"{incident.get_absolute_url()}v/1/")
        self.assertContains(version, '<span class="unknown">Unclear/unknown</span>')
        # The same file again changes nothing; a later file naming a country replaces it.
        again = sheet_import(data=sheet(rows))
        self.assertEqual((again.updated, again.unchanged), (0, 2))
        sheet_import(
            data=sheet([row(502, "Second case", **{"Country(ies)": "France", "Sector(s)": "Media"})])
        )
        document = incident_of("AIAAIC0502").current_revision.document
        self.assertEqual((document["terms"]["country"], document["placeholders"]), (["France"], {}))

    def test_parents_come_only_from_the_known_hierarchy(self):
        rows = [row(501, "One", **{"Sector(s)": "Govt - police", "Issue(s)": "Bias/discrimination - race"})]
        sheet_import(data=sheet(rows))
        police = Term.objects.get(name="Govt - police")
        self.assertEqual(police.parent.name, "Govt")
        self.assertIsNone(Term.objects.get(name="Bias/discrimination - race").parent)
        self.assertEqual(TermAlias.objects.filter(name="Bias/discrimination").count(), 0)


class ExternalIdRowsTests(TestCase):
    def test_the_rows_follow_the_document(self):
        incident = publish(
            "Tram braking fails",
            external_ids=[{"scheme": "aiaaic", "value": "aiaaic 7"}, {"scheme": "aiid", "value": "9"}],
        )
        self.assertEqual(
            list(ExternalId.objects.values_list("scheme", "value")), [("aiaaic", "AIAAIC0007"), ("aiid", "9")]
        )
        self.assertEqual(incident.aiaaic_id, "AIAAIC0007")
