"""Scoring leads: the bulk rescore over lead ranges, real-time scoring of pending leads, and their error rules."""

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from engine.recount import compile_recount
from engine.reuse import compile_kept, compile_reuse
from engine.sql import compile_scores, dialect_for
from leads.models import Lead
from leadscoring.celery import task_send
from matrix.models import ModelVersion
from matrix.selectors import version_recount_source, version_spec, versions_live, versions_reusable
from scoring.alerts import enqueue_alerts
from scoring.models import LeadStage, PendingScore, Score, ScoreHistory
from scoring.statements import (
    ALERT_KINDS,
    Rescore,
    db_time,
    engine_tables,
    rescore_start,
    scores_tail,
    session_nested_loops,
    session_prepare,
    stmt_alerts,
    stmt_breakdowns,
    stmt_changes_counted,
    stmt_changes_reused,
    stmt_computed,
    stmt_computed_add,
    stmt_history,
    stmt_mql_stages,
    stmt_mql_transitions,
    stmt_not_reused_count,
    stmt_scored_by,
    stmt_scores_insert,
    stmt_scores_update,
    stmt_todo,
)

logger = logging.getLogger(__name__)


def leads_rescore(
    *,
    version: ModelVersion,
    as_of: datetime,
    id_range: tuple[int, int] | None = None,
    lead_ids: list[int] | None = None,
    alerts: bool = True,
    reuse: bool = False,
    job_id: int | None = None,
    serial: bool = False,
) -> int:
    """Score the leads in scope with `version` at `as_of` in set-based SQL and store the results.

    With `reuse` (a chunk of a job), leads whose stored counts still hold are scored from them
    without reading their events (engine/reuse.py); the others are counted afresh.

    The write is guarded: a score computed by a newer version, or by the same version at a later
    as_of, is never overwritten, so late or repeated chunks are harmless. For the rows written:
    a history row where the score or tier changed; leads crossing their segment's MQL line
    upwards become MQLs (unless sales already accepted or rejected them); owners are notified
    when a scored lead becomes hot or MQL (alerts of a chunk of job `job_id` name the job: its
    owner gets them as one digest, scoring/alerts.py). Returns the number of leads scored.
    The statements are in scoring/statements.py. With `serial` (a chunk of a job, beside the job's
    other chunks on the other workers), Postgres runs each statement in this one process.
    """
    spec = version_spec(version=version)
    dialect = dialect_for(connection)
    reuse = reuse and lead_ids is None
    sources = versions_reusable(version=version, spec=spec) if reuse else {}
    recount = version_recount_source(version=version, spec=spec) if reuse else None
    run = rescore_start(
        dialect=dialect, version=version, as_of=as_of, now=timezone.now(), id_range=id_range, job_id=job_id
    )
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        session_prepare(cursor, dialect, serial=serial)
        scored = _score_into(cursor, run, spec, as_of, version, sources, recount, id_range=id_range, lead_ids=lead_ids)
        # The session settings leave nested loops off for the writes too: a chunk of a job joins a
        # few hundred thousand rows, which only hash joins do well. The planner's statistics of
        # the scores are those of before the job (the new version has no rows in them), so it
        # would expect one row where this chunk's rows are, and pick a nested loop that scans a
        # temp table once per row (minutes).
        if lead_ids is not None and postgres:
            # A few leads (real time): with statistics the planner probes the scores by index
            # instead of hashing the whole table.
            cursor.execute(f"ANALYZE {run.computed}")
            session_nested_loops(cursor, dialect, on=True)
        # The lines' tail (scoring.models.Score.lines_tail): gone where a row was counted afresh,
        # the recounted criteria's lines appended where a recount gave them, else as stored.
        keys = recount[1].keys if scored.recounted else None
        if not scored.reused:
            cursor.execute(*stmt_changes_counted(run))
            tail = scores_tail(run, fresh=True, keys=None)
        elif not scored.counted:
            # Every row read back from stored counts carries the stored row it replaces: `computed`
            # is what the writes read, without a copy (0.14-0.27 s of a recount's chunk of 250,000).
            run = replace(run, changed=run.computed)
            tail = scores_tail(run, fresh=False, keys=keys)
        else:
            # A few leads to look up among a chunk reused: by index, not a hash of the scores.
            few = scored.counted <= SMALL_RECOUNT
            if few:
                session_nested_loops(cursor, dialect, on=True)
            cursor.execute(*stmt_changes_reused(run))
            if few:
                session_nested_loops(cursor, dialect, on=False)
            tail = scores_tail(run, fresh="c.fresh = 1", keys=keys)
        writes = [stmt_history(run), stmt_scores_update(run, tail=tail), stmt_scores_insert(run)]
        if scored.counted:  # the lines of the leads counted afresh (-1: all of them)
            writes.append(stmt_breakdowns(run, recounted_only=scored.reused))
        writes += [stmt_mql_transitions(run), stmt_mql_stages(run)]
        for sql, params in writes:
            cursor.execute(sql, params)
        notified = 0
        for kind in ALERT_KINDS if alerts else ():
            cursor.execute(*stmt_alerts(run, kind=kind))
            notified += cursor.rowcount
        if notified:
            enqueue_alerts()
        count = _rows_in(cursor, run.computed) + scored.kept
        for table in dict.fromkeys((run.changed, run.computed, run.todo)):  # `changed` may be `computed`
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    return count


def _any_scored_by(cursor, run: Rescore, version_pks: list[int]) -> bool:
    """Whether a score in scope was made by one of the versions: reading back from them costs
    statements over the whole scope, and recounting from them a pass over the events, even when
    no score is left to read back."""
    cursor.execute(*stmt_scored_by(run, version_pks=version_pks))
    return cursor.fetchone() is not None


# Up to this many leads counted afresh in a reused chunk are named one by one (index lookups of
# their events); more are listed in a temp table. Up to one in FEW_OF_RANGE of the chunk's id
# range, their events are still looked up by index (random reads of their rows); with more, those
# reads come close to one pass over the range's rows, joined to the list, which is used instead.
# The one in five is a choice, not a measured crossover (docs/performance.md, "Why the rescore is
# built as it is").
SMALL_RECOUNT = 5000
FEW_OF_RANGE = 5


def _rows_in(cursor, table: str) -> int:
    cursor.execute(f"SELECT COUNT(*) FROM {table}")
    return cursor.fetchone()[0]


@dataclass(frozen=True)
class _Scored:
    """What `_score_into` put in `computed`."""

    counted: int  # leads counted afresh (-1: all of them, and nothing was reused)
    kept: int  # rows moved to the version as they were
    recounted: bool  # rows read back with some criteria counted afresh (engine/recount.py)

    @property
    def reused(self) -> bool:
        return self.counted != -1


def _score_into(cursor, run: Rescore, spec, as_of, version, sources, recount, *, id_range, lead_ids) -> _Scored:
    """Score the leads in scope into the temp table `computed` (BASIS_COLUMNS at least). Where
    `sources` allows and a lead's stored counts still hold: a score that stays as it is has its
    row moved to this version at once, and one that changes is computed from its counts
    (REUSE_COLUMNS). Where `recount` (source pks, plan) allows, a score of the source versions is
    computed from its counts but for the criteria the plan counts afresh (engine/recount.py).
    The other leads are counted afresh."""
    dialect, tables = run.dialect, engine_tables()
    common = dict(tables=tables, model_id=version.scoring_model_id, id_range=id_range)
    made, kept, recounted = False, 0, False
    # After a rule change that needs a recount, no score in scope is usually of a version that
    # counts as this one does: a look for one (~0.1 s for 250,000 scores) instead of the two
    # statements that would find none (~0.33 s, docs/performance.md).
    if sources and (recount is None or _any_scored_by(cursor, run, list(sources))):
        cursor.execute(*stmt_computed(run, compile_reuse(spec, dialect, as_of, sources=sources, **common)))
        moved = compile_kept(
            spec, dialect, as_of, version=(version.pk, version.number), now=timezone.now(), sources=sources, **common
        )
        cursor.execute(moved.sql, moved.params)
        made, kept = True, cursor.rowcount
    left = not made or _left(cursor, run, kept)
    # Only if leads are left, and some of them were scored by the recount's sources: its statement
    # reads the events (a pass over the table) even when no score is left to read back.
    if recount is not None and left and _any_scored_by(cursor, run, recount[0]):
        compiled = compile_recount(spec, dialect, as_of, sources=recount[0], plan=recount[1], **common)
        cursor.execute(*(stmt_computed_add(run, compiled) if made else stmt_computed(run, compiled)))
        made = recounted = True
        left = _left(cursor, run, kept)
    if not made:
        full = compile_scores(spec, dialect, as_of, tables=tables, id_range=id_range, lead_ids=lead_ids, basis=True)
        cursor.execute(*stmt_computed(run, full))
        return _Scored(-1, 0, False)
    if not left:  # every lead of the chunk reused
        return _Scored(0, kept, recounted)
    cursor.execute(*stmt_todo(run))
    count = _rows_in(cursor, run.todo)
    if not count:
        return _Scored(0, kept, recounted)
    if count <= SMALL_RECOUNT:
        cursor.execute(f"SELECT lead_id FROM {run.todo}")
        ids = [pk for (pk,) in cursor.fetchall()]
        full = compile_scores(spec, dialect, as_of, tables=tables, lead_ids=ids, basis=True)
    else:
        few = id_range is not None and count * FEW_OF_RANGE <= id_range[1] - id_range[0] + 1
        full = compile_scores(
            spec, dialect, as_of, tables=tables, id_range=id_range, only_in=run.todo, few=few, basis=True
        )
    cursor.execute(*stmt_computed_add(run, full))
    return _Scored(count, kept, recounted)


def _left(cursor, run: Rescore, kept: int) -> bool:
    """Whether leads in scope are neither in `computed` nor among the `kept` rows."""
    cursor.execute(*stmt_not_reused_count(run))
    return cursor.fetchone()[0] != kept


# The statistics target of a job's closing ANALYZE of the scores: Postgres samples 300 rows per unit.
SCORES_STATISTICS_TARGET = 10


def scores_analyze() -> None:
    """Refresh the planner's figures of the scores after a full rescore of a model (Postgres only).

    A job rewrites every score of a model within minutes, and the planner would keep the old tier
    and score figures until autoanalyze: at 1M leads a rep's "hot" list (562k hot leads, estimated
    at 79) was planned as a read of them all and a sort, 2.4 s, instead of a walk of the score
    index, 40 ms. So the job analyzes before it ends; the rest of the tidying is `scores_vacuum`,
    a task of its own.

    The sample is 3,000 rows (statistics target 10) instead of the default 30,000: the plans of
    the lists and reports need the shares of a few tiers, segments and versions, which 3,000 rows
    give to about a percent, and the default sample visits most of the table's pages (0.4–0.6 s
    at 1M leads, against 0.03–0.04 s). Autovacuum's later ANALYZE uses the server's target.
    """
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        # Until the end of the transaction: a caller's own transaction keeps it for what follows.
        cursor.execute(f"SET LOCAL default_statistics_target = {SCORES_STATISTICS_TARGET}")
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Score._meta.db_table)}")


def scores_vacuum() -> None:
    """Tidy up after a full rescore (Postgres only, outside a transaction): VACUUM the scores,
    ANALYZE their history and the lifecycle stages.

    A job leaves a dead copy of every score row it rewrote. Until they are vacuumed the list pages
    step over them and index-only scans visit the table; autovacuum would come, later. VACUUM reads
    the whole table and each of its indexes (2–5 s at 1M leads, one core), and the history and
    stages grow by the rows a job adds (their lists are planned by key, so their figures can
    wait): this is why it runs after the job is Done rather than as its last step.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {quote(Score._meta.db_table)}")
        cursor.execute(f"ANALYZE {quote(ScoreHistory._meta.db_table)}, {quote(LeadStage._meta.db_table)}")


def lead_ranges(*, chunk_size: int, first: int | None = None) -> list[tuple[int, int, int]]:
    """Split all leads into (first pk, last pk, count) ranges in id order: `first` leads in the
    first range if given, else chunk_size; chunk_size in each next one; the rest in the last."""
    ranges = []
    with connection.cursor() as cursor:
        while True:
            size = chunk_size if ranges else first or chunk_size
            # One walk of the primary key's index per range, not a numbering of every lead: part
            # of every job's time before its first chunk (0.06 s against 0.30 s at 1M leads).
            since = "WHERE id > %s " if ranges else ""
            cursor.execute(
                f"SELECT MIN(id), MAX(id), COUNT(*) FROM (SELECT id FROM {Lead._meta.db_table} {since}"
                "ORDER BY id LIMIT %s) AS n",
                [ranges[-1][1], size] if ranges else [size],
            )
            lo, hi, count = cursor.fetchone()
            if count:
                ranges.append((lo, hi, count))
            if count < size:
                return ranges


PENDING_DRAIN = 5000


CLAIM_STALE_SECONDS = 60


# Postgres error classes worth a retry: connection (08), deadlock and serialization (40), out of
# resources (53), cancelled or shut down (57), system errors (58). Anything else the scoring
# statement raises (out of range, overflow, a program limit) fails again on every retry.
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")


TRANSIENT_SQLITE_WORDS = ("locked", "busy", "disk i/o", "unable to open")


def scoring_error_is_transient(exc: BaseException) -> bool:
    """Would scoring the same leads again succeed? True for a lost or busy database (retry, as a
    lost worker's chunk is redelivered); False for a failure of the inputs themselves (a value out
    of range, a document the engine cannot score, a statement too big for the database)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if connection.vendor == "postgresql":
        sqlstate = getattr(exc.__cause__, "sqlstate", None)
        return sqlstate is None or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    return any(word in str(exc).lower() for word in TRANSIENT_SQLITE_WORDS)


def scoring_error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


def scoring_mark_pending(*, lead_ids: Iterable[int]) -> None:
    """Queue leads for real-time scoring, in one statement; a waiting lead is queued once, and a
    lead re-queued while a drain scores it stays queued for the next drain."""
    ids = sorted(set(lead_ids))
    table = PendingScore._meta.db_table
    if connection.vendor == "postgresql":
        source, param = "SELECT unnest(%s::bigint[]) AS id", ids
    else:
        source, param = "SELECT value AS id FROM json_each(%s)", json.dumps(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (lead_id, queued_at, claimed_by, claimed_at) SELECT s.id, %s, '', NULL "
            f"FROM ({source}) AS s WHERE TRUE ON CONFLICT (lead_id) DO UPDATE SET queued_at = excluded.queued_at, "
            "claimed_by = '', claimed_at = NULL",
            [db_time(timezone.now()), param],
        )


def enqueue_scoring(lead_ids: set[int]) -> None:
    """Mark leads for real-time scoring (in the caller's transaction) and wake a drain task on commit.

    Many small ingest batches coalesce: a drain task scores everything pending at once, so the
    fixed cost of a rescore is paid per drain, not per batch of events.
    """
    if not lead_ids:
        return
    scoring_mark_pending(lead_ids=lead_ids)
    count = len(lead_ids)

    def send():  # broker down: the sweep wakes a drain for what is still pending
        task_send("scoring.score_pending", what=f"scoring of {count} leads")

    transaction.on_commit(send)


def scoring_drain_pending(*, limit: int = PENDING_DRAIN) -> int:
    """Score every pending lead under each live version at now. Returns the number scored.

    Three short steps per round, so ingestion never waits on a rescore: claim (committed), score,
    then delete the claimed rows not re-queued meanwhile. A drain that dies after claiming leaves
    its claim to go stale and be taken over: nothing is lost, and rescoring twice is harmless.
    """
    table = PendingScore._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    total = 0
    while True:
        token = uuid.uuid4().hex
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET claimed_by = %s, claimed_at = %s WHERE lead_id IN (SELECT lead_id FROM {table} "
                f"WHERE claimed_by = '' OR claimed_at < %s ORDER BY queued_at LIMIT %s{lock}) RETURNING lead_id",
                [token, db_time(now), db_time(now - timedelta(seconds=CLAIM_STALE_SECONDS)), limit],
            )
            lead_ids = [pk for (pk,) in cursor.fetchall()]
        if not lead_ids:
            return total
        for version in versions_live():
            scoring_rescore_isolated(version=version, as_of=now, lead_ids=lead_ids)
        PendingScore.objects.filter(claimed_by=token).delete()
        total += len(lead_ids)


def scoring_rescore_isolated(*, version: ModelVersion, as_of: datetime, lead_ids: list[int]) -> int:
    """Real-time scoring of `lead_ids` under one version, without taking the other models down.

    A failure that would repeat (see scoring_error_is_transient) is logged and the next model is
    scored: its own transaction (a savepoint inside a caller's) was rolled back whole, so this
    model's scores of these leads stay as they were until the model is fixed and rescored, and the
    leads leave the queue. A transient one is raised: the claim goes stale and a drain retries it.
    Returns the number of leads scored (0 on a failure).
    """
    try:
        return leads_rescore(version=version, as_of=as_of, lead_ids=lead_ids)
    except Exception as exc:
        if scoring_error_is_transient(exc):
            raise
        logger.exception(
            "real-time scoring of %d leads under %s v%d failed, the other models are scored: %s",
            len(lead_ids),
            version.scoring_model.slug,
            version.number,
            scoring_error_text(exc),
        )
        return 0
