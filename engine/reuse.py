"""Rescoring from stored counts: a score row's basis, read back with new points.

A bulk rescore (engine/sql.py, `basis=True`) stores with each score what it was made of, the
*basis* (each fit flag, each engagement criterion's count of counted events, each decay rule's
units, the segment), and the first instant at which any of it can change with time
(`stable_until`: an event leaving the lookback or moving to the next cap window, an idle step, a
send coming of age, the lead's next event after as_of). A later rescore of a version with the same
`structure_key` (only points, floor, thresholds and grades differ), at an as_of before that
instant, gets exactly the counts again, so it does not read a single event
(docs/scoring.md, "Reusing counts"):

- a lead with no count for any criterion whose points changed, under a version that changed
  nothing else, keeps its stored result: `compile_kept` moves its row to the new version and as_of;
- any other lead is scored from its counts and the new points (`compile_reuse`).

Neither touches the stored breakdown lines: which criteria matched and which events counted are
the same, and a reader prices the lines of a score with a basis by the score's version
(lines.lines_priced).

Leads whose inputs changed since (an edit of the lead, an event waiting in the real-time queue)
are in neither, and are counted afresh by the full statement.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.document import ModelSpec
from engine.sql import BASIS_COLUMNS, Compiled, Dialect, Params, Tables, statement_finish

# The rows also carry the stored score they replace (sid and old_*: what leads_rescore compares).
REUSE_COLUMNS = BASIS_COLUMNS + ("sid", "old_score", "old_tier", "old_mql")
# A bound closer than this to as_of is treated as passed: the full statement computes ages in
# floating point, so within a hair of a window's edge it might already see the next window.
MARGIN = timedelta(seconds=1)


@dataclass
class _Reuse:
    """What both statements share: which stored rows may be reused, and which of those change."""

    where: str  # over the scores s and the leads l
    affected: str


def reusable_where(d: Dialect, p: Params, as_of: datetime, model_id, version_pks, id_range, *, tables: Tables) -> str:
    """The stored scores (alias s, joined to their leads l) of the given versions whose counts still
    hold at `as_of`: made with counts, before `as_of` and holding past it, and no input changed since."""
    where = [
        f"s.scoring_model_id = {p.add(model_id)}",
        f"s.version_id IN ({', '.join(p.add(pk) for pk in version_pks)})",
        "s.basis IS NOT NULL",
        f"s.stable_until > {d.time_param(p, as_of + MARGIN)}",
        f"s.as_of <= {d.time_param(p, as_of)}",
        "l.id = s.lead_id",
        # Inputs changed since: the lead was edited, or has events waiting to be scored.
        "l.updated_at <= s.computed_at",
        f"NOT EXISTS (SELECT 1 FROM {tables.pending} q WHERE q.lead_id = s.lead_id)",
    ]
    if id_range is not None:
        lo, hi = p.add(id_range[0]), p.add(id_range[1])
        where += [f"s.lead_id BETWEEN {lo} AND {hi}", f"l.id BETWEEN {lo} AND {hi}"]
    return " AND ".join(where)


def reuse_parts(
    spec: ModelSpec, d: Dialect, p: Params, as_of: datetime, model_id, sources, id_range, *, tables: Tables
) -> _Reuse:
    positions = {c.index: i for i, c in enumerate(spec.criteria)}
    where = reusable_where(d, p, as_of, model_id, sources, id_range, tables=tables)
    # A row changes if its source version differs in anything but criterion points, or if it has
    # a count (or fit flag) for a criterion whose points differ.
    cases = {}
    for pk, source in sources.items():
        if _totals_differ(source, spec):
            cases[pk] = "TRUE"
            continue
        moved = [c for c in spec.criteria if source.criteria[c.index].points != c.points]
        nonzero = [f"{d.basis_item_of('s.basis', positions[c.index])} <> 0" for c in moved]
        cases[pk] = f"({' OR '.join(nonzero)})" if nonzero else "FALSE"
    whens = " ".join(f"WHEN {p.add(pk)} THEN {cond}" for pk, cond in cases.items())
    return _Reuse(where, f"(CASE s.version_id {whens} ELSE TRUE END)")


def compile_kept(
    spec: ModelSpec,
    dialect: Dialect,
    as_of: datetime,
    *,
    tables: Tables,
    model_id: int,
    version: tuple[int, int],
    now: datetime,
    sources: dict[int, ModelSpec],
    id_range: tuple[int, int] | None = None,
) -> Compiled:
    """An UPDATE moving to `version` (pk, number) at `as_of` the stored scores in scope that
    scoring with `spec` would leave as they are (see `compile_reuse` for `sources`)."""
    d, p = dialect, Params()
    reuse = reuse_parts(spec, d, p, as_of, model_id, sources, id_range, tables=tables)
    sql = (
        f"UPDATE {tables.score} AS s SET version_id = {p.add(version[0])}, version_number = {p.add(version[1])}, "
        f"as_of = {d.time_param(p, as_of)}, computed_at = {d.time_param(p, now)} FROM {tables.lead} l "
        f"WHERE {reuse.where} AND NOT {reuse.affected}"
    )
    return Compiled(sql, p.values, ())


def compile_reuse(
    spec: ModelSpec,
    dialect: Dialect,
    as_of: datetime,
    *,
    tables: Tables,
    model_id: int,
    sources: dict[int, ModelSpec],
    id_range: tuple[int, int] | None = None,
) -> Compiled:
    """A SELECT (columns REUSE_COLUMNS) scoring with `spec` at `as_of` every lead in scope whose
    stored score, made by one of the `sources` versions (pk -> spec, all with the structure key of
    `spec`), can be reused and changes; other leads are absent from its rows."""
    d, p = dialect, Params()
    reuse = reuse_parts(spec, d, p, as_of, model_id, sources, id_range, tables=tables)
    positions = {c.index: i for i, c in enumerate(spec.criteria)}
    units_at = len(spec.criteria)
    seg_at = units_at + len(spec.decay)

    def stored(i: int, array: str = "src.u") -> str:
        return d.basis_item(array, i)

    # Points are literals here as in the full statement: bounded ints of the spec (engine/sql.py, above Params).
    fit_sum = " + ".join(f"{stored(positions[c.index])} * {c.points}" for c in spec.fit_criteria) or "0"
    crit_sum = " + ".join(f"{stored(positions[c.index])} * {c.points}" for c in spec.engagement_criteria) or "0"
    magnitudes = []
    for i, r in enumerate(spec.decay):
        units = stored(units_at + i)
        if r.type == "inactivity_step" and d.vendor == "postgresql":
            units = f"({units})::float8"  # the full statement's FLOOR() is a double: same arithmetic
        magnitudes.append(f", ({abs(r.points)} * {units}) AS a{i}")
    # The basis, bound and old result ride along each level to the end (passed on, not copied).
    ctes = [
        d.level(
            "src",
            f"SELECT s.lead_id AS id, s.id AS sid, s.score AS old_score, s.tier AS old_tier, s.mql AS old_mql, "
            f"s.basis, s.stable_until, {d.basis_array('s.basis')} AS u "
            f"FROM {tables.score} s, {tables.lead} l WHERE {reuse.where} AND {reuse.affected}",
        ),
        d.level(
            "fin",
            f"SELECT src.*, {stored(seg_at)} AS seg, ({fit_sum}) AS fit_raw, "
            f"({crit_sum}) AS crit_sum{''.join(magnitudes)} FROM src",
        ),
    ]

    def breakdown(decay_lines: list[str]) -> str:
        # No lines: the stored ones stay as they are, and a reader prices them with this
        # version's points (lines.lines_priced). Made only for the type of the column.
        return "CAST(NULL AS TEXT)"

    extra = "".join(f", res.{column} AS {column}" for column in REUSE_COLUMNS[len(BASIS_COLUMNS) - 2 :])
    sql = statement_finish(spec, d, p, ctes, breakdown=breakdown, extra=extra, join="")
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
