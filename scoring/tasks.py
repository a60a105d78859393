"""Celery tasks: thin wrappers that take ids and call one service. Queues are named in settings.

Services never import this module: they send a task by its registered name
(leadscoring.celery.task_send), so the names below are the ones settings route and beat use.
"""

from celery import shared_task

from scoring import alerts, impact, jobs, webhooks
from scoring.services import scores_vacuum, scoring_drain_pending


@shared_task(name="scoring.rescore_job_start")
def rescore_job_start(job_id: int) -> int:
    return jobs.rescore_job_start(job_id=job_id)


@shared_task(name="scoring.rescore_chunk")
def rescore_chunk(job_id: int, index: int) -> bool:
    return jobs.rescore_chunk_run(job_id=job_id, index=index)


@shared_task(name="scoring.vacuum_scores")
def vacuum_scores() -> None:
    scores_vacuum()


@shared_task(name="scoring.send_alerts")
def send_alerts() -> int:
    return alerts.alerts_send()


@shared_task(name="scoring.rescore_jobs_sweep")
def rescore_jobs_sweep() -> list[int]:
    return jobs.pipeline_sweep()


@shared_task(name="scoring.nightly_decay")
def nightly_decay() -> list[int]:
    return [job.pk for job in jobs.nightly_decay()]


@shared_task(name="scoring.score_pending")
def score_pending() -> int:
    return scoring_drain_pending()


@shared_task(name="scoring.impact_preview")
def impact_preview_task(preview_id: int) -> bool:
    """Score every lead with a draft and compare with the live scores (queue: rescore)."""
    return impact.impact_preview_run(preview_id=preview_id)


@shared_task(name="scoring.webhook_deliver", bind=True, max_retries=None, acks_late=True)
def webhook_deliver(self, delivery_id: int) -> str:
    """One attempt; Celery's retry (with the service's backoff) makes the next one."""
    wait = webhooks.webhook_attempt(delivery_id=delivery_id)
    if wait is not None:
        raise self.retry(countdown=wait)
    return webhooks.delivery_state(delivery_id=delivery_id)


@shared_task(name="scoring.webhooks_resend_stale")
def webhooks_resend_stale_task() -> list[int]:
    return webhooks.webhooks_resend_stale()
