"""Celery tasks: thin wrappers that take ids and call a service. Queues are named in settings."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from matrix.selectors import versions_live

from . import alerts, jobs
from .services import leads_rescore


@shared_task(name="leads.rescore_job_start")
def rescore_job_start(job_id: int) -> int:
    indexes = jobs.rescore_job_plan(job_id=job_id)
    for index in indexes:
        rescore_chunk.apply_async(args=[job_id, index])
    return len(indexes)


@shared_task(name="leads.rescore_chunk")
def rescore_chunk(job_id: int, index: int) -> bool:
    return jobs.rescore_chunk_run(job_id=job_id, index=index)


@shared_task(name="leads.score_leads")
def score_leads(lead_ids: list[int]) -> int:
    """Real-time path: rescore the leads an event batch or a lead import touched, at now."""
    as_of = timezone.now()
    scored = 0
    for version in versions_live():
        scored += leads_rescore(version=version, as_of=as_of, lead_ids=lead_ids)
    return scored


@shared_task(name="leads.send_alerts")
def send_alerts() -> int:
    sent = alerts.alerts_send_pending()
    if sent == alerts.BATCH:
        send_alerts.apply_async()  # more are waiting: take the next batch in a fresh task
    return sent


def enqueue_alerts() -> None:
    def send():
        try:
            send_alerts.apply_async(retry=False)
        except Exception:  # broker down: the sweep sends pending alerts later
            import logging

            logging.getLogger(__name__).warning("could not enqueue alerts")

    transaction.on_commit(send)


@shared_task(name="leads.rescore_jobs_sweep")
def rescore_jobs_sweep() -> list[int]:
    if alerts.Notification.objects.filter(emailed_at__isnull=True).exists():
        send_alerts.apply_async()
    return jobs.rescore_jobs_sweep()


@shared_task(name="leads.nightly_decay")
def nightly_decay() -> list[int]:
    return [job.pk for job in jobs.nightly_decay()]


def enqueue_scoring(lead_ids: set[int], batch: int = 1000) -> None:
    """After commit, one ingest task per batch of affected leads (not one per event)."""
    ids = sorted(lead_ids)

    def send():
        for start in range(0, len(ids), batch):
            try:
                score_leads.apply_async(args=[ids[start : start + batch]], retry=False)
            except Exception:  # broker down: the nightly rescore (and the next event) catch up
                import logging

                logging.getLogger(__name__).warning("could not enqueue scoring of %d leads", len(ids))
                return

    if ids:
        transaction.on_commit(send)
