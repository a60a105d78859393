"""Scoring leads: the bulk rescore over lead ranges, real-time scoring of pending leads, and their error rules."""

import json
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from engine.reuse import compile_kept, compile_reuse
from engine.sql import BASIS_COLUMNS, compile_scores, dialect_for
from leads.models import Lead
from leadscoring.celery import task_send
from matrix.models import ModelVersion
from matrix.selectors import version_spec, versions_live, versions_reusable
from scoring.alerts import enqueue_alerts
from scoring.choices import NotificationKind, Stage
from scoring.models import LeadStage, Notification, PendingScore, Score, ScoreBreakdown, ScoreHistory, StageTransition

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
) -> int:
    """Score the leads in scope with `version` at `as_of` in set-based SQL and store the results.

    With `reuse` (a chunk of a job), leads whose stored counts still hold are scored from them
    without reading their events (matrix/engine/reuse.py); the others are counted afresh.

    The write is guarded: a score computed by a newer version, or by the same version at a later
    as_of, is never overwritten, so late or repeated chunks are harmless. For the rows written:
    a history row where the score or tier changed; leads crossing their segment's MQL line
    upwards become MQLs (unless sales already accepted or rejected them); owners are notified
    when a scored lead becomes hot or MQL (alerts of a chunk of job `job_id` name the job: its
    owner gets them as one digest, leads/alerts.py). Returns the number of leads scored.
    """
    spec = version_spec(version=version)
    dialect = dialect_for(connection)
    sources = versions_reusable(version=version, spec=spec) if reuse and lead_ids is None else {}
    tag = uuid.uuid4().hex[:12]
    computed, changed, todo = f"tmp_scores_{tag}", f"tmp_changes_{tag}", f"tmp_todo_{tag}"
    params = dict(
        ls_model=version.scoring_model_id,
        ls_version=version.pk,
        ls_number=version.number,
        ls_asof=_db_time(as_of),
        ls_now=_db_time(timezone.now()),
        ls_lead=Stage.LEAD,
        ls_recycled=Stage.RECYCLED,
        ls_mql=Stage.MQL,
        ls_hot=NotificationKind.BECAME_HOT,
        ls_became_mql=NotificationKind.BECAME_MQL,
        ls_job=job_id,
    )
    # Every join to scoring_score also names the chunk's leads: Postgres then reads the chunk's rows
    # by the (lead, model) index instead of scanning every score of the model for each statement.
    chunk = ""
    if id_range is not None:
        params.update(ls_lo=id_range[0], ls_hi=id_range[1])
        chunk = " AND s.lead_id BETWEEN %(ls_lo)s AND %(ls_hi)s"
    tables = {
        "score": Score._meta.db_table,
        "breakdown": ScoreBreakdown._meta.db_table,
        "history": ScoreHistory._meta.db_table,
        "stage": LeadStage._meta.db_table,
        "transition": StageTransition._meta.db_table,
        "notification": Notification._meta.db_table,
        "lead": Lead._meta.db_table,
    }
    result = "t.lead_id, t.score, t.fit, t.engagement, t.segment, t.tier, t.grade, t.mql, t.basis, t.stable_until"
    # Only rows this computation may write (nothing newer stored), with what they replace.
    # Without the breakdown (most of a row's bytes): its insert takes it from `computed`.
    looked_up = (
        f"SELECT {result}, s.id AS sid, s.tier AS old_tier, s.mql AS old_mql, s.score AS old_score "
        f"FROM {computed} t LEFT JOIN {{score}} s "
        f"ON s.lead_id = t.lead_id AND s.scoring_model_id = %(ls_model)s{chunk} "
        "WHERE (s.id IS NULL OR s.version_number < %(ls_number)s "
        "OR (s.version_number = %(ls_number)s AND s.as_of <= %(ls_asof)s))"
    )
    # The breakdown lines (their own table, docs/scoring.md) of the score rows just written: a
    # row the guard above kept (a newer version or as_of, stored meanwhile) is not this version at
    # this as_of, so its lines stay too.
    breakdown_write = (
        "INSERT INTO {breakdown} (score_id, lines) SELECT s.id, t.breakdown "
        f"FROM {changed} c JOIN {computed} t ON t.lead_id = c.lead_id "
        f"JOIN {{score}} s ON s.lead_id = c.lead_id AND s.scoring_model_id = %(ls_model)s{chunk} "
        "WHERE s.version_id = %(ls_version)s AND s.as_of = %(ls_asof)s "
        # Lines that did not change (most of them, after a points change) are left as they are.
        "ON CONFLICT (score_id) DO UPDATE SET lines = excluded.lines "
        "WHERE {breakdown}.lines IS DISTINCT FROM excluded.lines"
    )
    # Rows already stored are updated in place: when only the version and as_of move (no indexed
    # column changes) Postgres rewrites them on their own page without touching an index (a HOT
    # update; the table keeps room for that, migration 0011). The guard is checked again against a
    # row another worker changed meanwhile.
    score_update = (
        "UPDATE {score} AS s SET version_id = %(ls_version)s, version_number = %(ls_number)s, "
        "as_of = %(ls_asof)s, score = c.score, fit = c.fit, engagement = c.engagement, segment = c.segment, "
        "tier = c.tier, grade = c.grade, mql = c.mql, basis = c.basis, stable_until = c.stable_until, "
        f"computed_at = %(ls_now)s FROM {changed} c "
        f"WHERE s.id = c.sid{chunk} AND (s.version_number < %(ls_number)s "
        "OR (s.version_number = %(ls_number)s AND s.as_of <= %(ls_asof)s))"
    )
    history = (
        "INSERT INTO {history} (lead_id, scoring_model_id, version_number, as_of, score, fit, engagement, tier, "
        "previous_tier, mql, recorded_at) SELECT c.lead_id, %(ls_model)s, %(ls_number)s, %(ls_asof)s, c.score, "
        f"c.fit, c.engagement, c.tier, COALESCE(c.old_tier, ''), c.mql, %(ls_now)s FROM {changed} c "
        "WHERE c.sid IS NULL OR c.old_score <> c.score OR c.old_tier <> c.tier"
    )
    # New rows; a row another worker inserted meanwhile goes through the same guard.
    score_insert = (
        "INSERT INTO {score} AS s (lead_id, scoring_model_id, version_id, version_number, as_of, score, "
        "fit, engagement, segment, tier, grade, mql, basis, stable_until, computed_at) "
        "SELECT c.lead_id, %(ls_model)s, %(ls_version)s, %(ls_number)s, %(ls_asof)s, c.score, c.fit, "
        "c.engagement, c.segment, c.tier, c.grade, c.mql, c.basis, c.stable_until, %(ls_now)s "
        f"FROM {changed} c WHERE c.sid IS NULL "
        "ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET version_id = excluded.version_id, "
        "version_number = excluded.version_number, as_of = excluded.as_of, score = excluded.score, "
        "fit = excluded.fit, engagement = excluded.engagement, segment = excluded.segment, "
        "tier = excluded.tier, grade = excluded.grade, mql = excluded.mql, basis = excluded.basis, "
        "stable_until = excluded.stable_until, computed_at = excluded.computed_at "
        "WHERE s.version_number < excluded.version_number "
        "OR (s.version_number = excluded.version_number AND s.as_of <= excluded.as_of)"
    )
    lifecycle = [
        # An upward MQL crossing moves a lead (or a recycled one) to MQL, dated at the as_of its
        # score describes; accepted (SQL), rejected and current MQLs stay where sales put them.
        "INSERT INTO {transition} (lead_id, scoring_model_id, from_stage, to_stage, score, version_id, reason, "
        "reason_text, occurred_at) SELECT c.lead_id, %(ls_model)s, COALESCE(st.stage, %(ls_lead)s), %(ls_mql)s, "
        f"c.score, %(ls_version)s, '', '', %(ls_asof)s FROM {changed} c LEFT JOIN {{stage}} st "
        "ON st.lead_id = c.lead_id AND st.scoring_model_id = %(ls_model)s "
        "WHERE c.mql AND (c.old_mql IS NULL OR NOT c.old_mql) "
        "AND (st.id IS NULL OR st.stage IN (%(ls_lead)s, %(ls_recycled)s))",
        "INSERT INTO {stage} AS st (lead_id, scoring_model_id, stage, mql_at, mql_score, mql_version_id, "
        "mql_segment, reject_reason, reject_text, changed_at) SELECT c.lead_id, %(ls_model)s, %(ls_mql)s, "
        f"%(ls_asof)s, c.score, %(ls_version)s, c.segment, '', '', %(ls_now)s FROM {changed} c "
        "WHERE c.mql AND (c.old_mql IS NULL OR NOT c.old_mql) "
        "ON CONFLICT (lead_id, scoring_model_id) DO UPDATE SET stage = excluded.stage, mql_at = excluded.mql_at, "
        "mql_score = excluded.mql_score, mql_version_id = excluded.mql_version_id, "
        "mql_segment = excluded.mql_segment, changed_at = excluded.changed_at "
        "WHERE st.stage IN (%(ls_lead)s, %(ls_recycled)s)",
    ]
    if alerts:
        # Alerts only for real crossings of a lead already scored: a first score (a new model,
        # a new lead) is not news to its owner, and a publish would otherwise flood them.
        for kind, crossed in (
            ("%(ls_hot)s", "c.tier = 'hot' AND c.old_tier <> 'hot'"),
            ("%(ls_became_mql)s", "c.mql AND NOT c.old_mql"),
        ):
            lifecycle.append(
                "INSERT INTO {notification} (user_id, lead_id, scoring_model_id, kind, message, created_at, job_id) "
                f"SELECT l.owner_id, c.lead_id, %(ls_model)s, {kind}, "
                f"'Score ' || {dialect.score_words('c.score')} || ' (' || c.tier || ')', %(ls_now)s, "
                "CAST(%(ls_job)s AS BIGINT) "
                f"FROM {changed} c "
                f"JOIN {{lead}} l ON l.id = c.lead_id WHERE c.sid IS NOT NULL AND l.owner_id IS NOT NULL AND {crossed}"
            )
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in dialect.session_settings():
            cursor.execute(setting)
        counted, kept = _score_into(
            cursor, computed, todo, spec, dialect, as_of, version, sources, id_range=id_range, lead_ids=lead_ids
        )
        postgres = connection.vendor == "postgresql"
        # The session settings leave nested loops off for the writes too: a chunk of a job joins a
        # few hundred thousand rows, which only hash joins do well. The planner's statistics of
        # scoring_score are those of before the job (the new version has no rows in them), so it
        # would expect one row where this chunk's rows are, and pick a nested loop that scans a
        # temp table once per row (minutes).
        if lead_ids is not None and postgres:
            # A few leads (real time): with statistics the planner probes scoring_score by index
            # instead of hashing the whole table.
            cursor.execute(f"ANALYZE {computed}")
            cursor.execute("SET LOCAL enable_nestloop = on")
        if not sources:
            statements = [f"{dialect.temp_table(changed)} {looked_up}", history, score_update, score_insert]
            statements.append(breakdown_write)
        else:
            # Reused rows carry the stored row they replace (read under the same guard): only the
            # leads counted afresh, if any, are looked up.
            reused = f"SELECT {result}, t.sid, t.old_tier, t.old_mql, t.old_score FROM {computed} t"
            if counted:
                reused += f" WHERE t.sid IS NOT NULL UNION ALL {looked_up} AND t.sid IS NULL"
            statements = [f"{dialect.temp_table(changed)} {reused}"]
            if postgres and 0 < counted <= SMALL_RECOUNT:
                # A few leads to look up among a chunk reused: by index, not a hash of scoring_score.
                statements = ["SET LOCAL enable_nestloop = on", *statements, "SET LOCAL enable_nestloop = off"]
            # Their stored lines stay as they are: a reader prices them with this version's points
            # (Score.breakdown, matrix/engine/lines.py).
            statements += [history, score_update, score_insert]
            if counted:  # the lines of the leads counted afresh
                statements.append(breakdown_write.replace(" ON CONFLICT", " AND t.sid IS NULL ON CONFLICT"))
        statements += lifecycle
        notified = 0
        for statement in statements:
            for name, table in tables.items():
                statement = statement.replace("{" + name + "}", table)
            cursor.execute(statement, params)
            if statement.startswith(f"INSERT INTO {tables['notification']}"):
                notified += cursor.rowcount
        if notified:
            enqueue_alerts()
        cursor.execute(f"SELECT COUNT(*) FROM {computed}")
        scored = cursor.fetchone()[0] + kept
        for table in (changed, computed, todo):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    return scored


# Up to this many leads counted afresh in a reused chunk are named one by one (index lookups of
# their events); more are a range scan's work, joined to the list.
SMALL_RECOUNT = 5000


def _score_into(
    cursor, computed: str, todo: str, spec, dialect, as_of, version, sources, *, id_range, lead_ids
) -> tuple[int, int]:
    """Score the leads in scope into the temp table `computed` (BASIS_COLUMNS at least). Where
    `sources` allows and a lead's stored counts still hold: a score that stays as it is has its
    row moved to this version at once, and one that changes is computed from its counts
    (REUSE_COLUMNS); the other leads are counted afresh. Returns (leads counted afresh, -1 for
    all; rows moved as they were)."""
    if not sources:
        full = compile_scores(spec, dialect, as_of, id_range=id_range, lead_ids=lead_ids, basis=True)
        cursor.execute(f"{dialect.temp_table(computed)} {full.sql}", full.params)
        return -1, 0
    common = dict(model_id=version.scoring_model_id, sources=sources, id_range=id_range)
    reused = compile_reuse(spec, dialect, as_of, **common)
    cursor.execute(f"{dialect.temp_table(computed)} {reused.sql}", reused.params)
    moved = compile_kept(spec, dialect, as_of, version=(version.pk, version.number), now=timezone.now(), **common)
    cursor.execute(moved.sql, moved.params)
    kept = cursor.rowcount
    scope, chunk = ("l.id BETWEEN %s AND %s", " AND s.lead_id BETWEEN %s AND %s") if id_range else ("TRUE", "")
    cursor.execute(
        f"SELECT (SELECT COUNT(*) FROM {Lead._meta.db_table} l WHERE {scope}) - (SELECT COUNT(*) FROM {computed})",
        list(id_range or ()),
    )
    if cursor.fetchone()[0] == kept:  # every lead of the chunk reused
        return 0, kept
    # The rest: neither reused nor already this version at this as_of (moved just now, or written
    # by an earlier delivery of the same chunk).
    cursor.execute(
        f"{dialect.temp_table(todo)} SELECT l.id AS lead_id FROM {Lead._meta.db_table} l "
        f"LEFT JOIN {Score._meta.db_table} s ON s.lead_id = l.id AND s.scoring_model_id = %s{chunk} WHERE {scope} "
        f"AND NOT EXISTS (SELECT 1 FROM {computed} c WHERE c.lead_id = l.id) "
        "AND (s.id IS NULL OR s.version_id <> %s OR s.as_of <> %s)",
        [version.scoring_model_id, *(id_range or ()), *(id_range or ()), version.pk, _db_time(as_of)],
    )
    cursor.execute(f"SELECT COUNT(*) FROM {todo}")
    count = cursor.fetchone()[0]
    if not count:
        return 0, kept
    if count <= SMALL_RECOUNT:
        cursor.execute(f"SELECT lead_id FROM {todo}")
        ids = [pk for (pk,) in cursor.fetchall()]
        full = compile_scores(spec, dialect, as_of, lead_ids=ids, basis=True)
    else:
        full = compile_scores(spec, dialect, as_of, id_range=id_range, only_in=todo, basis=True)
    columns = ", ".join(BASIS_COLUMNS)
    cursor.execute(f"INSERT INTO {computed} ({columns}) {full.sql}", full.params)
    return count, kept


def scores_analyze() -> None:
    """Refresh the planner's figures of the scores after a full rescore of a model (Postgres only).

    A job rewrites every score of a model within minutes, and the planner would keep the old tier
    and score figures until autoanalyze: at 1M leads it took a rep's "hot" list (562k hot leads,
    estimated at 79) by the tier index plus a sort, 2.4 s, instead of walking the score index,
    40 ms. ANALYZE samples about 30k rows: 0.4–0.5 s on settled rows, up to about 2 s straight
    after a job (it is the first to read the new rows), so the job does it before it ends; the
    rest of the tidying is `scores_vacuum`, a task of its own.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
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


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def lead_ranges(*, chunk_size: int) -> list[tuple[int, int, int]]:
    """Split all leads into (first pk, last pk, count) ranges of at most chunk_size leads."""
    ranges = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN(id), MAX(id), COUNT(*) FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %s AS b "
            f"FROM {Lead._meta.db_table}) AS n GROUP BY b ORDER BY b",
            [chunk_size],
        )
        ranges = [(lo, hi, n) for lo, hi, n in cursor.fetchall()]
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
            [_db_time(timezone.now()), param],
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
                [token, _db_time(now), _db_time(now - timedelta(seconds=CLAIM_STALE_SECONDS)), limit],
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
