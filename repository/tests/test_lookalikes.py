"""Spelling variants of terms, organisations and systems (`repository.lookalikes`)."""

from django.test import SimpleTestCase

from repository.lookalikes import clusters, merge_candidates


def shown(found):
    """Each cluster as (preferred, [(variant, uses)]), with the preferred spelling's uses."""
    return [
        (
            (cluster.preferred["name"], cluster.preferred["count"]),
            [(a["name"], a["count"]) for a, _b, _why in cluster.merges],
        )
        for cluster in found
    ]


class LookalikeTests(SimpleTestCase):
    def test_an_acronym_in_brackets_meets_the_acronym_and_the_words(self):
        rows = [
            (1, "Federal Bureau of Investigation (FBI)", 4),
            (2, "FBI", 2),
            (3, "Federal Bureau of Investigation", 1),
            (4, "Department for Education (UK)", 3),
            (5, "Department for Education (US)", 2),
        ]
        self.assertEqual(
            shown(clusters("organisation", rows)),
            [
                (
                    ("Federal Bureau of Investigation (FBI)", 4),
                    [("FBI", 2), ("Federal Bureau of Investigation", 1)],
                )
            ],
        )

    def test_a_name_with_and_without_a_company_form_or_the(self):
        rows = [
            (1, "Humana", 1),
            (2, "Humana Inc", 2),
            (3, "NEC Corp.", 1),
            (4, "NEC Corporation", 1),
            (5, "The New York Times", 3),
            (6, "New York Times Co", 1),
            (7, "Coca", 1),  # a company form alone is a name, not a form
        ]
        found = clusters("organisation", rows)
        self.assertEqual(
            shown(found),
            [
                (("The New York Times", 3), [("New York Times Co", 1)]),
                (("Humana Inc", 2), [("Humana", 1)]),
                (("NEC Corporation", 1), [("NEC Corp.", 1)]),
            ],
        )
        self.assertEqual(
            [why for cluster in found for _a, _b, why in cluster.merges],
            [
                "“The New York Times” is used more",
                "“Humana Inc” is used more",
                "as many uses each: the longer name",
            ],
        )

    def test_systems_of_one_name_and_of_one_spelling_but_for_case(self):
        rows = [(1, "ChatGPT", 169), (2, "ChatGPT", 1), (3, "Chatgpt", 2), (4, "GPT-3", 5), (5, "GPT-3.5", 4)]
        found = clusters("system", rows)
        self.assertEqual(shown(found), [(("ChatGPT", 169), [("Chatgpt", 2), ("ChatGPT", 1)])])
        self.assertEqual(
            [(a["pk"], b["pk"], why) for a, b, why in found[0].merges],
            [(3, 1, "“ChatGPT” is used more"), (2, 1, "“ChatGPT” is used more")],
        )

    def test_abbreviated_words(self):
        rows = [
            (1, "S Korea", 20),
            (2, "South Korea", 1),
            (3, "N Korea", 2),
            (4, "Govt - police", 5),
            (5, "Government - police", 1),
            (6, "Sangfor Technologies", 1),
            (7, "SN Technologies", 1),
        ]
        self.assertEqual(
            shown(clusters("country", rows)),
            [(("South Korea", 1), [("S Korea", 20)]), (("Govt - police", 5), [("Government - police", 1)])],
        )

    def test_us_and_usa_are_offered_but_numbers_tell_versions_apart(self):
        self.assertEqual(
            merge_candidates(["US", "USA", "GPT-3", "GPT-3.5", "DALL-E", "DALL-E 2"]), [("US", "USA")]
        )

    def test_a_combined_name_is_related_to_its_parts_without_joining_them(self):
        rows = [
            (1, "Alphabet/Google", 111),
            (2, "Google", 1),
            (3, "Alphabet/Google/YouTube", 16),
            (4, "YouTube", 2),
        ]
        self.assertEqual(
            shown(clusters("organisation", rows)),
            [
                (("Alphabet/Google", 111), [("Google", 1)]),
                (("Alphabet/Google/YouTube", 16), [("YouTube", 2)]),
                (("Alphabet/Google/YouTube", 16), [("Google", 1)]),
            ],
        )

    def test_placeholders_are_never_variants(self):
        rows = [
            (1, "Multiple", 231),
            (2, "multiple", 1),
            (3, "Unclear/unknown", 4),
            (4, "Unknown", 2),
            (5, "N/A", 1),
        ]
        self.assertEqual(clusters("country", rows), [])
        self.assertEqual(merge_candidates(["Multiple", "multiple", "Unknown", "Unclear/unknown"]), [])

    def test_names_sharing_words_are_not_variants(self):
        cities = ["Detroit", "Dallas", "Dayton", "Denver", "Durham", "Dublin", "Dundee", "Derby"]
        rows = [(n, f"{city} Police Department", 1) for n, city in enumerate(cities)]
        self.assertEqual(clusters("organisation", rows), [])

    def test_an_acronym_of_several_names_relates_them_without_joining_them(self):
        rows = [
            (1, "DPD", 1),
            (2, "Detroit Police Department", 3),
            (3, "Dallas Police Department", 1),
            (4, "Metropolitan Police Service (MPS)", 10),
            (5, "Mps", 1),
            (6, "Ministry of Public Security", 1),
            (7, "UK", 190),
            (8, "United Kingdom", 1),
        ]
        found = clusters("organisation", rows)
        self.assertEqual(
            [(cluster.related, [item["name"] for item in cluster.members]) for cluster in found],
            [
                (False, ["UK", "United Kingdom"]),
                (False, ["Metropolitan Police Service (MPS)", "Mps"]),
                (True, ["Detroit Police Department", "DPD"]),
                (True, ["Dallas Police Department", "DPD"]),
                (True, ["Ministry of Public Security", "Mps"]),
            ],
        )
