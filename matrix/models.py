from django.conf import settings
from django.db import models
from django.db.models import Q

from matrix.choices import ApprovalRole, VersionStatus


class ScoringModel(models.Model):
    """A scoring matrix (e.g. "New business"); it scores every lead through its live version."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


# Where a version came from and who wrote, edited and published it when: shown together, in this
# order, by the admin and the API.
VERSION_HISTORY_FIELDS = [
    "based_on",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
    "published_by",
    "published_at",
]


class ModelVersion(models.Model):
    """One numbered version of a scoring model's document; published versions never change."""

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    document = models.JSONField()
    note = models.CharField(max_length=500, blank=True)
    # Bumped by every edit of a draft: the optimistic-concurrency token and what approvals sign.
    revision = models.PositiveIntegerField(default=1)
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scoring_model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scoring_model", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["scoring_model"],
                condition=Q(status=VersionStatus.PUBLISHED),
                name="one_published_version_per_model",
            ),
        ]
        permissions = [
            ("edit_draft", "Can edit draft scoring models"),
            ("approve_version", "Can approve a draft for publishing"),
            ("publish_version", "Can publish an approved draft"),
        ]

    def __str__(self):
        return f"{self.scoring_model.slug} v{self.number} ({self.status})"


class Approval(models.Model):
    """A sign-off of one revision of a draft by a marketing or sales editor."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="approvals")
    role = models.CharField(max_length=16, choices=ApprovalRole.choices)
    revision = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "role", "revision"], name="one_approval_per_role_revision"),
        ]


class AuditEntry(models.Model):
    """One change to a scoring model, kept for the audit log."""

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="audit")
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"


def default_glossary() -> dict:
    """The shared definitions the matrix page shows beside the grid (editable in the admin)."""
    return {
        "Fit": "How well the lead matches the customers we want, from lead fields (title, size, industry...).",
        "Engagement": "What the lead did (visits, downloads, demo requests), capped per criterion and decayed.",
        "Decay": "Points taken off for inactivity or unanswered outreach.",
        "Tier": "Cold, warm or hot, by the score against the segment's thresholds.",
        "MQL": "Marketing-qualified lead: the score reached the segment's MQL threshold; sales reviews it.",
        "Grade": "Fit letter (A best, D worst) and engagement digit (4 best, 1 worst), e.g. B3.",
    }


class WorkspaceSettings(models.Model):
    """Workspace-wide choices of the matrix: one row (pk 1), read with `workspace_settings()`."""

    # On: a draft is published only once a marketing and a sales editor approved its current
    # revision (UI and API). Off: any editor with the publish permission publishes alone.
    require_marketing_and_sales_approval = models.BooleanField(default=True)
    # Term -> definition, the shared vocabulary of marketing and sales.
    glossary = models.JSONField(default=default_glossary, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "workspace settings"

    def __str__(self):
        return "Workspace settings"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)


class Scenario(models.Model):
    """A named example buyer (who they are, what they did) scored by the draft and the live version."""

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # Standard lead fields by name, plus "attributes" (an object) and "created_days_ago" (optional).
    lead = models.JSONField(default=dict, blank=True)
    # [{"kind": str, "days_ago": number (before as_of), "properties": {}}, ...] in the order entered.
    events = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scoring_model", "name"]
        constraints = [
            models.UniqueConstraint(fields=["scoring_model", "name"], name="scenario_name_unique_per_model"),
        ]

    def __str__(self):
        return self.name
