"""Rescoring from stored counts: a score row's basis, read back with new points.

A bulk rescore (engine/sql.py, `basis=True`) stores beside each score's lines what they were made
of, the *basis* (each fit flag, each engagement criterion's count of counted events, each decay
rule's units, the segment) and the first instant at which any of it can change with time
(`stable_until`: an event leaving the lookback or moving to the next cap window, an idle step, a
send coming of age, the lead's next event after as_of). A later rescore of a version with the same
`structure_key` (only points, floor, thresholds and grades differ), at an as_of before that
instant, gets exactly the counts again: it computes the score from them, and the lines from the
stored ones with the changed points rewritten, without reading a single event
(docs/scoring.md, "Reusing counts"). Leads whose inputs changed since (an edit of the lead, an
event waiting in the real-time queue) are left to the full statement.
"""

import json
from datetime import datetime, timedelta

from .document import ModelSpec
from .lines import ENGAGEMENT, FIT
from .sql import BASIS_COLUMNS, LEAD_TABLE, Compiled, Dialect, Params, _finish, _listed

SCORE_TABLE = "leads_score"
BREAKDOWN_TABLE = "leads_scorebreakdown"
PENDING_TABLE = "leads_pendingscore"
RESULT_COLUMNS = ("score", "fit", "engagement", "segment", "tier", "grade", "mql")
# The rows also carry the stored score they replace (sid and old_*: what leads_rescore compares).
REUSE_COLUMNS = BASIS_COLUMNS + ("sid",) + tuple(f"old_{c}" for c in RESULT_COLUMNS)
# A bound closer than this to as_of is treated as passed: the full statement computes ages in
# floating point, so within a hair of a window's edge it might already see the next window.
MARGIN = timedelta(seconds=1)


def compile_reuse(
    spec: ModelSpec,
    dialect: Dialect,
    as_of: datetime,
    *,
    model_id: int,
    sources: dict[int, ModelSpec],
    id_range: tuple[int, int] | None = None,
) -> Compiled:
    """A SELECT (columns BASIS_COLUMNS) scoring with `spec` at `as_of` every lead in scope whose
    stored score, made by one of the `sources` versions (pk -> spec, all with the structure key of
    `spec`), can be reused; other leads are simply absent from its rows."""
    d, p = dialect, Params()
    asof = d.time_param(p, as_of)
    margin = d.time_param(p, as_of + MARGIN)
    positions = {c.index: i for i, c in enumerate(spec.criteria)}
    units_at = len(spec.criteria)
    seg_at = units_at + len(spec.decay)

    def stored(i: int, array: str = "src.u") -> str:
        return d.basis_item(array, i)

    where = [
        f"s.scoring_model_id = {p.add(model_id)}",
        f"s.version_id IN ({', '.join(p.add(pk) for pk in sources)})",
        "b.basis IS NOT NULL",
        f"b.stable_until > {margin}",
        f"s.as_of <= {asof}",
        # Inputs changed since: the lead was edited, or has events waiting to be scored.
        "l.updated_at <= s.computed_at",
        f"NOT EXISTS (SELECT 1 FROM {PENDING_TABLE} q WHERE q.lead_id = s.lead_id)",
    ]
    if id_range is not None:
        where.append(f"s.lead_id BETWEEN {p.add(id_range[0])} AND {p.add(id_range[1])}")

    # A lead whose counts are zero for every criterion whose points changed, under a version that
    # changed nothing else, keeps its stored result: only the version and as_of of its row move.
    affected = {}
    for pk, source in sources.items():
        if _totals_differ(source, spec):
            affected[pk] = "TRUE"
            continue
        moved = [c for c in spec.criteria if source.criteria[c.index].points != c.points]
        # A criterion with a count or a fit flag has a line: a text search, no basis to parse.
        heads = [json.dumps([FIT if c.is_fit else ENGAGEMENT, c.key])[:-1] + ", " for c in moved]
        nonzero = [f"{d.position('b.lines', d.text_param(p, head))} > 0" for head in heads]
        affected[pk] = f"({' OR '.join(nonzero)})" if nonzero else "FALSE"
    whens = " ".join(f"WHEN {p.add(pk)} THEN {cond}" for pk, cond in affected.items())
    is_affected = f"(CASE s.version_id {whens} ELSE TRUE END)"

    # The stored lines with the points of this version: a fit or engagement line's text is fixed by
    # its key, points and count, so the old text is known exactly and replaced whole. Only criteria
    # whose points differ in some source are touched. Decay lines are made afresh (below).
    body = "b.lines"
    for c in spec.criteria:
        olds = {pk: src.criteria[c.index].points for pk, src in sources.items()}
        if all(points == c.points for points in olds.values()):
            continue
        if c.is_fit:
            new = d.text_param(p, json.dumps([FIT, c.key, c.points]))
            cases = {pk: d.text_param(p, json.dumps([FIT, c.key, pts])) for pk, pts in olds.items() if pts != c.points}
        else:
            n = stored(positions[c.index], d.basis_array("b.basis"))
            head = d.text_param(p, json.dumps([ENGAGEMENT, c.key])[:-1] + ", ")

            def text(points, n=n, head=head):
                return f"{head} || {d.number_text(d.round2(f'{n} * {points}'))} || ', ' || {n} || ', ['"

            new = text(c.points)
            cases = {pk: text(pts) for pk, pts in olds.items() if pts != c.points}
        whens = " ".join(f"WHEN {p.add(pk)} THEN {old}" for pk, old in cases.items())
        body = f"replace({body}, CASE s.version_id {whens} ELSE {new} END, {new})"

    fit_sum = " + ".join(f"{stored(positions[c.index])} * {c.points}" for c in spec.fit_criteria) or "0"
    crit_sum = " + ".join(f"{stored(positions[c.index])} * {c.points}" for c in spec.engagement_criteria) or "0"
    magnitudes = []
    for i, r in enumerate(spec.decay):
        units = stored(units_at + i)
        if r.type == "inactivity_step" and d.vendor == "postgresql":
            units = f"({units})::float8"  # the full statement's FLOOR() is a double: same arithmetic
        magnitudes.append(f", ({abs(r.points)} * {units}) AS a{i}")
    # The stored lines, basis, bound and result ride along each level to the end (passed on, not
    # copied). Unaffected rows skip the work: no basis parsed, no lines rewritten (NULL: they stand).
    old = ", ".join(f"s.{column} AS old_{column}" for column in RESULT_COLUMNS)
    ctes = [
        d.level(
            "src",
            f"SELECT s.lead_id AS id, s.id AS sid, {old}, {is_affected} AS affected, b.basis, b.stable_until, "
            f"CASE WHEN {is_affected} THEN {d.basis_array('b.basis')} END AS u, "
            f"CASE WHEN {is_affected} THEN {body} END AS body "
            f"FROM {SCORE_TABLE} s JOIN {BREAKDOWN_TABLE} b ON b.score_id = s.id "
            f"JOIN {LEAD_TABLE} l ON l.id = s.lead_id WHERE {' AND '.join(where)}",
        ),
        d.level(
            "fin",
            f"SELECT src.*, {stored(seg_at)} AS seg, ({fit_sum}) AS fit_raw, "
            f"({crit_sum}) AS crit_sum{''.join(magnitudes)} FROM src",
        ),
    ]

    def breakdown(decay_lines: list[str]) -> str:
        # The stored lines up to the first decay line (they come last), then this version's.
        cut = d.position("res.body", d.text_param(p, '["d", '))
        kept = (
            f"(CASE WHEN {cut} > 0 THEN substr(res.body, 1, {cut} - 1) WHEN res.body = '[]' THEN '[' "
            "ELSE substr(res.body, 1, length(res.body) - 1) || ',' END)"
        )
        return f"rtrim({kept} || {_listed(decay_lines)}, ',') || ']'"

    extra = ", res.basis AS basis, res.stable_until AS stable_until, res.sid AS sid, " + ", ".join(
        f"res.old_{column} AS old_{column}" for column in RESULT_COLUMNS
    )
    sql = _finish(spec, d, p, ctes, breakdown=breakdown, extra=extra, join="", keep="affected")
    return Compiled(sql, p.values, REUSE_COLUMNS)


def _totals_differ(a: ModelSpec, b: ModelSpec) -> bool:
    """Whether anything besides criterion points differs between two versions' scoring."""
    return (
        a.engagement_floor != b.engagement_floor
        or [r.points for r in a.decay] != [r.points for r in b.decay]
        or [(s.warm, s.hot, s.mql) for s in a.segments] != [(s.warm, s.hot, s.mql) for s in b.segments]
        or a.grade_fit != b.grade_fit
        or a.grade_engagement != b.grade_engagement
    )
