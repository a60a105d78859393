from django.db import models

from engine import fields


class VersionStatus(models.TextChoices):
    """A version's place in its model's history: a draft, the published one, or an archived one."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ApprovalRole(models.TextChoices):
    """The sides that sign a draft off before it may be published."""

    MARKETING = "marketing"
    SALES = "sales"


class Dimension(models.TextChoices):
    """What a criterion measures: who the lead is (fit) or what the lead did (engagement)."""

    FIT = "fit"
    ENGAGEMENT = "engagement"


class Tier(models.TextChoices):
    """The band a score falls in, by its segment's thresholds."""

    COLD = fields.COLD
    WARM = fields.WARM
    HOT = fields.HOT


class PreviewState(models.TextChoices):
    """Where an impact preview is: queued for a worker, running, done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
