"""Celery tasks of the CSV imports: thin wrappers that take ids and call one service (queues in settings)."""

from celery import shared_task

from imports import uploads


@shared_task(name="imports.import_upload", acks_late=True)
def import_upload(upload_id: int) -> str:
    return uploads.upload_run(upload_id=upload_id)


@shared_task(name="imports.uploads_resend_stale")
def uploads_resend_stale_task() -> list[int]:
    return uploads.uploads_resend_stale()


@shared_task(name="imports.uploads_purge_unimported")
def uploads_purge_unimported_task() -> int:
    return uploads.uploads_purge_unimported()
