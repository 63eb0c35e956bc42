from datetime import date

from django.test import SimpleTestCase

from repository.periods import (
    DAY,
    MONTH,
    YEAR,
    PeriodError,
    parse_partial_date,
    parse_period,
    period_human,
    period_iso,
)


class AcceptedSpellingTests(SimpleTestCase):
    # written -> (ISO form, human form, precision, first day, last day)
    SPELLINGS = {
        "2021": ("2021", "2021", YEAR, date(2021, 1, 1), date(2021, 12, 31)),
        "February 2021": ("2021-02", "February 2021", MONTH, date(2021, 2, 1), date(2021, 2, 28)),
        "Feb 2021": ("2021-02", "February 2021", MONTH, date(2021, 2, 1), date(2021, 2, 28)),
        "12 February 2021": ("2021-02-12", "12 February 2021", DAY, date(2021, 2, 12), date(2021, 2, 12)),
        "2021-02": ("2021-02", "February 2021", MONTH, date(2021, 2, 1), date(2021, 2, 28)),
        "2021-02-12": ("2021-02-12", "12 February 2021", DAY, date(2021, 2, 12), date(2021, 2, 12)),
        "2019-2024": ("2019/2024", "2019-2024", YEAR, date(2019, 1, 1), date(2024, 12, 31)),
        "2019 - 2024": ("2019/2024", "2019-2024", YEAR, date(2019, 1, 1), date(2024, 12, 31)),
        "2019/2024": ("2019/2024", "2019-2024", YEAR, date(2019, 1, 1), date(2024, 12, 31)),
        "2023-": ("2023/..", "2023-", YEAR, date(2023, 1, 1), None),
        "2023/..": ("2023/..", "2023-", YEAR, date(2023, 1, 1), None),
        "2023 -": ("2023/..", "2023-", YEAR, date(2023, 1, 1), None),
        "May 2022-": ("2022-05/..", "May 2022-", MONTH, date(2022, 5, 1), None),
        "March 2020 - June 2021": (
            "2020-03/2021-06",
            "March 2020 - June 2021",
            MONTH,
            date(2020, 3, 1),
            date(2021, 6, 30),
        ),
    }

    def test_every_accepted_spelling_reads_to_its_iso_form(self):
        for text, (iso, *_rest) in self.SPELLINGS.items():
            with self.subTest(text=text):
                self.assertEqual(parse_period(text).iso(), iso)
                self.assertEqual(period_iso(text), iso)

    def test_every_accepted_spelling_has_its_human_form(self):
        for text, (iso, human, *_rest) in self.SPELLINGS.items():
            with self.subTest(text=text):
                self.assertEqual(parse_period(text).human(), human)
                self.assertEqual(period_human(iso), human)

    def test_every_accepted_spelling_covers_its_first_and_last_day(self):
        for text, (_iso, _human, precision, first, last) in self.SPELLINGS.items():
            with self.subTest(text=text):
                period = parse_period(text)
                self.assertEqual(period.precision, precision)
                self.assertEqual(period.first_day, first)
                self.assertEqual(period.last_day, last)

    def test_the_iso_form_reads_back_to_the_same_period(self):
        for text in self.SPELLINGS:
            with self.subTest(text=text):
                period = parse_period(text)
                self.assertEqual(parse_period(period.iso()), period)

    def test_an_open_range_is_open_and_has_no_last_day(self):
        period = parse_period("2023-")
        self.assertTrue(period.open)
        self.assertIsNone(period.last_day)

    def test_a_closed_range_is_not_open(self):
        self.assertFalse(parse_period("2019-2024").open)

    def test_a_leap_february_ends_on_the_29th(self):
        self.assertEqual(parse_period("February 2020").last_day, date(2020, 2, 29))

    def test_stray_spaces_and_case_do_not_matter(self):
        self.assertEqual(period_iso("  february   2021 "), "2021-02")

    def test_a_range_that_starts_and_ends_on_the_same_month_is_that_month(self):
        period = parse_period("Feb 2021 - February 2021")
        self.assertEqual(period.iso(), "2021-02")
        self.assertIsNone(period.end)

    def test_an_empty_value_is_no_period(self):
        self.assertIsNone(parse_period(""))
        self.assertIsNone(parse_period("   "))
        self.assertIsNone(parse_period(None))
        self.assertEqual(period_iso(""), "")
        self.assertEqual(period_human(""), "")

    def test_a_single_date_reads_with_the_month_first_too(self):
        self.assertEqual(parse_partial_date("February 12, 2021").iso(), "2021-02-12")


class BadPeriodTests(SimpleTestCase):
    def assertPeriodError(self, text, *fragments):
        with self.assertRaises(PeriodError) as caught:
            parse_period(text)
        message = str(caught.exception)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_a_thirteenth_month_is_an_error_naming_the_month(self):
        self.assertPeriodError("2021-13", "month", "2021-13", "between 1 and 12")

    def test_a_year_with_a_letter_in_it_cannot_be_read(self):
        self.assertPeriodError("20x1", "cannot read", "20x1")

    def test_a_range_that_ends_before_it_starts_is_an_error(self):
        self.assertPeriodError("2024-2019", "2024-2019", "ends before it starts")
        self.assertPeriodError("June 2021 - March 2020", "ends before it starts")

    def test_a_day_that_does_not_exist_is_an_error(self):
        self.assertPeriodError("2021-02-30", "not a real day")

    def test_an_unknown_month_name_is_an_error(self):
        self.assertPeriodError("Febtober 2021", "febtober", "not a month")

    def test_a_year_out_of_range_is_an_error(self):
        self.assertPeriodError("1850", "out of range")

    def test_words_are_an_error(self):
        self.assertPeriodError("sometime", "cannot read", "sometime")

    def test_a_bad_end_of_a_range_is_an_error(self):
        self.assertPeriodError("2019-20x4", "cannot read")

    def test_a_period_error_is_a_value_error(self):
        self.assertTrue(issubclass(PeriodError, ValueError))
