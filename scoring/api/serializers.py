"""Shapes of the leads API. Reads are serializers; writes are validated by leads/rows.py, the one
validation every input path shares, so these input serializers only describe the body (schema)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from engine.fields import LEAD_TEXT_FIELDS, NUMBER_FIELDS
from leads.models import LEAD_VALUE_FIELDS, Event, Lead
from leads.rows import MAX_JSON_DEPTH, whole_number
from leadscoring.api import username_field
from leadscoring.timestamps import RANGE_TEXT
from matrix.api.serializers import VersionSerializer
from matrix.choices import Tier
from scoring.choices import RejectReason
from scoring.jobs import job_progress
from scoring.management.commands.export_scores import export_line
from scoring.models import RescoreJob, Score


def score_line(score: Score, lead: Lead) -> dict:
    """The export line of spec section 8 for one stored score."""
    return export_line(
        {
            "lead__external_id": lead.external_id,
            "scoring_model__slug": score.scoring_model.slug,
            "as_of": score.as_of,
            "score": score.score,
            "fit": score.fit,
            "engagement": score.engagement,
            "segment": score.segment,
            "tier": score.tier,
            "grade": score.grade,
            "mql": score.mql,
            "breakdown": score.breakdown,
        }
    )


class BreakdownLineSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["criterion", "decay"])
    key = serializers.CharField()
    dimension = serializers.CharField(required=False)
    points = serializers.FloatField()
    count = serializers.IntegerField(required=False)
    events = serializers.ListField(child=serializers.CharField(), required=False)


class ScoreLineSerializer(serializers.Serializer):
    """One (lead, model) score: the export line of spec section 8."""

    lead = serializers.CharField(help_text="The lead's external id.")
    model = serializers.CharField(help_text="The scoring model's slug.")
    as_of = serializers.DateTimeField(help_text="The instant the score was computed for.")
    score = serializers.FloatField(help_text="Fit plus engagement, to the cent.")
    fit = serializers.FloatField()
    engagement = serializers.FloatField()
    segment = serializers.CharField(help_text="The key of the first segment whose conditions the lead met.")
    tier = serializers.ChoiceField(choices=Tier.values)
    grade = serializers.CharField(help_text="The fit letter and the engagement digit, e.g. B3.")
    mql = serializers.BooleanField(help_text="Whether the score reached its segment's MQL threshold.")
    breakdown = BreakdownLineSerializer(many=True)


class LeadSerializer(serializers.ModelSerializer):
    """A lead as read: its fields, owner and current scores (every field of it is read-only here)."""

    id = serializers.CharField(source="external_id")
    owner = username_field("owner")
    scores = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = ["id", *LEAD_VALUE_FIELDS, "scores"]
        read_only_fields = fields

    @extend_schema_field(ScoreLineSerializer(many=True))
    def get_scores(self, lead) -> list[dict]:
        scores = sorted(lead.scores.all(), key=lambda s: s.scoring_model.slug)
        return [score_line(s, lead) for s in scores]


def _text(name: str, **kwargs) -> serializers.CharField:
    """A lead's text field as written: as wide as its model column (the one number to keep)."""
    return serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=Lead._meta.get_field(name).max_length, **kwargs
    )


def _record_field(name: str) -> serializers.Field:
    """A field of the lead record as written, typed and bounded as its model column."""
    if name not in NUMBER_FIELDS:
        return _text(name)
    if whole_number(name):
        return serializers.IntegerField(required=False, allow_null=True, min_value=-(2**63) + 1, max_value=2**63 - 1)
    return serializers.FloatField(required=False, allow_null=True)


ID_LENGTH = Lead._meta.get_field("external_id").max_length
IGNORED = "Read-only: ignored when sent, never assigned (so a lead as read can be sent back)."
TIMESTAMP_HELP = f"ISO 8601 with offset, e.g. 2026-01-31T09:00:00Z; between {RANGE_TEXT}."


class LeadInputSerializer(serializers.Serializer):
    """A lead as written (spec section 1). `owner`, `scores` and `updated_at` are read-only: sent
    back unchanged they are ignored, never assigned. Timestamps need a UTC offset."""

    id = serializers.CharField(
        max_length=ID_LENGTH, help_text="External id; optional on PUT/PATCH (taken from the URL)."
    )
    # The lead record's fields (engine.fields) come from get_fields, after the id.
    created_at = serializers.DateTimeField(help_text=TIMESTAMP_HELP)
    attributes = serializers.DictField(
        required=False, allow_null=True, help_text=f"Any JSON object, nested at most {MAX_JSON_DEPTH} levels."
    )
    # A lead as read may be sent back: these keys of the read shape are accepted and ignored
    # (scoring/api/views.py READ_ONLY_KEYS); any other unknown key is a 400.
    owner = serializers.JSONField(required=False, help_text=IGNORED)
    scores = serializers.JSONField(required=False, help_text=IGNORED)
    updated_at = serializers.JSONField(required=False, help_text=IGNORED)
    score = serializers.JSONField(required=False, help_text=IGNORED)
    version = serializers.JSONField(required=False, help_text=IGNORED)
    version_number = serializers.JSONField(required=False, help_text=IGNORED)

    unknown_keys_refused = True  # the schema says additionalProperties: false (leadscoring.api.ApiSchema)

    def get_fields(self):
        declared = super().get_fields()
        record = {
            name: _record_field(name) for name in LEAD_VALUE_FIELDS if name in (*LEAD_TEXT_FIELDS, *NUMBER_FIELDS)
        }
        return {"id": declared.pop("id"), **record, **declared}


class LeadPatchSerializer(LeadInputSerializer):
    id = serializers.CharField(max_length=ID_LENGTH, required=False)
    created_at = serializers.DateTimeField(required=False, help_text=TIMESTAMP_HELP)


class EventInputSerializer(serializers.Serializer):
    """An event (spec section 1): `kind` is any string, compared exactly; `id` makes repeats harmless."""

    id = serializers.CharField(
        required=False, allow_null=True, max_length=Event._meta.get_field("external_id").max_length
    )
    lead = serializers.CharField(max_length=ID_LENGTH)
    kind = serializers.CharField(max_length=Event._meta.get_field("kind").max_length)
    occurred_at = serializers.DateTimeField(help_text=TIMESTAMP_HELP)
    properties = serializers.DictField(
        required=False, allow_null=True, help_text=f"Any JSON object, nested at most {MAX_JSON_DEPTH} levels."
    )


class RejectedRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="0-based position of the event in the request.")
    reason = serializers.CharField()


class EventReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(help_text="Events ignored: their (lead, id) was already stored or repeated.")
    rejected = RejectedRowSerializer(many=True)


class ModelActionSerializer(serializers.Serializer):
    model = serializers.SlugField(help_text="Slug of the scoring model whose funnel the lead moves in.")


class RejectSerializer(ModelActionSerializer):
    reason = serializers.ChoiceField(choices=RejectReason.choices)
    text = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class StageSerializer(serializers.Serializer):
    lead = serializers.CharField()
    model = serializers.CharField()
    stage = serializers.CharField()
    reject_reason = serializers.CharField(allow_blank=True)
    reject_text = serializers.CharField(allow_blank=True)
    changed_at = serializers.DateTimeField()


class ProgressSerializer(serializers.Serializer):
    """How far a rescore job is (scoring.jobs.job_progress): it moves a chunk at a time."""

    state = serializers.CharField()
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    leads_done = serializers.IntegerField()
    total_leads = serializers.IntegerField()
    percent = serializers.FloatField()
    rate = serializers.FloatField(help_text="Leads per second.")
    seconds_left = serializers.IntegerField(
        allow_null=True, help_text="At the rate so far; null unless the job is running with a chunk done."
    )
    seconds = serializers.FloatField(help_text="Seconds since a worker started the job.")


class JobSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="scoring_model.slug")
    version = serializers.IntegerField(source="version.number")
    created_by = username_field("created_by")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = RescoreJob
        fields = [
            "id",
            "model",
            "version",
            "trigger",
            "state",
            "as_of",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "progress",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        return job_progress(job)


class PublishResultSerializer(serializers.Serializer):
    version = VersionSerializer()
    job = JobSerializer(allow_null=True)
