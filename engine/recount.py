"""Rescoring after a rule change that needs counting: only the criteria that changed are counted.

A version that adds a criterion, or changes one's condition, event kinds, cap or window, counts
differently from the version the stored scores were made with (another `structure_key`), so its
scores cannot all be read back from stored counts (engine/reuse.py). But each stored basis still
holds, criterion by criterion: `recount_plan` pairs the criteria of the two versions by key, and
`compile_recount` reads the unchanged ones from the basis and counts only the others, from the
events of their kinds alone (an engagement criterion) or from the lead (a fit criterion). The
decay units and the segment are read back too, so the statement reads no event of another kind
and does not walk the lead's whole history for the idle-time rules (docs/scoring.md, "Counting
only what changed").

The breakdown lines of a lead change only where a recounted or removed criterion had or has a
line: the statement gives the lines of those criteria, and the score's write appends them to
the score's tail (`lines_splice`, in SQL: no JSON parse), which readers read over the stored
breakdown (engine.lines.lines_with_tail); the breakdown itself is not written.
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from engine.document import Criterion, ModelSpec, structure_key
from engine.lines import ENGAGEMENT, FIT, GONE
from engine.reuse import REUSE_COLUMNS, reusable_where
from engine.sql import (
    BASIS_COLUMNS,
    Compiled,
    Cond,
    Dialect,
    Params,
    Tables,
    engagement_ctes,
    events_cte,
    lines_listed,
    segment_case,
    statement_finish,
)


@dataclass(frozen=True)
class RecountPlan:
    """How a version's counts are made from a basis stored by another version (`source`)."""

    reused: dict[int, int]  # criterion index of the new version -> its position in the stored basis
    recounted: tuple[Criterion, ...]  # counted afresh: from the events (engagement) or the lead (fit)
    stale: tuple[tuple[str, int], ...]  # (key, stored position) of stored criteria whose lines go
    segments: bool  # the segment is found afresh (the segments' conditions changed)
    units_at: int  # where the stored basis keeps its decay units, then the segment

    @property
    def keys(self) -> list[str]:
        """The keys whose stored lines are replaced: the stale ones and the recounted ones."""
        return sorted({key for key, _ in self.stale} | {c.key for c in self.recounted})


def _criterion_shape(c: Criterion) -> tuple:
    return (c.dimension, c.when, c.events, c.where, c.cap, c.cap_window_days)


def _decay_shape(spec: ModelSpec) -> list[tuple]:
    return [(r.key, r.type, r.events, r.every_days, r.after_days, r.responses, r.match_property) for r in spec.decay]


def recount_plan(source: ModelSpec, spec: ModelSpec) -> RecountPlan | None:
    """What of `source`'s stored counts `spec` can read back, criterion by criterion; None if
    nothing can be (the lookback or the decay rules differ, or either version's scores are never
    reused, see `structure_key`) or if everything can (the same structure: engine/reuse.py)."""
    key = structure_key(spec)
    if key is None or structure_key(source) in (None, key):
        return None
    if source.lookback_days != spec.lookback_days or _decay_shape(source) != _decay_shape(spec):
        return None
    stored = {c.key: (i, c) for i, c in enumerate(source.criteria)}
    reused, recounted = {}, []
    for c in spec.criteria:
        hit = stored.get(c.key)
        if hit is not None and _criterion_shape(hit[1]) == _criterion_shape(c):
            reused[c.index] = hit[0]
        else:
            recounted.append(c)
    kept = {stored[c.key][0] for c in spec.criteria if c.index in reused}
    stale = tuple((c.key, i) for i, c in enumerate(source.criteria) if i not in kept)
    segments = [(s.key, s.when) for s in source.segments] != [(s.key, s.when) for s in spec.segments]
    return RecountPlan(reused, tuple(recounted), stale, segments, len(source.criteria))


def compile_recount(
    spec: ModelSpec,
    dialect: Dialect,
    as_of: datetime,
    *,
    tables: Tables,
    model_id: int,
    sources: list[int],
    plan: RecountPlan,
    id_range: tuple[int, int] | None = None,
) -> Compiled:
    """A SELECT (columns REUSE_COLUMNS) scoring with `spec` at `as_of` every lead in scope whose
    score stored by one of the `sources` (version pks, counting alike) still holds, per `plan`:
    the unchanged criteria, decay units and segment read from the stored basis, the others
    counted afresh. Its `breakdown` is NULL where the stored lines stay, else a line or a GONE for
    each key of `plan.keys`, for `lines_splice` to append to the score's tail."""
    d, p = dialect, Params()
    where = reusable_where(d, p, as_of, model_id, sources, id_range, tables=tables)
    asof = d.time_param(p, as_of)
    horizon = d.time_param(p, as_of - timedelta(days=spec.lookback_days)) if spec.lookback_days else None
    fit = [c for c in plan.recounted if c.is_fit]
    eng = tuple(c for c in plan.recounted if not c.is_fit)

    def stored(i: int, array: str = "lf.u") -> str:
        return d.basis_item(array, i)

    # The lead's side only for what is found afresh on it: recounted fit criteria, the segment.
    lc = Cond(d, p, raw_alias="l", out_alias="src", users=tables.user)
    flags = "".join(f", (CASE WHEN {lc.compile(c.when)} THEN 1 ELSE 0 END) AS f{c.index}" for c in fit)
    seg_at = plan.units_at + len(spec.decay)
    seg = segment_case(spec, lc) if plan.segments else stored(seg_at, "src.u")
    ctes = [
        d.level(
            "src",
            f"SELECT s.lead_id AS id, s.id AS sid, s.score AS old_score, s.tier AS old_tier, s.mql AS old_mql, "
            f"s.stable_until AS old_until, {d.basis_array('s.basis')} AS u{lc.derived.select_list()} "
            f"FROM {tables.score} s, {tables.lead} l WHERE {where}",
        ),
        d.level("lf", f"SELECT src.*{flags}, {seg} AS seg FROM src"),
    ]
    join, until, carried = "", "lf.old_until", ""
    if eng:
        ec = Cond(d, p, raw_alias="e", out_alias="ep", props="e.properties", lookups=True)
        wheres = {c.index: ec.compile(c.where) for c in eng if c.where is not None}
        scope = f"e.lead_id BETWEEN {p.add(id_range[0])} AND {p.add(id_range[1])}" if id_range else "TRUE"
        # Only the recounted criteria's events: their kinds, within the lookback (no decay rule reads them).
        counted = replace(spec, criteria=eng, decay=())
        ctes += events_cte(counted, d, p, ec, as_of, asof, horizon, scope, True, tables.event)
        ctes += engagement_ctes(counted, d, p, eng, wheres, asof, horizon, True)
        join = "LEFT JOIN eng ON eng.lead_id = lf.id"
        until = d.earliest("lf.old_until", "eng.until")
        # What the lines need of the counts, carried down the levels to the last: a second join
        # there would make Postgres store `eng` to read it twice.
        carried = "".join(f", eng.n{c.index} AS en{c.index}, eng.t{c.index} AS et{c.index}" for c in eng)

    def count(c: Criterion) -> str:
        if c.index in plan.reused:
            return stored(plan.reused[c.index])
        return f"lf.f{c.index}" if c.is_fit else f"COALESCE(eng.n{c.index}, 0)"

    # Points are literals as in the full statement: bounded ints of the spec (engine/sql.py, above Params).
    fit_sum = " + ".join(f"{count(c)} * {c.points}" for c in spec.fit_criteria) or "0"
    crit_sum = " + ".join(f"{count(c)} * {c.points}" for c in spec.engagement_criteria) or "0"
    magnitudes = []
    for i, r in enumerate(spec.decay):
        units = stored(plan.units_at + i)
        if r.type == "inactivity_step" and d.vendor == "postgresql":
            units = f"({units})::float8"  # the full statement's FLOOR() is a double: same arithmetic
        magnitudes.append(f", ({abs(r.points)} * {units}) AS a{i}")
    parts = [count(c) for c in spec.criteria] + [stored(plan.units_at + i) for i in range(len(spec.decay))]
    basis = "'[' || " + " || ',' || ".join([*parts, "lf.seg"]) + " || ']'"
    # The lines change where a stale criterion had one or a recounted criterion has one.
    touched = [f"{stored(i)} <> 0" for _, i in plan.stale] + [f"{count(c)} <> 0" for c in plan.recounted]
    ctes.append(
        d.level(
            "fin",
            f"SELECT lf.*, ({fit_sum}) AS fit_raw, ({crit_sum}) AS crit_sum{''.join(magnitudes)}, "
            f"{basis} AS basis, {until} AS stable_until, ({' OR '.join(touched) or 'FALSE'}) AS relines{carried} "
            f"FROM lf {join}",
        )
    )

    def breakdown(decay_lines: list[str]) -> str:
        # Decay lines are not stored for a score with a basis: a reader takes them afresh (lines.lines_priced).
        # Every key of the plan gets its line, or a GONE (lines.GONE hides any earlier one): a tail
        # that is compacted (lines_splice) loses all earlier entries of these keys, and a GONE it
        # held must not be lost while the breakdown below it still has the key's line.
        lines, recounted = [], {c.key for c in plan.recounted}
        for c in plan.recounted:
            gone = d.text_param(p, json.dumps([GONE, c.key]))
            if c.is_fit:
                line = d.text_param(p, json.dumps([FIT, c.key, c.points]))
                lines.append(f"(CASE WHEN res.f{c.index} = 1 THEN {line} ELSE {gone} END)")
            else:
                head = d.text_param(p, json.dumps([ENGAGEMENT, c.key])[:-1] + ", ")
                points = d.number_text(f"({c.points} * res.en{c.index})")
                line = f"{head} || {points} || res.et{c.index}"
                lines.append(f"(CASE WHEN res.et{c.index} IS NOT NULL THEN {line} ELSE {gone} END)")
        lines += [d.text_param(p, json.dumps([GONE, key])) for key, _ in plan.stale if key not in recounted]
        return f"(CASE WHEN res.relines THEN rtrim({lines_listed(lines)}, ',') END)"

    extra = "".join(f", res.{column} AS {column}" for column in REUSE_COLUMNS[len(BASIS_COLUMNS) - 2 :])
    sql = statement_finish(spec, d, p, ctes, breakdown=breakdown, extra=extra, join="")
    return Compiled(sql, p.values, REUSE_COLUMNS)


# A stored line of one of the given keys (short form, engine/lines.py), and the comma after it.
_STRING = r'"(?:[^"\\]|\\.)*"'
_LINE = (
    r'\[\s*"{fit}",\s*"(?:{keys})",[^\]]*\]'
    r'|\[\s*"{gone}",\s*"(?:{keys})"\s*\]'
    r'|\[\s*"{eng}",\s*"(?:{keys})",[^\[\]]*\[(?:{string}|[^"\]])*\]\s*\]'
)

# A score's tail longer than this (bytes) loses the old lines of a recount's keys before the new
# ones are appended, so that recount after recount does not grow it without end. The tail is in
# the score row, which every list reads: a few recounts' lines (an engagement line with its
# event ids takes ~60-100 bytes), not a whole breakdown (~360 bytes on average on the benchmark).
COMPACT_AT = 256


def lines_pattern(keys: list[str]) -> str:
    """A regular expression (the same in Python and in Postgres) matching each stored line of a
    criterion in `keys` (slugs: no character of them is special) with the separator after it."""
    line = _LINE.format(fit=FIT, gone=GONE, eng=ENGAGEMENT, keys="|".join(keys), string=_STRING)
    return rf"(?:{line})(?:\s*,\s*)?"


def lines_splice(d: Dialect, p: Params, stored: str, new: str, keys: list[str]) -> str:
    """SQL for the stored lines text `stored` with the lines `new` (comma-separated text, not
    empty) appended: a later line of a key replaces an earlier one (lines.lines_decode), and
    readers put the lines in document order (lines.lines_priced). A text longer than COMPACT_AT
    bytes first loses the lines of the criteria `keys` (every key of `new` is one of them).
    `stored` is read more than once: a column, or a cheap expression of one."""
    size = d.bytes_of(stored)
    appended = f"{d.chop(stored)} || (CASE WHEN {size} > 2 THEN ',' ELSE '' END) || {new} || ']'"
    inner = f"substr({stored}, 2, length({stored}) - 2)"  # the lines without the array's brackets
    quoted = [d.text_param(p, json.dumps(key)) for key in keys]
    present = " OR ".join(f"{d.position(stored, key)} > 0" for key in quoted) or "FALSE"
    dropped = f"(CASE WHEN {present} THEN {d.regexp_drop(inner, p.add(lines_pattern(keys)))} ELSE {inner} END)"
    # A dropped line takes the separator after it: a last one leaves the one before it, trimmed here.
    compacted = f"('[' || trim(trim({dropped}, ', ') || ',' || {new}, ', ') || ']')"
    return f"(CASE WHEN {size} > {COMPACT_AT} THEN {compacted} ELSE {appended} END)"
