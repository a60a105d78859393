"""How a stored score keeps its breakdown lines (spec section 7): short JSON arrays, expanded on read.

    ["f", key, points]                      a fit criterion that holds (count 1, no events)
    ["e", key, points, count, [ids...]]     an engagement criterion with its counted events
    ["d", key, points]                      a decay rule's effective (negative) points

The bulk rescore writes a line for every matching criterion of every lead: spelled out as
objects ({"type": "criterion", "key": ..., "dimension": ...}) a lead's lines came to ~940 bytes,
and building, copying and storing that text was a large share of a full rescore
(docs/benchmarks.md). The short form carries the same facts. Readers never see it: the model
field decodes it (leads.models.BreakdownField), and raw-SQL readers call `lines_decode`.
A line stored in the long form (before this format, or one a test wrote by hand) reads as is.
"""

import json

FIT, ENGAGEMENT, DECAY = "f", "e", "d"


def lines_decode(stored) -> list[dict]:
    """The spec's breakdown lines from stored text (or an already parsed list)."""
    if stored is None:
        return []
    items = json.loads(stored) if isinstance(stored, (str, bytes)) else stored
    return [_expand(item) for item in items]


def _expand(item) -> dict:
    if not isinstance(item, list):
        return item
    tag, key, points = item[0], item[1], float(item[2])
    if tag == FIT:
        return {"type": "criterion", "key": key, "dimension": "fit", "points": points, "count": 1, "events": []}
    if tag == ENGAGEMENT:
        line = {"type": "criterion", "key": key, "dimension": "engagement", "points": points}
        return {**line, "count": item[3], "events": item[4]}
    return {"type": "decay", "key": key, "points": points}


def lines_encode(lines: list[dict]) -> str:
    """The stored text of spec breakdown lines (the inverse of `lines_decode`)."""
    return json.dumps([_shorten(line) for line in lines])


def _shorten(line: dict):
    if line.get("type") == "decay" and set(line) == {"type", "key", "points"}:
        return [DECAY, line["key"], line["points"]]
    if line.get("type") == "criterion" and set(line) == {"type", "key", "dimension", "points", "count", "events"}:
        if line["dimension"] == "fit" and line["count"] == 1 and not line["events"]:
            return [FIT, line["key"], line["points"]]
        if line["dimension"] == "engagement":
            return [ENGAGEMENT, line["key"], line["points"], line["count"], line["events"]]
    return line
