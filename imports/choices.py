from django.db import models


class ImportKind(models.TextChoices):
    LEADS = "leads", "Leads"
    EVENTS = "events", "Events"


class ImportState(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
