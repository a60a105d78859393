"""Celery tasks: thin wrappers that take ids and call a service. Queues are named in settings."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from leadscoring.celery import task_send
from matrix.selectors import versions_live
from scoring import alerts, impact, jobs
from scoring.models import PendingScore
from scoring.services import scores_vacuum, scoring_drain_pending, scoring_mark_pending, scoring_rescore_isolated


@shared_task(name="scoring.rescore_job_start")
def rescore_job_start(job_id: int) -> int:
    indexes = jobs.rescore_job_plan(job_id=job_id)
    for index in indexes:
        rescore_chunk.apply_async(args=[job_id, index])
    return len(indexes)


@shared_task(name="scoring.rescore_chunk")
def rescore_chunk(job_id: int, index: int) -> bool:
    return jobs.rescore_chunk_run(job_id=job_id, index=index)


@shared_task(name="scoring.vacuum_scores")
def vacuum_scores() -> None:
    scores_vacuum()


def enqueue_vacuum() -> None:
    def send():  # broker down: autovacuum does the same, later
        task_send(vacuum_scores, what="vacuum of the scores (autovacuum does it later)")

    transaction.on_commit(send)


@shared_task(name="scoring.score_leads")
def score_leads(lead_ids: list[int]) -> int:
    """Real-time path: rescore the leads an event batch or a lead import touched, at now."""
    as_of = timezone.now()
    scored = 0
    for version in versions_live():
        scored += scoring_rescore_isolated(version=version, as_of=as_of, lead_ids=lead_ids)
    return scored


@shared_task(name="scoring.send_alerts")
def send_alerts() -> int:
    sent = alerts.alerts_send_pending()
    if sent == alerts.BATCH:
        send_alerts.apply_async()  # more are waiting: take the next batch in a fresh task
    return sent


def enqueue_alerts() -> None:
    def send():  # broker down: the sweep sends pending alerts later
        task_send(send_alerts, what="alerts")

    transaction.on_commit(send)


@shared_task(name="scoring.rescore_jobs_sweep")
def rescore_jobs_sweep() -> list[int]:
    if alerts.Notification.objects.filter(emailed_at__isnull=True).exists():
        send_alerts.apply_async()
    if PendingScore.objects.exists():
        score_pending.apply_async()
    return jobs.rescore_jobs_sweep()


@shared_task(name="scoring.nightly_decay")
def nightly_decay() -> list[int]:
    return [job.pk for job in jobs.nightly_decay()]


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
        task_send(score_pending, what=f"scoring of {count} leads")

    transaction.on_commit(send)


@shared_task(name="scoring.score_pending")
def score_pending() -> int:
    return scoring_drain_pending()


@shared_task(name="scoring.impact_preview")
def impact_preview_task(preview_id: int) -> bool:
    """Score every lead with a draft and compare with the live scores (queue: rescore)."""
    return impact.impact_preview_run(preview_id=preview_id)
