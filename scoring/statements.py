"""The SQL of a bulk rescore (services.leads_rescore): one function per statement, each returning
(sql, params), and the session set-up the scoring statements run under.

Values are named parameters, %(name)s, as in the engine's statements: a rescore's values are one
dict (`Rescore.params`; an alert's statement adds its kind). Table names are identifiers, written
in: the models' tables and the rescore's temp tables (names made here). The numbers the engine
writes as literals are the bounded ones of a parsed model (engine/sql.py, above Params).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection

from engine.fields import HOT
from engine.recount import lines_splice
from engine.sql import Compiled, Dialect, Params, Tables
from leads.models import Event, Lead
from matrix.models import ModelVersion
from scoring.choices import NotificationKind, Stage
from scoring.models import LeadStage, Notification, PendingScore, Score, ScoreBreakdown, ScoreHistory, StageTransition

Statement = tuple[str, dict]


def engine_tables() -> Tables:
    """The tables the engine's statements read, as the models name them."""
    return Tables(
        lead=Lead._meta.db_table,
        event=Event._meta.db_table,
        user=get_user_model()._meta.db_table,
        score=Score._meta.db_table,
        pending=PendingScore._meta.db_table,
    )


def session_prepare(cursor, dialect: Dialect, *, serial: bool = False) -> None:
    """Set the planner up for a scoring statement and the statements after it, until the end of the
    transaction (Dialect.session_settings): the bulk rescore and the impact preview. `serial`: no
    parallel workers (Dialect.serial), for a chunk that other chunks share the cores with."""
    for setting in dialect.session_settings() + (dialect.serial() if serial else []):
        cursor.execute(setting)


def session_nested_loops(cursor, dialect: Dialect, *, on: bool) -> None:
    """Allow nested-loop joins (or not) until told otherwise or the transaction ends: on for the
    statements that probe an index for a few rows."""
    for setting in dialect.nested_loops(on):
        cursor.execute(setting)


def db_time(value: datetime):
    """A datetime as the database backend takes it in a parameter of raw SQL."""
    return connection.ops.adapt_datetimefield_value(value)


@dataclass(frozen=True)
class Rescore:
    """One rescore as its statements see it: its temp tables, and the values they name."""

    dialect: Dialect
    computed: str  # the scores computed (BASIS_COLUMNS; reused ones also with sid and old_*)
    changed: str  # the rows this rescore may write, with the stored row each replaces (`computed` if all reused)
    todo: str  # the leads of a reused chunk left to count afresh
    chunked: bool  # scoring a range of lead ids, %(ls_lo)s to %(ls_hi)s
    params: dict


def rescore_start(
    *, dialect: Dialect, version: ModelVersion, as_of: datetime, now: datetime, id_range, job_id: int | None
) -> Rescore:
    """A rescore's temp table names (unique to it) and values."""
    tag = uuid.uuid4().hex[:12]
    params = {
        "ls_model": version.scoring_model_id,
        "ls_version": version.pk,
        "ls_number": version.number,
        "ls_asof": db_time(as_of),
        "ls_now": db_time(now),
        "ls_lead": Stage.LEAD,
        "ls_recycled": Stage.RECYCLED,
        "ls_mql": Stage.MQL,
        "ls_job": job_id,
    }
    if id_range is not None:
        params.update(ls_lo=id_range[0], ls_hi=id_range[1])
    return Rescore(
        dialect=dialect,
        computed=f"tmp_scores_{tag}",
        changed=f"tmp_changes_{tag}",
        todo=f"tmp_todo_{tag}",
        chunked=id_range is not None,
        params=params,
    )


# --- fragments --------------------------------------------------------------------------------------


def _newer_wins(stored: str, number: str, as_of: str) -> str:
    """The write guard: a stored score row (alias `stored`) gives way to the row of version `number`
    at `as_of` unless a newer version, or the same version at a later as_of, computed it. Late or
    repeated chunks are then harmless."""
    return f"({stored}.version_number < {number} OR ({stored}.version_number = {number} AND {stored}.as_of <= {as_of}))"


# The guard over the stored row `s`, for this rescore's version and as_of.
_THIS_WINS = _newer_wins("s", "%(ls_number)s", "%(ls_asof)s")


def _chunk(run: Rescore) -> str:
    # Every join to the scores also names the chunk's leads: Postgres then reads the chunk's rows by
    # the (lead, model) index instead of scanning every score of the model for each statement.
    return " AND s.lead_id BETWEEN %(ls_lo)s AND %(ls_hi)s" if run.chunked else ""


def _leads_in_scope(run: Rescore) -> str:
    return "l.id BETWEEN %(ls_lo)s AND %(ls_hi)s" if run.chunked else "TRUE"


_RESULT = "t.lead_id, t.score, t.fit, t.engagement, t.segment, t.tier, t.grade, t.mql, t.basis, t.stable_until"


# An upward MQL crossing, first scores included (the old row's mql is null).
_MQL_UP = "c.mql AND (c.old_mql IS NULL OR NOT c.old_mql)"


def _looked_up(run: Rescore, *, recounted_only: bool) -> str:
    # Only rows this computation may write (nothing newer stored), with what they replace.
    # Without the breakdown (most of a row's bytes): its insert takes it from `computed`. Counted
    # afresh, a row's whole lines go to the breakdown, so its tail goes (`fresh`, scores_tail).
    return (
        f"SELECT {_RESULT}, s.id AS sid, s.tier AS old_tier, s.mql AS old_mql, s.score AS old_score, "
        "CAST(NULL AS TEXT) AS breakdown, 1 AS fresh "
        f"FROM {run.computed} t LEFT JOIN {Score._meta.db_table} s "
        f"ON s.lead_id = t.lead_id AND s.scoring_model_id = %(ls_model)s{_chunk(run)} "
        f"WHERE (s.id IS NULL OR {_THIS_WINS})" + (" AND t.sid IS NULL" if recounted_only else "")
    )


# --- scoring into `computed` --------------------------------------------------------------------------


def stmt_computed(run: Rescore, scores: Compiled) -> Statement:
    """The temp table `computed`, made of the scores of the engine's statement (scored or reused)."""
    return f"{run.dialect.temp_table(run.computed)} {scores.sql}", scores.params


def stmt_computed_add(run: Rescore, scores: Compiled) -> Statement:
    """More scores into `computed`: those of the leads counted afresh, or of a second reuse statement."""
    return f"INSERT INTO {run.computed} ({', '.join(scores.columns)}) {scores.sql}", scores.params


def stmt_not_reused_count(run: Rescore) -> Statement:
    """How many leads in scope have no reused score in `computed`."""
    return (
        f"SELECT (SELECT COUNT(*) FROM {Lead._meta.db_table} l WHERE {_leads_in_scope(run)}) "
        f"- (SELECT COUNT(*) FROM {run.computed})",
        run.params,
    )


def stmt_scored_by(run: Rescore, *, version_pks: list[int]) -> Statement:
    """One score in scope made by one of the versions, if there is one."""
    listed = ", ".join(f"%(ls_source{i})s" for i in range(len(version_pks)))
    return (
        f"SELECT 1 FROM {Score._meta.db_table} s WHERE s.scoring_model_id = %(ls_model)s "
        f"AND s.version_id IN ({listed}){_chunk(run)} LIMIT 1",
        {**run.params, **{f"ls_source{i}": pk for i, pk in enumerate(version_pks)}},
    )


def stmt_todo(run: Rescore) -> Statement:
    """The temp table `todo`: the leads in scope neither reused nor already this version at this as_of
    (moved there by compile_kept just now, or written by an earlier delivery of the same chunk)."""
    return (
        f"{run.dialect.temp_table(run.todo)} SELECT l.id AS lead_id FROM {Lead._meta.db_table} l "
        f"LEFT JOIN {Score._meta.db_table} s ON s.lead_id = l.id AND s.scoring_model_id = %(ls_model)s{_chunk(run)} "
        f"WHERE {_leads_in_scope(run)} AND NOT EXISTS (SELECT 1 FROM {run.computed} c WHERE c.lead_id = l.id) "
        "AND (s.id IS NULL OR s.version_id <> %(ls_version)s OR s.as_of <> %(ls_asof)s)",
        run.params,
    )


# --- the rows to write, then the writes ----------------------------------------------------------------


def stmt_changes_counted(run: Rescore) -> Statement:
    """The temp table `changed` of a rescore that counted every lead afresh: the rows it may write."""
    return f"{run.dialect.temp_table(run.changed)} {_looked_up(run, recounted_only=False)}", run.params


def stmt_changes_reused(run: Rescore) -> Statement:
    """The temp table `changed` of a reused chunk with leads counted afresh. Reused rows carry the
    stored row they replace (read under the same guard): only the leads counted afresh are looked up."""
    return (
        f"{run.dialect.temp_table(run.changed)} SELECT {_RESULT}, t.sid, t.old_tier, t.old_mql, t.old_score, "
        f"t.breakdown, 0 AS fresh FROM {run.computed} t WHERE t.sid IS NOT NULL "
        f"UNION ALL {_looked_up(run, recounted_only=True)}",
        run.params,
    )


def stmt_history(run: Rescore) -> Statement:
    """A history row for each lead whose score or tier changed (or that had none)."""
    return (
        f"INSERT INTO {ScoreHistory._meta.db_table} (lead_id, scoring_model_id, version_number, as_of, score, fit, "
        "engagement, tier, previous_tier, mql, recorded_at) SELECT c.lead_id, %(ls_model)s, %(ls_number)s, "
        "%(ls_asof)s, c.score, c.fit, c.engagement, c.tier, COALESCE(c.old_tier, ''), c.mql, %(ls_now)s "
        f"FROM {run.changed} c WHERE c.sid IS NULL OR c.old_score <> c.score OR c.old_tier <> c.tier",
        run.params,
    )


def scores_tail(run: Rescore, *, fresh: bool | str, keys: list[str] | None) -> tuple[str, dict] | None:
    """SQL for the new `lines_tail` of a stored score `s` rewritten from the row `c` of `changed`,
    and its parameters; None to leave every tail as stored. NULL where the row was counted afresh
    (`fresh`: True for every row, or an SQL condition; its whole lines go to the breakdown); else,
    with the `keys` of a recount, the row's `breakdown` (the lines of those keys,
    engine/recount.py) appended to the stored tail where it has one; else the stored tail."""
    if fresh is True:
        return "NULL", {}
    if fresh is False and keys is None:
        return None
    kept, p = "s.lines_tail", Params()
    if keys is not None:
        appended = lines_splice(run.dialect, p, "COALESCE(s.lines_tail, '[]')", "c.breakdown", keys)
        kept = f"(CASE WHEN c.breakdown IS NULL THEN s.lines_tail ELSE {appended} END)"
    return (kept if fresh is False else f"(CASE WHEN {fresh} THEN NULL ELSE {kept} END)"), p.values


def stmt_scores_update(run: Rescore, *, tail: tuple[str, dict] | None) -> Statement:
    """The stored score rows, rewritten in place, with `tail` (scores_tail) as their lines' tail.

    When only the version and as_of move (no indexed column changes) Postgres rewrites a row on its
    own page without touching an index (a HOT update; the table keeps room for that, scoring
    migration 0001). The guard is checked again against a row another worker changed meanwhile."""
    return (
        f"UPDATE {Score._meta.db_table} AS s SET version_id = %(ls_version)s, version_number = %(ls_number)s, "
        "as_of = %(ls_asof)s, score = c.score, fit = c.fit, engagement = c.engagement, segment = c.segment, "
        "tier = c.tier, grade = c.grade, mql = c.mql, basis = c.basis, stable_until = c.stable_until, "
        f"computed_at = %(ls_now)s{f', lines_tail = {tail[0]}' if tail else ''} "
        f"FROM {run.changed} c WHERE s.id = c.sid{_chunk(run)} AND {_THIS_WINS}",
        {**run.params, **(tail[1] if tail else {})},
    )


def stmt_scores_insert(run: Rescore) -> Statement:
    """New score rows; a row another worker inserted meanwhile goes through the same guard."""
    return (
        f"INSERT INTO {Score._meta.db_table} AS s (lead_id, scoring_model_id, version_id, version_number, as_of, "
        "score, fit, engagement, segment, tier, grade, mql, basis, stable_until, computed_at) "
        "SELECT c.lead_id, %(ls_model)s, %(ls_version)s, %(ls_number)s, %(ls_asof)s, c.score, c.fit, "
        "c.engagement, c.segment, c.tier, c.grade, c.mql, c.basis, c.stable_until, %(ls_now)s "
        f"FROM {run.changed} c WHERE c.sid IS NULL "
        "ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET version_id = excluded.version_id, "
        "version_number = excluded.version_number, as_of = excluded.as_of, score = excluded.score, "
        "fit = excluded.fit, engagement = excluded.engagement, segment = excluded.segment, "
        "tier = excluded.tier, grade = excluded.grade, mql = excluded.mql, basis = excluded.basis, "
        "stable_until = excluded.stable_until, computed_at = excluded.computed_at, lines_tail = NULL "
        f"WHERE {_newer_wins('s', 'excluded.version_number', 'excluded.as_of')}",
        run.params,
    )


def stmt_breakdowns(run: Rescore, *, recounted_only: bool) -> Statement:
    """The breakdown lines (their own table, docs/scoring.md) of the score rows just written.

    A row the guard kept (a newer version or as_of, stored meanwhile) is not this version at this
    as_of, so its lines stay too. In a reused chunk only the leads counted afresh have lines: the
    stored lines of the others stay as they are, and a reader prices them with this version's
    points (Score.breakdown, engine/lines.py)."""
    breakdown = ScoreBreakdown._meta.db_table
    return (
        f"INSERT INTO {breakdown} (score_id, lines) SELECT s.id, t.breakdown "
        f"FROM {run.changed} c JOIN {run.computed} t ON t.lead_id = c.lead_id "
        f"JOIN {Score._meta.db_table} s ON s.lead_id = c.lead_id AND s.scoring_model_id = %(ls_model)s{_chunk(run)} "
        "WHERE s.version_id = %(ls_version)s AND s.as_of = %(ls_asof)s"
        + (" AND t.sid IS NULL" if recounted_only else "")
        # Lines that did not change (most of them, after a points change) are left as they are.
        + " ON CONFLICT (score_id) DO UPDATE SET lines = excluded.lines "
        f"WHERE {breakdown}.lines IS DISTINCT FROM excluded.lines",
        run.params,
    )


def stmt_mql_transitions(run: Rescore) -> Statement:
    """An upward MQL crossing moves a lead (or a recycled one) to MQL, dated at the as_of its score
    describes; accepted (SQL), rejected and current MQLs stay where sales put them."""
    # A join, so that how the stages are read is the rescore's choice (a hash join: nested loops
    # are off), not the planner's per crossing: as a subquery per crossing, a first publish, whose
    # stages table had no statistics yet, probed the model's whole (model, mql_at) index for each
    # one (the benchmark's first scoring of 1M leads: one chunk's statement still running after 9
    # minutes). Bounded by the chunk's range, the join reads only the chunk's stages.
    bound = " AND st.lead_id BETWEEN %(ls_lo)s AND %(ls_hi)s" if run.chunked else ""
    return (
        f"INSERT INTO {StageTransition._meta.db_table} (lead_id, scoring_model_id, from_stage, to_stage, score, "
        "version_id, reason, reason_text, occurred_at) SELECT c.lead_id, %(ls_model)s, "
        "COALESCE(st.stage, %(ls_lead)s), %(ls_mql)s, c.score, %(ls_version)s, '', '', %(ls_asof)s "
        f"FROM {run.changed} c LEFT JOIN {LeadStage._meta.db_table} st "
        f"ON st.lead_id = c.lead_id AND st.scoring_model_id = %(ls_model)s{bound} WHERE {_MQL_UP} "
        "AND (st.id IS NULL OR st.stage IN (%(ls_lead)s, %(ls_recycled)s))",
        run.params,
    )


def stmt_mql_stages(run: Rescore) -> Statement:
    """The stage of each lead `stmt_mql_transitions` moved to MQL."""
    return (
        f"INSERT INTO {LeadStage._meta.db_table} AS st (lead_id, scoring_model_id, stage, mql_at, mql_score, "
        "mql_version_id, mql_segment, reject_reason, reject_text, changed_at) SELECT c.lead_id, %(ls_model)s, "
        "%(ls_mql)s, %(ls_asof)s, c.score, %(ls_version)s, c.segment, '', '', %(ls_now)s "
        f"FROM {run.changed} c WHERE {_MQL_UP} "
        "ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET stage = excluded.stage, mql_at = excluded.mql_at, "
        "mql_score = excluded.mql_score, mql_version_id = excluded.mql_version_id, "
        "mql_segment = excluded.mql_segment, changed_at = excluded.changed_at "
        "WHERE st.stage IN (%(ls_lead)s, %(ls_recycled)s)",
        run.params,
    )


# The crossing each alert is about.
_CROSSINGS = {
    NotificationKind.BECAME_HOT: f"c.tier = '{HOT}' AND c.old_tier <> '{HOT}'",
    NotificationKind.BECAME_MQL: "c.mql AND NOT c.old_mql",
}
ALERT_KINDS = tuple(_CROSSINGS)


def stmt_alerts(run: Rescore, *, kind: NotificationKind) -> Statement:
    """An alert to its owner for each lead that crossed into `kind`.

    Only for real crossings of a lead already scored: a first score (a new model, a new lead) is not
    news to its owner, and a publish would otherwise flood them. Alerts of a chunk of a job name the
    job: its owner gets them as one digest (scoring/alerts.py)."""
    # Each crossing's owner is looked up by the lead's key: a join (nested loops are off for the
    # rescore) read every lead of the table for a chunk's few crossings.
    owner = f"(SELECT l.owner_id FROM {Lead._meta.db_table} l WHERE l.id = c.lead_id)"
    crossings = run.dialect.level(
        "x",
        f"SELECT c.lead_id, c.score, c.tier, {owner} AS owner_id FROM {run.changed} c "
        f"WHERE c.sid IS NOT NULL AND {_CROSSINGS[kind]}",
    )
    return (
        f"WITH {crossings} INSERT INTO {Notification._meta.db_table} (user_id, lead_id, scoring_model_id, kind, "
        "message, created_at, job_id) SELECT x.owner_id, x.lead_id, %(ls_model)s, %(ls_kind)s, "
        f"'Score ' || {run.dialect.score_words('x.score')} || ' (' || x.tier || ')', %(ls_now)s, "
        "CAST(%(ls_job)s AS BIGINT) FROM x WHERE x.owner_id IS NOT NULL",
        {**run.params, "ls_kind": kind},
    )
