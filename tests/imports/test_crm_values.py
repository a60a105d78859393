"""Reading CRM values (imports/crm_values.py): numbers, ranges, dates and time zones, delimiters."""

import pytest

from imports.crm_values import ImportOptions, number, sniff_delimiter, timestamp
from leads.rows import RowError


@pytest.mark.parametrize(
    ("value", "decimal", "plain"),
    [
        ("1,000", ".", "1000"),
        ("$1,200,000", ".", "1200000"),
        ("USD 50,000.75", ".", "50000.75"),
        ("1 000", ".", "1000"),
        ("-1,250.5", ".", "-1250.5"),
        ("1.5e6", ".", "1.5e6"),
        (" 250 ", ".", "250"),
        ("€ 1.200.000,50", ",", "1200000.50"),
        ("12.000", ",", "12000"),
        ("12,5", ",", "12.5"),
        ("2.000,00 EUR", ",", "2000.00"),
        ("51-200", ".", "51"),
        ("1,001 – 5,000", ".", "1001"),
        ("10001+", ".", "10001"),
        ("10.001+", ",", "10001"),
        ("", ".", None),
    ],
)
def test_numbers_as_crms_write_them(value, decimal, plain):
    assert number(value, name="employees", decimal=decimal) == (plain, "")


@pytest.mark.parametrize(
    ("value", "decimal", "message"),
    [
        ("1,5", ".", "'1,5' is not a number (is the decimal separator a comma?"),
        ("1,0000", ".", "is not a number"),
        ("many", ".", "'many' is not a number"),
        ("NaN", ".", "is not a number"),
        ("٣", ".", "is not a number"),
        ("200-51", ".", "lower bound is above its upper bound"),
        ("lots+", ".", "is not a number or a range"),
    ],
)
def test_what_is_no_number_is_refused_with_a_reason(value, decimal, message):
    with pytest.raises(RowError, match=message.replace("(", r"\(").replace("?", r"\?")):
        number(value, name="employees", decimal=decimal)


def test_a_range_can_be_kept_as_text():
    assert number("51-200", name="employees", ranges="text") == (None, "employees: the range '51-200' is kept as text")


@pytest.mark.parametrize(
    ("value", "date_format", "zone", "iso"),
    [
        ("8/8/2026", "us", "UTC", "2026-08-08T00:00:00+00:00"),
        ("8/31/2026 2:03 PM", "us", "America/New_York", "2026-08-31T14:03:00-04:00"),
        ("12/1/2026 12:00 AM", "us", "UTC", "2026-12-01T00:00:00+00:00"),
        ("08.08.2026", "eu", "Europe/Berlin", "2026-08-08T00:00:00+02:00"),
        ("31.07.2026 09:30", "eu", "Europe/Berlin", "2026-07-31T09:30:00+02:00"),
        ("1/2/2026", "eu", "UTC", "2026-02-01T00:00:00+00:00"),
        ("2026-08-08 14:03", "iso", "Asia/Tokyo", "2026-08-08T14:03:00+09:00"),
        ("2026-08-08 14:03", "us", "UTC", "2026-08-08T14:03:00+00:00"),
        ("2026-08-08T14:03:00-05:00", "eu", "Europe/Berlin", "2026-08-08T14:03:00-05:00"),
        ("2026-08-08 14:03 UTC", "iso", "", "2026-08-08T14:03:00+00:00"),
        ("2026-01-15", "iso", "Europe/Berlin", "2026-01-15T00:00:00+01:00"),
    ],
)
def test_dates_in_the_chosen_order_and_zone(value, date_format, zone, iso):
    assert timestamp(value, name="created_at", date_format=date_format, timezone=zone) == iso


@pytest.mark.parametrize(
    ("value", "date_format", "zone", "message"),
    [
        ("8/8/2026", "iso", "UTC", "is not ISO 8601: choose the date format of the file"),
        ("31/8/2026", "us", "UTC", "is not a valid month/day date .* is the file in EU day/month order"),
        ("8/31/2026", "eu", "UTC", "is not a valid day/month date .* is the file in US month/day order"),
        ("13:00 PM", "us", "UTC", "is not a date"),
        ("8/8/2026 13:00 PM", "us", "UTC", "has hour 13 with AM/PM"),
        ("2026-08-08 14:03", "iso", "", "has no UTC offset .*choose a time zone"),
    ],
)
def test_dates_that_cannot_be_read_say_why(value, date_format, zone, message):
    with pytest.raises(RowError, match=message):
        timestamp(value, name="created_at", date_format=date_format, timezone=zone)


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("Name;Revenue;Owner\nAcme;$1,200,000;Riley Rep\n", ";"),
        ('Name,Company\n"Ada","Analytical; Ltd"\n', ","),
        ("Name\tCompany\nAda\tAnalytical, Ltd\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ("email\nada@example.com\n", ","),
        ('Lead ID;Company\n1;"Client; SARL"\n2;Berg\n', ";"),
    ],
)
def test_the_delimiter_is_sniffed(text, delimiter):
    assert sniff_delimiter(text) == delimiter


def test_options_name_what_is_wrong():
    options = ImportOptions(decimal=";", date_format="mdy", timezone="Mars/Olympus", ranges="upper")
    assert [p.split(":")[0] for p in options.problems()] == ["decimal", "date format", "ranges", "time zone"]
    assert ImportOptions(timezone="Europe/Berlin").problems() == []
