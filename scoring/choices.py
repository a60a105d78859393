from django.db import models


class Stage(models.TextChoices):
    LEAD = "lead", "Lead"
    MQL = "mql", "MQL"
    SQL = "sql", "SQL"
    REJECTED = "rejected", "Rejected"
    RECYCLED = "recycled", "Recycled"


class RejectReason(models.TextChoices):
    NOT_READY = "not_ready", "Not ready to buy"
    WRONG_FIT = "wrong_fit", "Wrong fit"
    NO_BUDGET = "no_budget", "No budget"
    DUPLICATE = "duplicate", "Duplicate"
    OTHER = "other", "Other"


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"


class JobTrigger(models.TextChoices):
    PUBLISH = "publish", "Model published"
    MANUAL = "manual", "Manual"
    NIGHTLY = "nightly", "Nightly decay"


class NotificationKind(models.TextChoices):
    BECAME_HOT = "became_hot", "Became hot"
    BECAME_MQL = "became_mql", "Became MQL"


class WebhookEventType(models.TextChoices):
    BECAME_MQL = "became_mql", "Became MQL"
    TIER_CHANGED = "tier_changed", "Tier changed"
    ACCEPTED = "accepted", "Accepted by sales"
    REJECTED = "rejected", "Rejected by sales"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
