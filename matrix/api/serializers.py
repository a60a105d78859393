"""Shapes of the scoring-model API: models, versions (as documents), approvals, rescore jobs."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leadscoring.api import ErrorsSerializer, username_field
from matrix.models import VERSION_HISTORY_FIELDS, Approval, ModelVersion, ScoringModel


class ScoringModelSerializer(serializers.ModelSerializer):
    live_version = serializers.IntegerField(source="live_number", allow_null=True, read_only=True)

    class Meta:
        model = ScoringModel
        fields = ["slug", "name", "description", "live_version", "created_at"]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")

    class Meta:
        model = Approval
        fields = ["role", "revision", "user", "created_at"]
        read_only_fields = fields


class VersionSerializer(serializers.ModelSerializer):
    """A version with its whole document. Everything here is read-only: a draft changes through
    PUT with a new document and the If-Match of the revision read."""

    model = serializers.CharField(source="scoring_model.slug")
    based_on = serializers.IntegerField(source="based_on.number", allow_null=True, read_only=True)
    created_by = username_field("created_by")
    updated_by = username_field("updated_by")
    published_by = username_field("published_by")
    approvals = ApprovalSerializer(many=True)
    document = serializers.JSONField()

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "number",
            "status",
            "revision",
            "note",
            *VERSION_HISTORY_FIELDS,
            "approvals",
            "document",
        ]
        read_only_fields = fields


@extend_schema_field({"type": "object"})
class DocumentField(serializers.JSONField):
    """A model document: any JSON is read, so that a non-object is refused by the spec's own rules."""


class DocumentInputSerializer(serializers.Serializer):
    document = DocumentField(help_text="A scoring model document (spec section 3).")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.CharField(), help_text='"json.path: message" per problem.')


class DocumentErrorsSerializer(ErrorsSerializer):
    """A refused document or draft write: `valid` is false when the document itself broke the rules
    (absent when the request failed before the document was read, e.g. malformed JSON)."""

    valid = serializers.BooleanField(required=False)
