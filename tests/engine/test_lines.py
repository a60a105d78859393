"""The stored form of breakdown lines: short arrays, read back as the spec's lines."""

import json

from engine.document import parse_document
from engine.lines import lines_decode, lines_encode, lines_priced
from tests.matrix.helpers import cond, doc, eng, fit, once, step

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


def test_a_later_line_of_a_key_replaces_the_earlier_and_x_removes_it():
    # Given a text a recount appended to (engine/recount.py): a new blog line, and pricing gone
    stored = json.dumps(
        [
            ["f", "industry-tech", 15],
            ["e", "blog-visit", 5, 1, ["E-1"]],
            ["e", "pricing", 20, 2, ["P-1", "P-2"]],
            ["d", "inactivity", -10.0],
            ["e", "blog-visit", 10, 2, ["E-2", None]],
            ["x", "pricing"],
        ]
    )
    # Then each key reads as its last line, in the place of its first, and pricing reads as none
    assert lines_decode(stored) == [SPEC_LINES[0], SPEC_LINES[2], SPEC_LINES[3]]
    # And a key marked gone and then given a line again has that line
    assert lines_decode(json.dumps([["x", "student"], ["f", "student", -20]])) == [SPEC_LINES[1]]


# --- lines priced by the score's version ---------------------------------------------------------


def priced_model(*, tech=15, blog=10, floor=0) -> dict:
    return doc(
        criteria=[
            fit("industry-tech", cond("industry", "eq", "Tech"), points=tech),
            fit("student", cond("title", "contains", "student"), points=-20),
            eng("blog-visit", "page_view", points=blog),
        ],
        decay=[step("inactivity", 7, points=-5), once("gone", 60, points=-30)],
        engagement_floor=floor,
    )


# The basis a bulk rescore stored for SPEC_LINES: both fit flags, two blog visits, two idle steps,
# not gone, segment 0.
BASIS = "[1,1,2,2,0,0]"


def test_lines_made_from_counts_take_the_points_of_the_scores_version():
    # Given the lines stored when the score was made by a version (tech 15, blog 10)
    # When a version with other points (tech 25, blog 12) reads them with the same counts
    lines = lines_priced(SPEC_LINES, spec=parse_document(priced_model(tech=25, blog=12)), basis=BASIS)
    # Then each criterion line has the new points times its count, with its events unchanged,
    # and the decay is taken afresh: two 7-day steps of 5 from the 24 points earned
    assert [(x["key"], x["points"]) for x in lines] == [
        ("industry-tech", 25.0),
        ("student", -20.0),
        ("blog-visit", 24.0),
        ("inactivity", -10.0),
    ]
    assert lines[2]["events"] == ["E-2", None] and lines[2]["count"] == 2


def test_decay_from_counts_erodes_only_the_headroom_over_the_floor():
    # Given a floor of 16 and two visits at 9 points: 2 points of headroom for a 10-point decay
    spec = parse_document(priced_model(blog=9, floor=16))
    lines = lines_priced(SPEC_LINES, spec=spec, basis=BASIS)
    # Then the decay line takes 2, and a rule with no units makes no line
    assert [(x["key"], x["points"]) for x in lines][2:] == [("blog-visit", 18.0), ("inactivity", -2.0)]
    # And with no headroom at all, no decay line is left
    spec = parse_document(priced_model(blog=8, floor=16))
    assert [x["type"] for x in lines_priced(SPEC_LINES, spec=spec, basis=BASIS)] == ["criterion"] * 3


def test_lines_that_do_not_fit_the_version_are_read_as_stored():
    # A version with other criteria (never written so: counts are reused only under one structure)
    other = parse_document(doc(criteria=[fit("size", cond("employees", "gte", 50))], decay=[]))
    assert lines_priced(SPEC_LINES, spec=other, basis="[1,0]") == SPEC_LINES
    assert lines_priced(SPEC_LINES, spec=parse_document(priced_model()), basis="[1,0]") == SPEC_LINES
