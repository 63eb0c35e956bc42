"""Charts at /stats/ and on the home page: their numbers agree with the browse page, each has
its table and its CSV, names are escaped, and they cost a fixed number of queries."""

import csv
import io
from unittest import mock

from django.test import TestCase
from django.test.html import Element, parse_html

from repository import charts, freshness
from repository.models import Incident
from repository.tests.base import publish


def elements(node, name):
    """Every element called `name` under `node` (a parse_html tree), in document order."""
    for child in getattr(node, "children", []):
        if isinstance(child, Element):
            if child.name == name:
                yield child
            yield from elements(child, name)


def attribute(element, name):
    return dict(element.attributes).get(name)


def text(node):
    if isinstance(node, str):
        return node
    return " ".join(text(child) for child in node.children).strip()


def rows(table):
    """A table's rows as lists of cell texts (header cells included)."""
    return [
        [text(cell) for cell in row.children if isinstance(cell, Element)] for row in elements(table, "tr")
    ]


def read_csv(response):
    return list(csv.reader(io.StringIO(response.content.decode())))


class ChartsTestCase(TestCase):
    def stats(self, query=""):
        response = self.client.get("/stats/" + query)
        self.assertEqual(response.status_code, 200)
        return response

    def browse(self, query):
        response = self.client.get("/incidents/" + query)
        self.assertEqual(response.status_code, 200)
        return response

    def browse_count(self, query):
        return self.browse(query).context["page"].paginator.count

    def began_in(self, query, year):
        """How many of the browse results for `query` narrowed to `year` began that year."""
        joiner = "&" if query else "?"
        response = self.browse(f"{query}{joiner}occurred_from={year}&occurred_to={year}")
        page = response.context["page"]
        self.assertFalse(page.has_next(), "the test data fit on one page")
        return sum(1 for incident in page.object_list if incident.occurred_start.year == year)


class StatsNumbersTests(ChartsTestCase):
    @classmethod
    def setUpTestData(cls):
        def police(headline, occurred, country, technology, **extra):
            return publish(
                headline,
                occurred=occurred,
                terms={
                    "country": [country],
                    "sector": ["Govt - police"],
                    "technology": [technology],
                    "issue": ["Privacy", "Accuracy/reliability"],
                },
                **extra,
            )

        police(
            "Police face scanner misidentifies shoppers", "2019", "UK", "Facial recognition", type="incident"
        )
        police("Face scanner at a station", "March 2019", "UK", "Facial recognition")
        police("Predictive policing targets neighbourhoods", "2016-2020", "USA", "Machine learning")
        publish(
            "Welfare algorithm wrongly accuses families",
            occurred="2023-",
            terms={
                "country": ["Netherlands"],
                "sector": ["Govt - welfare"],
                "technology": ["Machine learning"],
                "issue": ["Fairness"],
            },
        )
        publish(
            "Chatbot invents court cases",
            occurred="May 2023",
            type="incident",
            terms={
                "country": ["USA"],
                "sector": ["Business/professional services"],
                "technology": ["Chatbot"],
                "issue": ["Accuracy/reliability"],
            },
        )
        publish(
            "A scoring tool of unknown date",
            terms={"country": ["USA"], "technology": ["Machine learning"], "issue": ["Fairness"]},
        )
        publish("Recommender shows extremist videos", occurred="2021", terms={"country": ["USA"]})

    def test_each_incident_counts_once_in_the_year_it_began_and_undated_ones_apart(self):
        response = self.stats()
        chart = response.context["year_chart"]
        self.assertEqual(
            chart.rows,
            [(2016, 1), (2017, 0), (2018, 0), (2019, 2), (2020, 0), (2021, 1), (2022, 0), (2023, 2)],
        )
        self.assertEqual((chart.undated, chart.total), (1, 7))
        self.assertContains(response, "1 incident without a date is in the table’s “No date” row")

    def test_the_totals_equal_the_browse_counts_for_any_filters(self):
        for query in [
            "",
            "?country=usa",
            "?country=usa&technology=machine-learning",
            "?sector=govt&issue=privacy",  # a parent term takes in its children
            "?occurred_from=2019&occurred_to=2020",
            "?occurred_from=2022",
            "?type=incident",
            "?q=scanner",
            "?country=uk&country=usa&occurred_to=2019",
        ]:
            with self.subTest(query=query):
                chart = self.stats(query).context["year_chart"]
                self.assertEqual(chart.total, self.browse_count(query))
                self.assertEqual(chart.total, sum(n for _, n in chart.rows) + chart.undated)

    def test_each_years_number_is_the_browse_results_for_that_year_that_began_in_it(self):
        for query in ["", "?country=usa", "?technology=machine-learning"]:
            chart = self.stats(query).context["year_chart"]
            for year, count in chart.rows:
                with self.subTest(query=query, year=year):
                    self.assertEqual(count, self.began_in(query, year))
        # A period over several years counts in its first only: 2016-2020 is browsed in 2019
        # too, and charted in 2016.
        self.assertEqual(self.browse_count("?occurred_from=2019&occurred_to=2019"), 3)
        self.assertEqual(dict(self.stats().context["year_chart"].rows)[2019], 2)

    def test_a_terms_numbers_equal_its_facet_count_and_its_filter_count(self):
        for query in ["", "?country=usa", "?occurred_from=2019"]:
            stats = self.stats(query)
            browse = self.browse(query)
            facets = {
                facet.name: {v.slug: v.count for v in facet.values} for facet in browse.context["facets"]
            }
            term_charts = stats.context["term_charts"]
            self.assertEqual([c.slug for c in term_charts], ["sector", "technology", "issue", "country"])
            for chart in term_charts:
                for row in chart.rows:
                    with self.subTest(query=query, vocabulary=chart.slug, term=row.slug):
                        self.assertEqual(row.total, facets[chart.slug][row.slug])
                        joiner = "&" if query else "?"
                        narrowed = f"{query}{joiner}{chart.slug}={row.slug}"
                        self.assertEqual(row.total, self.browse_count(narrowed))
                        self.assertEqual(row.total, sum(row.values) + row.undated)
                        for year, value in zip(chart.years, row.values, strict=True):
                            if value:
                                self.assertEqual(value, self.began_in(narrowed, year))

    def test_the_terms_carried_most_come_first(self):
        charts_by_slug = {chart.slug: chart for chart in self.stats().context["term_charts"]}
        self.assertEqual(
            [(row.name, row.total) for row in charts_by_slug["issue"].rows],
            [("Accuracy/reliability", 4), ("Privacy", 3), ("Fairness", 2)],
        )
        self.assertEqual(
            [(row.name, row.total) for row in charts_by_slug["country"].rows],
            [("USA", 4), ("UK", 2), ("Netherlands", 1)],
        )
        technology = charts_by_slug["technology"]
        machine_learning = technology.rows[0]
        self.assertEqual(
            (machine_learning.name, machine_learning.total, machine_learning.undated),
            ("Machine learning", 3, 1),
        )
        self.assertEqual(dict(technology.table)[2016], [1, 0, 0])
        self.assertEqual(machine_learning.browse_url, "/incidents/?technology=machine-learning")

    def test_only_the_top_terms_of_a_vocabulary_are_charted(self):
        for n in range(charts.TOP_TERMS + 2):
            publish(f"Incident in place {n}", occurred="2020", terms={"country": [f"Place {n:02d}"]})
        country = next(c for c in self.stats().context["term_charts"] if c.slug == "country")
        self.assertEqual(len(country.rows), charts.TOP_TERMS)
        self.assertEqual([row.name for row in country.rows[:3]], ["USA", "UK", "Netherlands"])
        self.assertEqual(country.rows[3].name, "Place 00")  # ties in the order of their names

    def test_each_chart_is_an_image_with_a_name_and_a_table_beside_it(self):
        page = parse_html(self.stats().content.decode())
        svgs = list(elements(page, "svg"))
        tables = list(elements(page, "table"))
        self.assertEqual(len(svgs), 5)  # per year, and four vocabularies
        self.assertEqual(len(tables), 5)
        for svg, table in zip(svgs, tables, strict=True):
            self.assertEqual(attribute(svg, "role"), "img")
            titles = {attribute(t, "id"): text(t) for t in elements(svg, "title") if attribute(t, "id")}
            descriptions = {attribute(d, "id"): text(d) for d in elements(svg, "desc")}
            self.assertTrue(titles[attribute(svg, "aria-labelledby")])
            self.assertIn("The table", descriptions[attribute(svg, "aria-describedby")])
            self.assertEqual(len(list(elements(table, "caption"))), 1)
            header = next(elements(table, "thead"))
            self.assertTrue(all(attribute(th, "scope") == "col" for th in elements(header, "th")))
            for row in elements(next(elements(table, "tbody")), "tr"):
                self.assertEqual(attribute(next(elements(row, "th")), "scope"), "row")
        self.assertEqual(
            rows(tables[0]),
            [
                ["Year", "Incidents"],
                ["2016", "1"],
                ["2017", "0"],
                ["2018", "0"],
                ["2019", "2"],
                ["2020", "0"],
                ["2021", "1"],
                ["2022", "0"],
                ["2023", "2"],
                ["No date", "1"],
                ["All", "7"],
            ],
        )
        technology = rows(tables[2])
        self.assertEqual(technology[0], ["Year", "Machine learning", "Facial recognition", "Chatbot"])
        self.assertEqual(technology[1], ["2016", "1", "0", "0"])
        self.assertEqual(technology[-2:], [["No date", "1", "0", "0"], ["All", "3", "2", "1"]])
        bars = list(elements(svgs[0], "rect"))
        self.assertEqual(len(bars), 8)  # one a year, from 2016 to 2023
        self.assertEqual(text(next(elements(bars[3], "title"))), "2019: 2 incidents")

    def test_each_chart_has_its_csv(self):
        response = self.stats()
        for name in ["years", "sector", "technology", "issue", "country"]:
            self.assertContains(response, f'href="/stats/{name}.csv"')
        years = self.client.get("/stats/years.csv")
        self.assertEqual(years["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn('attachment; filename="incidents-per-year.csv"', years["Content-Disposition"])
        self.assertEqual(
            read_csv(years),
            [
                ["Year", "Incidents"],
                ["2016", "1"],
                ["2017", "0"],
                ["2018", "0"],
                ["2019", "2"],
                ["2020", "0"],
                ["2021", "1"],
                ["2022", "0"],
                ["2023", "2"],
                ["No date", "1"],
            ],
        )
        issue = read_csv(self.client.get("/stats/issue.csv"))
        self.assertEqual(issue[0], ["Year", "Accuracy/reliability", "Privacy", "Fairness"])
        self.assertEqual(issue[1], ["2016", "1", "1", "0"])
        self.assertEqual(issue[4], ["2019", "2", "2", "0"])
        self.assertEqual(issue[8], ["2023", "1", "0", "1"])
        self.assertEqual(issue[9], ["No date", "0", "0", "1"])
        self.assertEqual(self.client.get("/stats/purpose.csv").status_code, 404)
        self.assertEqual(self.client.get("/stats/nothing.csv").status_code, 404)

    def test_the_filtered_variant_charts_the_browse_pages_results(self):
        browse = self.browse("?country=usa&type=incident&page=1")
        self.assertContains(browse, '<a href="/stats/?country=usa&amp;type=incident">Chart these results</a>')
        response = self.stats("?country=usa&type=incident")
        self.assertEqual(response.context["year_chart"].rows, [(2023, 1)])
        self.assertContains(response, "<h1>Charts of selected incidents</h1>", html=True)
        self.assertContains(response, "<li>Country: USA</li>", html=True)
        self.assertContains(response, "<li>Type: Incident</li>", html=True)
        self.assertContains(response, 'href="/incidents/?country=usa&amp;type=incident"')
        self.assertContains(response, 'href="/stats/years.csv?country=usa&amp;type=incident"')
        self.assertEqual(
            read_csv(self.client.get("/stats/country.csv?country=usa&type=incident")),
            [["Year", "USA"], ["2023", "1"]],
        )
        technology = next(c for c in response.context["term_charts"] if c.slug == "technology")
        self.assertEqual(
            technology.rows[0].browse_url, "/incidents/?country=usa&type=incident&technology=chatbot"
        )

    def test_filters_it_cannot_apply_are_reported(self):
        response = self.stats("?occurred_from=someday&country=usa")
        self.assertContains(response, "Some filters were not applied")
        self.assertEqual(response.context["year_chart"].total, self.browse_count("?country=usa"))


class HostileNamesTests(ChartsTestCase):
    @classmethod
    def setUpTestData(cls):
        publish(
            "Hostile names",
            occurred="2022",
            terms={
                "country": ['<script>alert("country")</script>'],
                "sector": ['"><svg onload=alert(1)>'],
                "technology": ['=HYPERLINK("http://evil.example")'],
                "issue": ["</title><desc>injected</desc>"],
            },
        )

    def test_names_are_escaped_in_the_svg_and_the_table(self):
        response = self.stats()
        html = response.content.decode()
        self.assertNotIn("<script>alert", html)
        self.assertNotIn("<svg onload", html)
        self.assertNotIn("</title><desc>injected", html)
        self.assertIn("&lt;script&gt;alert(&quot;country&quot;)&lt;/script&gt;", html)
        page = parse_html(html)
        country = list(elements(page, "svg"))[4]
        self.assertIn('<script>alert("country")</script>', [text(t) for t in elements(country, "title")])
        table = list(elements(page, "table"))[4]
        self.assertEqual(rows(table)[0], ["Year", '<script>alert("country")</script>'])
        self.assertEqual(len(list(elements(page, "script"))), 0)

    def test_a_name_a_spreadsheet_would_run_is_not_a_formula_in_the_csv(self):
        technology = read_csv(self.client.get("/stats/technology.csv"))
        self.assertEqual(technology[0], ["Year", '\'=HYPERLINK("http://evil.example")'])


class EmptyStatesTests(ChartsTestCase):
    def test_no_incidents_says_so_and_draws_nothing(self):
        response = self.stats()
        self.assertContains(response, "No incidents have been published yet, so there is nothing to chart.")
        self.assertNotContains(response, "<svg")
        self.assertNotContains(response, "<table")
        self.assertEqual(read_csv(self.client.get("/stats/years.csv")), [["Year", "Incidents"]])
        home = self.client.get("/")
        self.assertContains(home, "No incidents have been published yet.")
        self.assertNotContains(home, "<svg")

    def test_filters_that_match_nothing_say_so(self):
        publish("Something", occurred="2020", terms={"country": ["UK"]})
        response = self.stats("?country=france")
        self.assertContains(response, "No incidents match these filters, so there is nothing to chart.")
        self.assertNotContains(response, "<svg")
        self.assertEqual(read_csv(self.client.get("/stats/country.csv?country=france")), [["Year"]])

    def test_incidents_without_dates_are_counted_but_not_drawn(self):
        publish("Undated one", terms={"country": ["UK"]})
        publish("Undated two", terms={"country": ["UK"]})
        response = self.stats()
        self.assertEqual(response.context["year_chart"].total, 2)
        self.assertContains(response, "None of these incidents has a date, so there is no year to draw.")
        self.assertNotContains(response, "<svg")
        self.assertEqual(
            read_csv(self.client.get("/stats/years.csv")), [["Year", "Incidents"], ["No date", "2"]]
        )
        self.assertEqual(read_csv(self.client.get("/stats/country.csv")), [["Year", "UK"], ["No date", "2"]])
        self.assertNotContains(self.client.get("/"), "<svg")

    def test_a_vocabulary_nobody_uses_says_so(self):
        publish("Something", occurred="2020", terms={"country": ["UK"]})
        self.assertContains(self.stats(), "No issue is recorded for these incidents.")


class HomeChartTests(ChartsTestCase):
    def test_the_home_page_shows_incidents_per_year_with_its_table(self):
        publish("One", occurred="2018")
        publish("Two", occurred="2020-2022")
        publish("Three")
        response = self.client.get("/")
        page = parse_html(response.content.decode())
        (svg,) = elements(page, "svg")
        self.assertEqual(attribute(svg, "role"), "img")
        (table,) = elements(page, "table")
        self.assertEqual(
            rows(table),
            [
                ["Year", "Incidents"],
                ["2018", "1"],
                ["2019", "0"],
                ["2020", "1"],
                ["No date", "1"],
                ["All", "3"],
            ],
        )
        self.assertContains(response, 'href="/stats/"')
        self.assertContains(response, 'href="/stats/years.csv"')


class CachingTests(ChartsTestCase):
    def test_publishing_shows_at_once_in_the_cached_charts(self):
        with self.captureOnCommitCallbacks(execute=True):
            publish("First", occurred="2020")
        self.assertEqual(self.stats().context["year_chart"].total, 1)
        with self.assertNumQueries(1):  # vocabularies; the numbers come from the cache
            self.assertEqual(self.stats().context["year_chart"].total, 1)
        with self.captureOnCommitCallbacks(execute=True):
            publish("Second", occurred="2021")
        self.assertEqual(self.stats().context["year_chart"].rows, [(2020, 1), (2021, 1)])
        self.assertEqual(self.client.get("/").context["year_chart"].total, 2)

    def test_the_charts_work_when_the_cache_is_down(self):
        publish("First", occurred="2020")
        with (
            mock.patch.object(freshness.cache, "get", side_effect=ConnectionError),
            mock.patch.object(freshness.cache, "set", side_effect=ConnectionError),
            mock.patch.object(freshness.cache, "add", side_effect=ConnectionError),
        ):
            self.assertEqual(self.stats().context["year_chart"].total, 1)
            self.assertEqual(self.client.get("/").status_code, 200)


class StatsQueryCountTests(ChartsTestCase):
    """The charts cost the same number of queries whatever the number of incidents and terms."""

    def populate(self, start, count):
        with self.captureOnCommitCallbacks(execute=True):  # publishing renews the cache's key
            for n in range(start, start + count):
                publish(
                    f"Incident number {n}",
                    occurred=f"{2000 + n % 20}" if n % 9 else "",
                    terms={
                        "country": [f"Country {n % 7}", "Everywhere"],
                        "sector": [f"Sector {n % 5}"],
                        "technology": ["Machine learning", f"Technique {n}"],
                        "issue": [f"Issue {n % 11}"],
                    },
                )

    def counts(self, url, cold, warm):
        with self.assertNumQueries(cold):
            first = self.client.get(url)
        with self.assertNumQueries(warm):
            self.client.get(url)
        return first

    def test_the_stats_page_at_two_sizes(self):
        self.populate(0, 4)
        # vocabularies; incidents per year; top terms per vocabulary; their counts per year
        small = self.counts("/stats/", 4, 1)
        self.populate(4, 40)
        large = self.counts("/stats/", 4, 1)
        self.assertEqual(small.context["year_chart"].total, 4)
        self.assertEqual(large.context["year_chart"].total, 44)

    def test_the_filtered_stats_page_at_two_sizes(self):
        url = "/stats/?country=everywhere&technology=machine-learning&occurred_to=2015"
        self.populate(0, 4)
        # vocabularies; the chosen terms (ids and names, once); [incidents per year; top terms;
        # their counts per year]
        small = self.counts(url, 5, 2)
        self.assertEqual(small.context["year_chart"].total, 3)
        self.populate(4, 40)
        large = self.counts(url, 5, 2)
        self.assertEqual(large.context["year_chart"].total, self.browse_count(url.removeprefix("/stats/")))
        self.assertGreater(large.context["year_chart"].total, 20)

    def test_the_csv_at_two_sizes(self):
        self.populate(0, 4)
        self.counts("/stats/years.csv", 2, 1)  # vocabularies; incidents per year
        self.counts("/stats/sector.csv", 3, 1)  # and the top terms, and their counts per year
        self.populate(4, 40)
        self.counts("/stats/years.csv", 2, 1)
        self.counts("/stats/sector.csv", 3, 1)

    def test_the_home_page_at_two_sizes(self):
        self.populate(0, 4)
        # latest; their countries and sectors; deployers; [three counts; incidents per year]
        self.counts("/", 7, 3)
        self.populate(4, 40)
        home = self.counts("/", 7, 3)
        self.assertEqual(home.context["year_chart"].total, Incident.objects.count())
