from django.db import models


class Stage(models.TextChoices):
    """A lead's place in the funnel under one model."""

    LEAD = "lead"
    MQL = "mql", "MQL"
    SQL = "sql", "SQL"
    REJECTED = "rejected"
    RECYCLED = "recycled"


class RejectReason(models.TextChoices):
    """Why sales sent a lead back."""

    NOT_READY = "not_ready", "Not ready to buy"
    WRONG_FIT = "wrong_fit", "Wrong fit"
    NO_BUDGET = "no_budget", "No budget"
    DUPLICATE = "duplicate"
    OTHER = "other"


class JobState(models.TextChoices):
    """Where a rescore job is; one whose version was replaced before it ran is superseded."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SUPERSEDED = "superseded"


class JobTrigger(models.TextChoices):
    """What started a rescore job."""

    PUBLISH = "publish", "Model published"
    MANUAL = "manual"
    NIGHTLY = "nightly", "Nightly decay"


class NotificationKind(models.TextChoices):
    """What an alert to a lead's owner is about."""

    BECAME_HOT = "became_hot", "Became hot"
    BECAME_MQL = "became_mql", "Became MQL"


class WebhookEventType(models.TextChoices):
    """The lead events an endpoint may subscribe to."""

    BECAME_MQL = "became_mql", "Became MQL"
    TIER_CHANGED = "tier_changed", "Tier changed"
    ACCEPTED = "accepted", "Accepted by sales"
    REJECTED = "rejected", "Rejected by sales"


class DeliveryState(models.TextChoices):
    """Where one webhook delivery is: waiting, delivered, retrying after a failure, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
