"""Rescore jobs: a publish (or the nightly decay) rescoring every lead in chunks on the workers.

Every step is safe to run twice. A job is planned once (compare-and-set pending -> running),
each chunk is marked done once (conditional UPDATE in the same transaction as its scores), and
the score writes themselves are version-guarded (services.leads_rescore). A worker killed
mid-chunk rolls its transaction back and the broker redelivers the task (acks_late); a job
whose messages were lost (broker down) is found by `rescore_jobs_sweep` and sent again.

A chunk whose scoring fails for a reason that would repeat (a value out of range, a document the
engine cannot score) ends its job `failed` with the error recorded, shown on /jobs/ and in the
API: resending it would only fail again. A transient failure (the database lost or busy) is raised
and retried as a lost worker's chunk is.
"""

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from leads.models import Lead
from leadscoring import durable
from leadscoring.celery import task_send
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import version_live
from matrix.services import version_draft_publish, version_publish
from scoring.choices import JobState, JobTrigger
from scoring.models import Notification, PendingScore, RescoreChunk, RescoreJob
from scoring.services import lead_ranges, leads_rescore, scores_analyze, scoring_error_is_transient, scoring_error_text

# A job is cut into at least this many chunks when it has enough leads, so that its progress (done
# chunk by chunk) moves in steps of at most a tenth; a chunk never has fewer than MIN_CHUNK_LEADS
# (each chunk is one statement and one transaction, with a fixed cost) nor more than
# RESCORE_CHUNK_SIZE leads. With the default 100,000, a job of 1M leads or more is cut as before.
MIN_CHUNKS = 10
MIN_CHUNK_LEADS = 100
# A job that has sent nothing (broker down) or finished no chunk for this long is sent again.
STALE_AFTER = timedelta(seconds=settings.RESCORE_STALE_SECONDS)
logger = logging.getLogger(__name__)


def rescore_job_create(*, version: ModelVersion, trigger: str, user=None, as_of: datetime | None = None) -> RescoreJob:
    """Record a job and send it to the workers once the surrounding transaction commits."""
    job = RescoreJob.objects.create(
        scoring_model_id=version.scoring_model_id, version=version, trigger=trigger, created_by=user, as_of=as_of
    )
    transaction.on_commit(lambda: job_enqueue(job_id=job.pk))
    return job


@transaction.atomic
def model_version_publish(*, version: ModelVersion, user=None, enforce_approvals: bool = False) -> ModelVersion:
    """Publish a draft (matrix.services.version_publish) and start the rescore of every lead
    with it, in one transaction: the job exists exactly when the publish does."""
    version = version_publish(version=version, user=user, enforce_approvals=enforce_approvals)
    rescore_job_create(version=version, trigger=JobTrigger.PUBLISH, user=user)
    return version


@transaction.atomic
def model_draft_publish(*, version: ModelVersion, user, revision: int) -> ModelVersion:
    """The pages' and the API's publish: the draft as the user saw it (`revision`), approvals
    enforced (matrix.services.version_draft_publish), then the rescore of every lead."""
    version = version_draft_publish(version=version, user=user, revision=revision)
    rescore_job_create(version=version, trigger=JobTrigger.PUBLISH, user=user)
    return version


class NoLiveVersion(ValueError):
    """A model with no published version: there is nothing to rescore its leads with."""


@transaction.atomic
def model_rescore_start(*, scoring_model: ScoringModel, user=None) -> RescoreJob:
    """Start a manual rescore of every lead with the model's live version (the API's rescore)."""
    version = version_live(scoring_model=scoring_model)
    if version is None:
        raise NoLiveVersion(f"model {scoring_model.slug!r} has no published version to rescore with")
    return rescore_job_create(version=version, trigger=JobTrigger.MANUAL, user=user)


def job_enqueue(*, job_id: int) -> bool:
    """Send the job's first task. A broker that is down is logged, not raised: the sweep resends."""
    return durable.enqueue(
        RescoreJob, job_id, task="scoring.rescore_job_start", what="rescore job", stamp="enqueued_at"
    )


def rescore_job_start(*, job_id: int) -> int:
    """Plan the job (once) and send a task for each chunk still to run; returns how many were sent.
    A broker that fails stops the sending: the sweep resends the job, whose plan lists the rest."""
    sent = 0
    for index in rescore_job_plan(job_id=job_id):
        if not task_send("scoring.rescore_chunk", job_id, index, what=f"chunk {index + 1} of rescore job {job_id}"):
            break
        sent += 1
    return sent


def rescore_job_plan(*, job_id: int) -> list[int]:
    """Split a pending job into chunks (once) and return the indexes still to run."""
    with transaction.atomic():
        job = RescoreJob.objects.select_for_update().get(pk=job_id)
        if job.state in (JobState.DONE, JobState.FAILED, JobState.SUPERSEDED):
            return []
        if job.version.status != VersionStatus.PUBLISHED:
            # A newer publish replaced this version before its rescore ran: its own job wins.
            job.state, job.finished_at = JobState.SUPERSEDED, timezone.now()
            job.save(update_fields=["state", "finished_at"])
            return []
        if job.state == JobState.PENDING:
            size = job_chunk_size(leads=Lead.objects.count(), maximum=settings.RESCORE_CHUNK_SIZE)
            ranges = job_lead_ranges(chunk_size=size)
            RescoreChunk.objects.bulk_create(
                [
                    RescoreChunk(job=job, index=i, first_lead_id=lo, last_lead_id=hi, leads=n)
                    for i, (lo, hi, n) in enumerate(ranges)
                ]
            )
            job.as_of = job.as_of or timezone.now()
            job.state, job.started_at = JobState.RUNNING, timezone.now()
            job.total_leads = sum(n for _, _, n in ranges)
            job.chunks_total = len(ranges)
            if not ranges:
                job.state, job.finished_at = JobState.DONE, timezone.now()
            job.save()
        return list(job.chunks.filter(done_at__isnull=True).order_by("index").values_list("index", flat=True))


def rescore_jobs_done_inline(
    *, versions: list[ModelVersion], as_of: datetime, started_at: datetime, total_leads: int, chunks: int
) -> int:
    """Mark done the pending jobs of `versions` whose every lead the caller has just scored itself,
    at `as_of`, in the same transaction (seed_demo scores every lead right after its publishes).

    Left pending they would wait on /jobs/ for a worker (for ever if none runs, or when the
    database file is copied away from its broker folder) only to redo the same scores; done, a
    worker that still receives their message finds nothing to do (`rescore_job_plan`).
    Returns the number of jobs marked done.
    """
    return RescoreJob.objects.filter(version__in=versions, state=JobState.PENDING).update(
        state=JobState.DONE,
        as_of=as_of,
        started_at=started_at,
        finished_at=timezone.now(),
        total_leads=total_leads,
        leads_done=total_leads,
        chunks_total=chunks,
        chunks_done=chunks,
    )


def job_lead_ranges(*, chunk_size: int) -> list[tuple[int, int, int]]:
    """A job's chunks: (first pk, last pk, count) ranges of chunk_size leads, the first of half as
    many when that is at least MIN_CHUNK_LEADS.

    The `rescore` workers (two, README) take a job's chunks side by side. Chunks of one size would
    run in step: both counting, then both writing, and two chunks writing at once wait on each
    other's WAL (a recount chunk's score `UPDATE` took 3.0 s beside another's against 2.1 s alone,
    its history insert 0.7 s against 0.4 s). A first chunk of half the size puts the workers half a
    chunk apart, so that one writes while the other counts (docs/performance.md, "Chunk size")."""
    half = chunk_size // 2
    return lead_ranges(chunk_size=chunk_size, first=half if half >= MIN_CHUNK_LEADS else None)


def job_chunk_size(*, leads: int, maximum: int) -> int:
    """Leads per chunk for a job over `leads` leads: a tenth of them (MIN_CHUNKS), but at least
    MIN_CHUNK_LEADS and at most `maximum` (the RESCORE_CHUNK_SIZE setting)."""
    return max(1, min(maximum, max(MIN_CHUNK_LEADS, -(-leads // MIN_CHUNKS))))


def rescore_chunk_run(*, job_id: int, index: int) -> bool:
    """Score one chunk and mark it done, in one transaction. Returns False if there was nothing to do."""
    job = RescoreJob.objects.select_related("version").get(pk=job_id)
    if job.state != JobState.RUNNING:
        return False
    chunk = job.chunks.get(index=index)
    if chunk.done_at is not None:
        return False
    with transaction.atomic():
        # A manual rescore counts every lead afresh from its events (the reconciliation a user
        # asks for); a publish or the nightly decay reuses the counts that still hold.
        try:
            leads_rescore(
                version=job.version,
                as_of=job.as_of,
                id_range=(chunk.first_lead_id, chunk.last_lead_id),
                reuse=job.trigger != JobTrigger.MANUAL,
                job_id=job.pk,
                # The job's parallelism is its chunks, one per worker: Postgres' parallel workers
                # for a chunk's statements would only take cores from the other chunks
                # (docs/performance.md, "Session settings").
                serial=True,
            )
        except Exception as exc:
            if scoring_error_is_transient(exc):
                raise
            # Its own savepoint is rolled back (nothing of the chunk is kept); record why, here.
            logger.exception("rescore job %s failed on chunk %s", job_id, index)
            rescore_job_fail(job_id=job_id, error=f"chunk {index + 1}: {scoring_error_text(exc)}")
            return False
        claimed = RescoreChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(done_at=timezone.now())
        if not claimed:
            # Another delivery of this chunk finished first; its identical scores stand.
            transaction.set_rollback(True)
            return False
        RescoreJob.objects.filter(pk=job_id).update(
            chunks_done=F("chunks_done") + 1, leads_done=F("leads_done") + chunk.leads
        )
        finished = durable.claim(
            RescoreJob.objects.filter(chunks_done=F("chunks_total")),
            job_id,
            from_state=JobState.RUNNING,
            to_state=JobState.DONE,
            finished_at=timezone.now(),
        )
    if finished:
        scores_analyze()
        transaction.on_commit(
            lambda: task_send("scoring.vacuum_scores", what="vacuum of the scores (autovacuum does it later)")
        )
    return True


def rescore_job_fail(*, job_id: int, error: str) -> bool:
    """Mark a running job failed with its error (the first failing chunk's error stays). Its other
    chunks then do nothing, and the sweep no longer sends it."""
    return durable.fail(
        RescoreJob,
        job_id,
        from_state=JobState.RUNNING,
        to_state=JobState.FAILED,
        error=error,
        finished_at=timezone.now(),
    )


def rescore_jobs_sweep(*, now: datetime | None = None) -> list[int]:
    """Resend jobs whose messages were lost: never sent, or running without progress for a while."""
    stale = (now or timezone.now()) - STALE_AFTER
    lost = durable.stale(
        # A running job that finished a chunk since is alive, however long ago it was sent; a
        # pending one has no chunk yet.
        RescoreJob.objects.exclude(chunks__done_at__gte=stale),
        before=stale,
        since={JobState.PENDING: "enqueued_at", JobState.RUNNING: "enqueued_at"},
        unstamped=[JobState.PENDING],
    )
    return durable.resend_stale(lost.order_by("pk"), lambda pk: job_enqueue(job_id=pk))


def pipeline_sweep() -> list[int]:
    """The beat's sweep (every RESCORE_SWEEP_SECONDS): wake the alert sender and the real-time
    drain where work waits (their wake-up was sent on a commit, and may have been lost with the
    broker), then resend the lost jobs. Returns the ids of the jobs sent again."""
    if Notification.objects.filter(emailed_at__isnull=True).exists():
        task_send("scoring.send_alerts", what="alerts")
    if PendingScore.objects.exists():
        task_send("scoring.score_pending", what="real-time scoring of the pending leads")
    return rescore_jobs_sweep()


def nightly_decay(*, now: datetime | None = None) -> list[RescoreJob]:
    """One job per live model at as_of = now: decay, lookback and half-life move with time."""
    now = now or timezone.now()
    jobs = []
    with transaction.atomic():
        for version in ModelVersion.objects.filter(status=VersionStatus.PUBLISHED):
            # Safe to run twice: a second run the same night finds its job and adds none.
            exists = RescoreJob.objects.filter(
                version=version, trigger=JobTrigger.NIGHTLY, as_of__date=now.date()
            ).exists()
            if not exists:
                jobs.append(rescore_job_create(version=version, trigger=JobTrigger.NIGHTLY, as_of=now))
    return jobs


def job_progress(job: RescoreJob) -> dict:
    """Progress figures for the jobs pages and the API: done, rate, time left, and `text`, the one
    line both pages show (so the list and a job's page can never tell two stories).

    Progress moves chunk by chunk (a job has at least MIN_CHUNKS when it has the leads for it);
    the time left is the leads still to do at the rate of those done so far, known once the first
    chunk is done. A job no worker has started has no progress, rate or time left: it is waiting.
    """
    elapsed = ((job.finished_at or timezone.now()) - job.started_at).total_seconds() if job.started_at else 0
    rate = job.leads_done / elapsed if elapsed > 0 else 0
    left = (job.total_leads - job.leads_done) / rate if rate else None
    percent = 100 * job.leads_done / job.total_leads if job.total_leads else (100 if job.state == JobState.DONE else 0)
    return {
        "state": job.state,
        "chunks_done": job.chunks_done,
        "chunks_total": job.chunks_total,
        "leads_done": job.leads_done,
        "total_leads": job.total_leads,
        "percent": round(percent, 1),
        "rate": round(rate, 1),
        "seconds_left": None if left is None or job.state != JobState.RUNNING else round(left),
        "time_left": _time_left(left) if left is not None and job.state == JobState.RUNNING else "",
        "seconds": round(elapsed, 1),
        "started": job.started_at is not None,
        "text": _progress_text(job, percent),
    }


def _progress_text(job: RescoreJob, percent: float) -> str:
    """`2,000 of 5,000 leads (40%)`; the whole percent is rounded down, so 100% means every lead."""
    if job.state == JobState.PENDING:
        return "Waiting for a worker"
    if job.state == JobState.SUPERSEDED and job.started_at is None:
        return "Not run: a newer version was published first"
    if not job.total_leads:
        return "No lead to score"
    return f"{job.leads_done:,} of {job.total_leads:,} leads ({math.floor(percent)}%)"


def _time_left(seconds: float) -> str:
    """The ETA in words, from the rate of the chunks done so far: `about 40 s`, `about 3 min`."""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"
