from django.db import models


class ImportState(models.TextChoices):
    """Where an upload is: uploaded, queued once its mapping is confirmed, then running, done or failed."""

    UPLOADED = "uploaded"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportKind(models.TextChoices):
    LEADS = "leads"
    EVENTS = "events"
