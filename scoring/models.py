"""Scores and what moves them: scores, their lines and history, lifecycle stages, rescore jobs,
pending real-time scoring, impact previews, alerts and webhooks."""

from django.conf import settings
from django.db import models

from engine.lines import lines_decode, lines_encode, lines_priced, lines_with_tail
from leads.models import Lead
from leadscoring.models import BackgroundWork
from matrix.choices import PreviewState
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import version_spec_or_note
from scoring.choices import DeliveryState, JobState, JobTrigger, NotificationKind, RejectReason, Stage


class ScoreValues(models.Model):
    """What a score says at its instant: the fields the current score and its history share."""

    # Copied from the version so the write guard (newer version, later as_of wins) is one comparison.
    version_number = models.PositiveIntegerField()
    as_of = models.DateTimeField()
    score = models.DecimalField(max_digits=12, decimal_places=2)
    fit = models.DecimalField(max_digits=12, decimal_places=2)
    engagement = models.DecimalField(max_digits=12, decimal_places=2)
    tier = models.CharField(max_length=8)
    mql = models.BooleanField()

    class Meta:
        abstract = True


class Score(ScoreValues):
    """The current score of a lead under a scoring model; its breakdown lines are in ScoreBreakdown."""

    # No index of their own on these three: a rescore rewrites every row of a model, and an
    # index on a column it changes (version) or a second copy of one the unique constraint and the
    # list indexes already lead with (lead, scoring_model) would be rewritten too, for nothing.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="scores", db_index=False)
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="scores", db_index=False)
    # Nor a database constraint: a rescore changes the version of every row, and Postgres checked
    # each one against matrix_modelversion at commit (~2 s per 250,000 rows, a third of a reused
    # chunk's time). Only leads_rescore writes it, with the version it scores with; Django's
    # PROTECT still keeps a version with scores from being deleted.
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    segment = models.CharField(max_length=100)
    grade = models.CharField(max_length=2)
    computed_at = models.DateTimeField()
    # What the score was counted from (criterion flags and counts, decay units, segment) and until
    # when those counts hold: a later rescore of a version that differs only in points reuses them
    # (engine/reuse.py, docs/scoring.md). Null: count afresh.
    basis = models.TextField(null=True, blank=True)
    stable_until = models.DateTimeField(null=True, blank=True)
    # The lines of the criteria recounted since the breakdown was last written (engine/recount.py),
    # read over the breakdown's (engine.lines.lines_with_tail). Here, not appended to the
    # breakdown: the score UPDATE rewrites this row anyway, and splicing the breakdowns as well
    # doubled a recount's WAL and made the job about a fifth slower (docs/performance.md). Null: none.
    lines_tail = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "scoring_model"], name="one_score_per_lead_and_model"),
        ]
        # No (model, tier) index: Postgres planned no list or count through it (a tier's list walks
        # score_top, the counts per tier scan the table), and every moved score wrote an entry in
        # it, ~15% of a points chunk's score UPDATE (docs/performance.md, "Why the rescore is
        # built as it is").
        indexes = [
            models.Index(fields=["scoring_model", "-score"], name="score_top"),
            models.Index(fields=["scoring_model", "segment", "-score"], name="score_top_segment"),
        ]

    @property
    def breakdown(self) -> list[dict]:
        """The breakdown lines (spec section 7), [] if none are stored.

        A score made from stored counts (with a basis) has its lines priced by its version: a
        rescore that only changed points left the stored lines as they were (lines_priced).
        Queries unless the queryset has `select_related("breakdown_row", "version")`: anything
        that reads the breakdown of many scores must ask for both.
        """
        try:
            lines = self.breakdown_row.lines
        except ScoreBreakdown.DoesNotExist:
            lines = []
        lines = lines_with_tail(lines, self.lines_tail)
        if self.basis is None:
            return lines
        spec, _ = version_spec_or_note(version=self.version)
        # A version whose stored document no longer validates (docs/scoring.md, "When scoring
        # fails") has no points to read: its lines are shown as they were stored.
        return lines_priced(lines, spec=spec, basis=self.basis) if spec else lines


class BreakdownField(models.TextField):
    """Breakdown lines stored as short JSON text (engine/lines.py); Python sees the spec's lines.

    The bulk rescore assembles each lead's lines as text in SQL. Storing them in `jsonb` made
    Postgres parse ~1 KB per lead, ~27 s per million leads (docs/performance.md); nothing queries
    inside the lines, so the text is stored as written and decoded where it is read.
    """

    def from_db_value(self, value, expression, connection):
        return lines_decode(value)

    def to_python(self, value):
        return lines_decode(value) if isinstance(value, str) else value

    def get_prep_value(self, value):
        return None if value is None else lines_encode(value)


class ScoreBreakdown(models.Model):
    """The breakdown lines of one stored score (spec section 7), kept apart so that bulk reads of scores stay narrow.

    The lines are most of a score's bytes; in `scoring_score` every scan by segment, tier, grade or
    score (lists, the grid, the reports) would read them too (docs/scoring.md).
    """

    score = models.OneToOneField(Score, primary_key=True, on_delete=models.CASCADE, related_name="breakdown_row")
    lines = BreakdownField(default=list)

    def __str__(self):
        return f"breakdown of score {self.score_id}"


class ScoreHistory(ScoreValues):
    """A past score of a lead under a model, written whenever the score or tier changes."""

    # No database constraints: a points change writes a row for every lead whose score moved, and
    # Postgres checked both keys of each at commit (~0.9 s per 250,000 leads). Only leads_rescore
    # writes these rows, for leads and a model it has just read; Django's CASCADE deletes them with
    # their lead or model. No index of their own either: (lead, model, as_of) serves every read and
    # a lead's cascade, and two more index entries per row were a third of the history insert.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="score_history", db_constraint=False, db_index=False
    )
    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    previous_tier = models.CharField(max_length=8, blank=True, default="")
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "score history"
        indexes = [models.Index(fields=["lead", "scoring_model", "as_of"], name="history_lead_time")]


class LeadStage(models.Model):
    """Where a lead stands in the funnel of one scoring model (lead, MQL, SQL, rejected, recycled)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stages")
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.LEAD)
    mql_at = models.DateTimeField(null=True, blank=True)
    mql_score = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    mql_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The segment the lead was in when it crossed the MQL line: the threshold it crossed, and what
    # the cohort reports group by without joining a million current scores.
    mql_segment = models.CharField(max_length=100, blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=16, choices=RejectReason.choices, blank=True, default="")
    reject_text = models.CharField(max_length=500, blank=True, default="")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "scoring_model"], name="one_stage_per_lead_and_model"),
        ]
        indexes = [
            models.Index(fields=["scoring_model", "stage"], name="stage_by_model"),
            # The cohort reports read only these columns: an index-only scan, not the rows.
            models.Index(
                fields=["scoring_model", "mql_at"],
                include=["accepted_at", "rejected_at", "lead", "mql_segment", "mql_score", "reject_reason"],
                name="stage_mql_cohort",
            ),
        ]


class StageTransition(models.Model):
    """One move of a lead between lifecycle stages, with who and when; the reports read these."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="transitions")
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    from_stage = models.CharField(max_length=16, choices=Stage.choices)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    score = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(
        max_length=16, choices=RejectReason.choices, blank=True, default="", help_text="On a move to rejected only."
    )
    reason_text = models.CharField(max_length=500, blank=True, default="", help_text="The rep's words, if any.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["scoring_model", "to_stage", "occurred_at"], name="transition_report")]


class RescoreJob(BackgroundWork):
    """A rescore of every lead under one model version, split into chunks for the workers."""

    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="jobs")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="jobs")
    trigger = models.CharField(max_length=16, choices=JobTrigger.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    as_of = models.DateTimeField(null=True, blank=True)
    total_leads = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    leads_done = models.PositiveIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta(BackgroundWork.Meta):
        indexes = [models.Index(fields=["state", "enqueued_at"], name="job_sweep")]


class RescoreChunk(models.Model):
    """A range of lead ids of a rescore job; done once, whatever the number of deliveries."""

    job = models.ForeignKey(RescoreJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_lead_id = models.BigIntegerField()
    last_lead_id = models.BigIntegerField()
    leads = models.PositiveIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="chunk_index_unique")]


class Notification(models.Model):
    """An in-app alert to a lead's owner (became hot, became MQL)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set when the alert is claimed for e-mail, so two senders never mail it twice.
    emailed_at = models.DateTimeField(null=True, blank=True)
    # The rescore job (a publish, the nightly decay) whose crossing this is; None for a crossing
    # in real time. A job's alerts reach their owner as one digest (scoring/alerts.py).
    job = models.ForeignKey("RescoreJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread alerts only, by job and kind: the header's count and "mark all read"
            # (scoring/alerts.py) read it alone. Read alerts get no entry.
            models.Index(
                fields=["user", "job", "kind"], condition=models.Q(read_at__isnull=True), name="notification_unread"
            ),
            models.Index(fields=["emailed_at"], name="notification_unsent"),
        ]


class WebhookEndpoint(models.Model):
    """A URL outside that wants to hear about lead events, signed with its own secret."""

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="Shared secret for the HMAC-SHA256 signature header.")
    # A list of WebhookEventType values.
    event_types = models.JSONField(default=list)
    active = models.BooleanField(
        default=True, help_text="An inactive endpoint is sent nothing: its deliveries still waiting fail."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: the exact body, and how every attempt went."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=32)
    # The body as sent (the signature covers these exact bytes), kept as text.
    body = models.TextField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["state", "created_at"], name="delivery_state")]

    def __str__(self):
        return f"{self.event_type} to {self.endpoint_id} ({self.state})"


class SavedFilter(models.Model):
    """A rep's named filter of the lead list: the query string of the list page, kept per user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(max_length=100)
    querystring = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_filter_name_unique_per_user")]

    def __str__(self):
        return self.name


class PendingScore(models.Model):
    """A lead whose score must follow new events or lead changes; drained by the ingest workers."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, primary_key=True, related_name="+")
    queued_at = models.DateTimeField(db_index=True)
    # A drain claims rows for the time it scores them (short transactions, so ingest never waits
    # on a rescore); a claim older than a minute is a crashed drain's and is taken over.
    claimed_by = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)


class ImpactPreview(BackgroundWork):
    """A draft revision scored against every lead, compared with the live scores (computed by a worker)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="impact_previews")
    # The draft's revision it scored: an edit since makes the preview stale.
    revision = models.PositiveIntegerField()
    live_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    as_of = models.DateTimeField()
    state = models.CharField(max_length=16, choices=PreviewState.choices, default=PreviewState.QUEUED)
    leads_total = models.PositiveIntegerField(default=0, help_text="Leads the draft scored.")
    tier_changed = models.PositiveIntegerField(
        default=0, help_text="Leads the draft puts in another tier (or a tier at all: no live score)."
    )
    mql_up = models.PositiveIntegerField(default=0, help_text="Leads MQL under the draft and not now.")
    mql_down = models.PositiveIntegerField(default=0, help_text="Leads MQL now and not under the draft.")
    # [{"segment", "label", "leads", "moves": {from_tier: {to_tier: n}}, "tier_changed", "mql_up", "mql_down"}]
    summary = models.JSONField(default=list, blank=True)
    # The biggest movers by |draft - live|, each with the breakdown lines that differ ("why").
    movers = models.JSONField(default=list, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta(BackgroundWork.Meta):
        indexes = [models.Index(fields=["version", "revision"], name="impact_preview_revision")]

    def __str__(self):
        return f"impact of {self.version} r{self.revision} ({self.state})"
