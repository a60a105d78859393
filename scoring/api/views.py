"""Leads, their scores and lifecycle, and event ingestion over the API.

Writes go through scoring.ingest (the same validation as every import, leads/rows.py, then
scoring queued on the `ingest` queue); reads apply the rule of the list page: a sales rep sees
only their own leads (scoring.selectors.leads_prioritized).
"""

import django_filters
from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from leads.models import Lead
from leads.rows import field_name, text_problem
from leads.services import LeadExists, LeadRefused
from leadscoring.api import (
    ApiGenericViewSet,
    ApiView,
    Conflict,
    ErrorsSerializer,
    PreconditionFailed,
    has_perms,
    idempotent,
    if_match_revision,
)
from matrix.api.views import ERRORS as DOCUMENT_ERRORS
from matrix.api.views import IF_MATCH, PRECONDITION, invalid, version_response, versions_queryset
from matrix.models import ScoringModel
from matrix.services import PublishError, StaleRevision
from scoring.api import serializers as s
from scoring.filtersets import LeadFilterSet
from scoring.ingest import events_ingest_and_score, lead_upsert_and_score
from scoring.jobs import NoLiveVersion, model_draft_publish, model_rescore_start
from scoring.lifecycle import LifecycleError, lead_accept, lead_recycle, lead_reject
from scoring.models import LeadStage, RescoreJob, Score
from scoring.selectors import leads_prioritized

# The schema of `?model=`: a model's slug (drf-spectacular cannot guess it from the filter's method,
# and warns, which `check --deploy` counts). Schema metadata only; the filter is unchanged.
extend_schema_field(OpenApiTypes.STR)(LeadFilterSet.base_filters["model"])
# Number filters say the bounds their form field enforces (active_days from 1, django-filter's
# default +-1e50 on the scores), so a client knows what is refused.
for _filter in LeadFilterSet.base_filters.values():
    if isinstance(_filter, django_filters.NumberFilter):
        _field, _cap = _filter.field, _filter.get_max_validator()
        _bounds = {"minimum": _field.min_value, "maximum": _field.max_value or (_cap and _cap.limit_value)}
        extend_schema_field({"type": "number", **{k: v for k, v in _bounds.items() if v is not None}})(_filter)

# Read-only in the API: sent back as read, they are ignored, never assigned.
# (Declared in LeadInputSerializer, so the schema lists them.)
READ_ONLY_KEYS = {name for name, f in s.LeadInputSerializer().fields.items() if f.help_text == s.IGNORED}
ERRORS = OpenApiResponse(ErrorsSerializer, description="The body broke these rules (one line per problem).")


def _stage_move(summary: str, serializer_class):
    """The route and schema of a lead's stage move: a POST that answers the new stage, or 409."""

    def decorate(view):
        routed = action(detail=True, methods=["post"], serializer_class=serializer_class)(view)
        return extend_schema(
            summary=summary, request=serializer_class, responses={200: s.StageSerializer, 409: ERRORS}
        )(routed)

    return decorate


@extend_schema_view(
    list=extend_schema(summary="Leads you may see, highest score first, filtered like the leads page"),
    retrieve=extend_schema(summary="One lead with its scores per model"),
)
class LeadViewSet(ApiGenericViewSet):
    serializer_class = s.LeadSerializer
    filterset_class = LeadFilterSet
    lookup_field = "external_id"
    lookup_url_kwarg = "external_id"
    lookup_value_regex = "[^/]+"
    queryset = Lead.objects.none()  # for the schema; get_queryset is the real one

    PERMISSIONS = {
        "create": ("leads.add_lead",),
        "update": ("leads.add_lead", "leads.change_lead"),
        "partial_update": ("leads.change_lead",),
        "accept": ("leads.act_on_leads",),
        "reject": ("leads.act_on_leads",),
        "recycle": ("leads.act_on_leads",),
    }

    @property
    def throttle_scope(self):
        return "writes" if self.request.method not in ("GET", "HEAD", "OPTIONS") else None

    def get_permissions(self):
        return [has_perms(*self.PERMISSIONS.get(self.action, ("leads.view_lead", "scoring.view_score")))()]

    def get_queryset(self):
        scores = Score.objects.select_related("scoring_model", "version", "breakdown_row")
        return (
            leads_prioritized(user=self.request.user)
            .select_related("owner")
            .prefetch_related(Prefetch("scores", queryset=scores))
        )

    def get_lead(self) -> Lead:
        external_id = self.kwargs["external_id"]
        if text_problem(external_id):  # no stored id has a NUL (Postgres could not even compare it)
            raise NotFound(f"No lead {field_name(external_id)}.")
        return get_object_or_404(self.get_queryset(), external_id=external_id)

    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, external_id=None):
        return Response(self.get_serializer(self.get_lead()).data)

    # --- writes ------------------------------------------------------------------------------

    def _write(self, data, *, external_id: str | None = None, partial: bool = False) -> Response:
        try:
            lead, created = lead_upsert_and_score(
                data=data, external_id=external_id, partial=partial, ignored=READ_ONLY_KEYS
            )
        except Lead.DoesNotExist:
            raise NotFound(f"No lead {external_id!r}.") from None
        except LeadRefused as exc:
            raise ValidationError({"errors": exc.errors}) from None
        except LeadExists as exc:
            raise Conflict({"errors": [f"id: a lead {exc.external_id!r} exists; PUT /leads/<id>/ upserts"]}) from None
        body = self.get_serializer(lead).data
        if not created:
            return Response(body)
        url = reverse("leads-api:lead-detail", kwargs={"external_id": lead.external_id})
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": self.request.build_absolute_uri(url)}
        )

    @extend_schema(
        summary="Create a lead (409 if its id exists: PUT upserts)",
        request=s.LeadInputSerializer,
        responses={201: s.LeadSerializer, 400: ERRORS, 409: ERRORS},
    )
    def create(self, request):
        return self._write(request.data)

    @extend_schema(
        summary="Upsert a lead by external id: replace it whole, or create it",
        request=s.LeadInputSerializer,
        responses={200: s.LeadSerializer, 201: s.LeadSerializer, 400: ERRORS},
    )
    def update(self, request, external_id=None):
        return self._write(request.data, external_id=external_id)

    @extend_schema(
        summary="Change some fields of a lead (each field given replaces the stored one)",
        request=s.LeadPatchSerializer,
        responses={200: s.LeadSerializer, 400: ERRORS, 404: None},
    )
    def partial_update(self, request, external_id=None):
        return self._write(request.data, external_id=external_id, partial=True)

    # --- scores and lifecycle ----------------------------------------------------------------

    @extend_schema(
        summary="The lead's current score under each model (export line)", responses=s.ScoreLineSerializer(many=True)
    )
    # One lead has a score per model, a handful: a plain list, never paginated.
    @action(
        detail=True, methods=["get"], serializer_class=s.ScoreLineSerializer, pagination_class=None, filter_backends=[]
    )
    def scores(self, request, external_id=None):
        lead = self.get_lead()
        return Response(s.LeadSerializer().get_scores(lead))

    def _move(self, request, serializer_class, move) -> Response:
        lead = self.get_lead()
        form = serializer_class(data=request.data)
        form.is_valid(raise_exception=True)
        scoring_model = get_object_or_404(ScoringModel, slug=form.validated_data["model"])
        try:
            move(lead=lead, scoring_model=scoring_model, user=request.user, **form.validated_data)
        except LifecycleError as exc:
            raise Conflict({"errors": [str(exc)]}) from None
        stage = LeadStage.objects.get(lead=lead, scoring_model=scoring_model)
        return Response(
            {
                "lead": lead.external_id,
                "model": scoring_model.slug,
                "stage": stage.stage,
                "reject_reason": stage.reject_reason,
                "reject_text": stage.reject_text,
                "changed_at": stage.changed_at,
            }
        )

    @_stage_move("Accept the lead as sales-qualified (MQL -> SQL)", s.ModelActionSerializer)
    def accept(self, request, external_id=None):
        return self._move(request, s.ModelActionSerializer, lambda model, **kw: lead_accept(**kw))

    @_stage_move("Reject the lead with a reason", s.RejectSerializer)
    def reject(self, request, external_id=None):
        return self._move(request, s.RejectSerializer, lambda model, **kw: lead_reject(**kw))

    @_stage_move("Recycle the lead back to marketing", s.ModelActionSerializer)
    def recycle(self, request, external_id=None):
        return self._move(request, s.ModelActionSerializer, lambda model, **kw: lead_recycle(**kw))


class EventBatchView(ApiView):
    """POST a JSON list of events (at most API_MAX_BATCH): valid ones are stored, the others reported.

    Answers 200 with a report whenever the batch was read, even if some (or all) rows were
    rejected: `rejected` lists each by its index in the request with the reason. A repeated
    (lead, id) is stored once and counted in `duplicates`. With an `Idempotency-Key` header a
    retried request gets the first response back instead of being processed again.
    """

    permission_classes = [has_perms("leads.add_event")]
    throttle_scope = "events"
    serializer_class = s.EventReportSerializer

    @extend_schema(
        summary="Ingest a batch of events",
        request=s.EventInputSerializer(many=True),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                # What idempotent() accepts: 1 to 255 characters, not only white space.
                {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
                OpenApiParameter.HEADER,
                description="Any unique string (e.g. a UUID): a retry with the same key and body replays "
                "the first response; the same key with another body is refused with 422.",
            )
        ],
        responses={
            200: s.EventReportSerializer,
            400: OpenApiResponse(ErrorsSerializer, description="Not a JSON list, or more events than the limit."),
            409: OpenApiResponse(ErrorsSerializer, description="The first request with this key is still running."),
            413: OpenApiResponse(ErrorsSerializer, description="Body larger than DATA_UPLOAD_MAX_MEMORY_SIZE."),
            422: OpenApiResponse(ErrorsSerializer, description="Idempotency-Key reused with a different body."),
        },
    )
    def post(self, request):
        return idempotent(request, lambda: self.ingest(request.data))

    def ingest(self, data) -> Response:
        if not isinstance(data, list):
            raise ValidationError({"errors": ["body: must be a JSON list of events"]})
        limit = settings.API_MAX_BATCH
        if len(data) > limit:
            raise ValidationError({"errors": [f"body: at most {limit} events per request, got {len(data)}"]})
        report, _ = events_ingest_and_score(rows=list(enumerate(data)))
        rejected = sorted(report.rejected)
        return Response(
            {
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": [{"index": index, "reason": reason} for index, reason in rejected],
            }
        )


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiGenericViewSet):
    """Rescore jobs with their progress (the same figures as the jobs page)."""

    serializer_class = s.JobSerializer
    filter_backends = []

    def get_permissions(self):
        return [has_perms("scoring.view_rescorejob")()]

    def get_queryset(self):
        jobs = RescoreJob.objects.select_related("scoring_model", "version", "created_by").order_by(
            "-created_at", "-id"
        )
        model = self.request.query_params.get("model")
        if model and text_problem(model):  # Postgres cannot even compare a text with NUL in it
            raise ValidationError({"errors": [f"model: {text_problem(model)}"]})
        return jobs.filter(scoring_model__slug=model) if model else jobs

    @extend_schema(
        summary="Rescore jobs, newest first",
        parameters=[OpenApiParameter("model", str, description="Only the jobs of the model with this slug.")],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class RescoringView(ApiView):
    """A write that rescores every lead: for those who may publish, under the writes' throttle."""

    permission_classes = [has_perms("matrix.publish_version")]
    throttle_scope = "writes"


class RescoreView(RescoringView):
    """Start a manual rescore of every lead with the model's live version."""

    @extend_schema(
        summary="Rescore every lead with the model's live version now",
        request=None,
        responses={
            202: s.JobSerializer,
            409: OpenApiResponse(ErrorsSerializer, description="The model has no live version."),
        },
    )
    def post(self, request, slug):
        model = get_object_or_404(ScoringModel, slug=slug)
        try:
            job = model_rescore_start(scoring_model=model, user=request.user)
        except NoLiveVersion as exc:
            raise Conflict({"errors": [str(exc)]}) from None
        job = RescoreJob.objects.select_related("scoring_model", "version", "created_by").get(pk=job.pk)
        url = reverse("matrix-api:job-detail", kwargs={"pk": job.pk})
        return Response(
            s.JobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(url)},
        )


class VersionPublishView(RescoringView):
    """Publish a draft: it becomes the live version and every lead is rescored."""

    @extend_schema(
        summary="Publish a draft: it becomes the live version and every lead is rescored (If-Match required)",
        request=None,
        parameters=[IF_MATCH],
        responses={200: s.PublishResultSerializer, 409: DOCUMENT_ERRORS, **PRECONDITION},
    )
    def post(self, request, slug, number):
        version = get_object_or_404(versions_queryset(), scoring_model__slug=slug, number=number)
        revision = if_match_revision(request, version)
        try:
            version = model_draft_publish(version=version, user=request.user, revision=revision)
        except StaleRevision as exc:
            raise PreconditionFailed(str(exc)) from None
        except PublishError as exc:
            raise invalid([str(exc)], status.HTTP_409_CONFLICT) from None
        job = (
            RescoreJob.objects.select_related("scoring_model", "version", "created_by").filter(version=version).first()
        )
        return version_response(request, version, job=s.JobSerializer(job).data if job else None)
