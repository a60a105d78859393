"""The stored form of breakdown lines: short arrays, read back as the spec's lines."""

import json

from matrix.engine.lines import lines_decode, lines_encode

SPEC_LINES = [
    {"type": "criterion", "key": "industry-tech", "dimension": "fit", "points": 15.0, "count": 1, "events": []},
    {"type": "criterion", "key": "student", "dimension": "fit", "points": -20.0, "count": 1, "events": []},
    {
        "type": "criterion",
        "key": "blog-visit",
        "dimension": "engagement",
        "points": 10.0,
        "count": 2,
        "events": ["E-2", None],
    },
    {"type": "decay", "key": "inactivity", "points": -10.0},
]


def test_spec_lines_survive_the_short_form_unchanged():
    # Given the lines a score has (an event without an external id included)
    # When they are stored and read back
    stored = lines_encode(SPEC_LINES)
    # Then they are the same lines, stored as short arrays in document order
    assert lines_decode(stored) == SPEC_LINES
    assert json.loads(stored) == [
        ["f", "industry-tech", 15.0],
        ["f", "student", -20.0],
        ["e", "blog-visit", 10.0, 2, ["E-2", None]],
        ["d", "inactivity", -10.0],
    ]


def test_the_text_the_bulk_statement_writes_reads_as_spec_lines():
    # Given the text the SQL path assembles (numbers as Postgres prints them)
    stored = '[["f", "size", 15], ["e", "demo", 50.00, 1, ["E-9"]], ["d", "idle", -10.00]]'
    # Then points read as numbers and every line has the spec's fields
    assert lines_decode(stored) == [
        {"type": "criterion", "key": "size", "dimension": "fit", "points": 15.0, "count": 1, "events": []},
        {"type": "criterion", "key": "demo", "dimension": "engagement", "points": 50.0, "count": 1, "events": ["E-9"]},
        {"type": "decay", "key": "idle", "points": -10.0},
    ]


def test_lines_in_the_long_form_read_as_they_are():
    # Lines stored before the short form (or written by hand) are objects: they pass through.
    odd = [{"type": "criterion", "key": "vp", "points": 50.0}]
    assert lines_decode(json.dumps(SPEC_LINES[:1] + odd)) == SPEC_LINES[:1] + odd
    assert lines_decode(lines_encode(odd)) == odd
    assert lines_decode(None) == []
