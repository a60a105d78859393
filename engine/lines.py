"""How a stored score keeps its breakdown lines (spec section 7): short JSON arrays, expanded on read.

    ["f", key, points]                      a fit criterion that holds (count 1, no events)
    ["e", key, points, count, [ids...]]     an engagement criterion with its counted events
    ["d", key, points]                      a decay rule's effective (negative) points
    ["x", key]                              the key has no line (any earlier one is gone)

A recount of some criteria (engine/recount.py) writes the new lines of their keys, and an "x"
for a key that no longer has one, to the score's tail (scoring.models.Score.lines_tail), read
after the breakdown's lines: a later line of a key replaces an earlier one, and `lines_decode`
gives each key's last line, in the place of its first. A tail is appended to, not edited:
dropping the old lines in SQL takes a regular expression over every changed text (3.9 s for
150,000 texts against 0.37 s to append, docs/performance.md).

The bulk rescore writes a line for every matching criterion of every lead: spelled out as
objects ({"type": "criterion", "key": ..., "dimension": ...}) a lead's lines came to ~940 bytes,
and building, copying and storing that text was a large share of a full rescore
(docs/performance.md). The short form carries the same facts. Readers never see it: the model
field decodes it (scoring.models.BreakdownField), and raw-SQL readers call `lines_decode`.
A line stored in the long form (before this format, or one a test wrote by hand) reads as is.

A score made from stored counts (one with a *basis*, engine/reuse.py) has its points set on read,
by `lines_priced`: a rescore that only changes points leaves its stored lines as they were.
"""

import json

from engine.document import ModelSpec
from engine.single import effective_decay
from engine.values import running_cents

FIT, ENGAGEMENT, DECAY, GONE = "f", "e", "d", "x"


def lines_decode(stored) -> list[dict]:
    """The spec's breakdown lines from stored text (or an already parsed list): each key's last
    line, none for a key whose last word is GONE."""
    if stored is None:
        return []
    items = json.loads(stored) if isinstance(stored, (str, bytes)) else stored
    latest = {}
    for i, item in enumerate(items):
        # Keys are unique among a model's criteria and decay rules; a line without one is its own.
        key = item[1] if isinstance(item, list) else item.get("key", ("line", i))
        latest[key] = item  # a replaced line keeps its place (readers with a version reorder)
    return [_expand(item) for item in latest.values() if not (isinstance(item, list) and item[0] == GONE)]


def lines_with_tail(lines: list[dict], tail: str | None) -> list[dict]:
    """Decoded breakdown lines with a score's tail (the stored text of the lines its recounts
    gave, scoring.models.Score.lines_tail) read over them: as `lines_decode` of the two texts
    one after the other."""
    return lines_decode([*lines, *json.loads(tail)]) if tail else lines


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


def lines_priced(lines: list[dict], *, spec: ModelSpec, basis: str) -> list[dict]:
    """The lines of a score counted as `basis` says, with the points of `spec` (its version).

    Which criteria matched and which events counted are fixed by the counts, which a rescore of a
    version with the same structure reuses without rewriting the stored lines (rewriting them would add about
    40% to a publish's rescore, docs/performance.md); only the points are this version's. So the criterion lines are
    the stored ones with this version's points, and the decay lines are taken afresh from the
    basis's units, as spec section 5 takes them: the lines then sum to the score it stored.
    Lines that do not fit the version (never written so) are returned as stored.
    """
    counts = json.loads(basis)
    by_key = {c.key: c for c in spec.criteria}
    if len(counts) != len(spec.criteria) + len(spec.decay) + 1:
        return lines
    priced = []
    for line in lines:
        if line.get("type") == "decay":
            continue  # taken afresh below
        criterion = by_key.get(line.get("key"))
        if line.get("type") != "criterion" or criterion is None or criterion.dimension != line.get("dimension"):
            return lines
        priced.append({**line, "points": float(criterion.points * line["count"])})
    # In document order: a recount of some criteria (engine/recount.py) puts their lines last.
    order = {c.key: i for i, c in enumerate(spec.criteria)}
    priced.sort(key=lambda line: order[line["key"]])
    engagement = sum(counts[i] * c.points for i, c in enumerate(spec.criteria) if not c.is_fit)
    units = counts[len(spec.criteria) : -1]
    magnitudes = [abs(rule.points) * n for rule, n in zip(spec.decay, units, strict=True)]
    # Criterion points are whole here (no half-life: scores with a basis have none), so only a
    # floor with fractions of a cent makes the decay lines need the running rounding of spec 7.
    bites = [-bite for bite in effective_decay(magnitudes, engagement, spec.engagement_floor)]
    fit = sum(counts[i] * c.points for i, c in enumerate(spec.criteria) if c.is_fit)
    shares, _ = running_cents(fit + engagement, bites)
    for rule, bite, share in zip(spec.decay, bites, shares, strict=True):
        if bite:
            priced.append({"type": "decay", "key": rule.key, "points": float(share)})
    return priced
