"""Celery tasks of the matrix app: thin wrappers that take ids and call a service."""

from celery import shared_task

from matrix import workshop


@shared_task(name="matrix.impact_preview")
def impact_preview_task(preview_id: int) -> bool:
    """Score every lead with a draft and compare with the live scores (queue: rescore)."""
    return workshop.impact_preview_run(preview_id=preview_id)
