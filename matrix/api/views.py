"""Scoring models over the API: read versions as documents, import and edit drafts, validate,
approve, publish, and follow the rescore jobs a publish starts.

Draft writes use optimistic concurrency: a version's ETag carries its revision, and every write
to an existing version needs `If-Match` with that ETag (428 without it, 412 when stale).
"""

from django.db.models import OuterRef, Prefetch, Subquery
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from engine.document import DocumentError, parse_document
from leads.rows import json_problems
from leadscoring.api import (
    ApiGenericViewSet,
    ApiView,
    ErrorBody,
    ErrorsSerializer,
    PreconditionFailed,
    etag_for,
    has_perms,
    if_match_revision,
)
from leadscoring.api_limits import MAX_BODY_DEPTH, error_body
from matrix import services
from matrix.api import serializers as s
from matrix.choices import VersionStatus
from matrix.models import Approval, ModelVersion, ScoringModel

IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True, description="The ETag of the version as you read it."
)
ERRORS = OpenApiResponse(s.DocumentErrorsSerializer, description="The document broke these rules, by JSON path.")
PRECONDITION = {
    412: OpenApiResponse(ErrorsSerializer, description="The version changed since you read it (stale If-Match)."),
    428: OpenApiResponse(ErrorsSerializer, description="If-Match missing."),
}


def invalid(errors: list[str], code: int = status.HTTP_400_BAD_REQUEST) -> ErrorBody:
    """A refusal naming every problem, with `code` (400 unless said)."""
    """A refusal in the shape of the validate endpoint's answer: `valid` stays a JSON boolean."""
    return ErrorBody({"valid": False, "errors": list(errors)}, code)


def _document(data) -> tuple[object, str | None]:
    """The document and note of a body, or a 400 naming what is wrong with the body itself."""
    if not isinstance(data, dict):
        raise invalid(['body: must be an object {"document": {...}}'])
    form = s.DocumentInputSerializer(data=data)
    if not form.is_valid():
        raise invalid(error_body(form.errors)["errors"])
    return form.validated_data["document"], form.validated_data.get("note")


def _document_checked(document) -> None:
    """Refuse what no database could store (NUL, unpaired surrogates, 1e309) before the spec's own rules."""
    problems = json_problems(document, "document", max_depth=MAX_BODY_DEPTH)
    if problems:
        raise DocumentError(problems)


def versions_queryset():
    return ModelVersion.objects.select_related(
        "scoring_model", "based_on", "created_by", "updated_by", "published_by"
    ).prefetch_related(Prefetch("approvals", queryset=Approval.objects.select_related("user").order_by("id")))


def version_response(request, version: ModelVersion, code=status.HTTP_200_OK, **extra) -> Response:
    """A version as the API answers it, with its ETag (and Location when created); `extra`
    wraps it as {"version": ..., **extra}."""
    version = versions_queryset().get(pk=version.pk)
    body = s.VersionSerializer(version).data
    if extra:
        body = {"version": body, **extra}
    response = Response(body, status=code)
    response["ETag"] = etag_for(version)
    if code == status.HTTP_201_CREATED:
        url = reverse(
            "matrix-api:version-detail", kwargs={"slug": version.scoring_model.slug, "number": version.number}
        )
        response["Location"] = request.build_absolute_uri(url)
    return response


@extend_schema_view(
    list=extend_schema(summary="Scoring models, with the number of their live version"),
    retrieve=extend_schema(summary="One scoring model"),
)
class ScoringModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiGenericViewSet):
    serializer_class = s.ScoringModelSerializer
    lookup_field = "slug"
    filterset_class = None
    filter_backends = []

    def get_permissions(self):
        if self.action == "create":
            return [has_perms("matrix.add_modelversion", "matrix.edit_draft")()]
        return [has_perms("matrix.view_scoringmodel")()]

    @property
    def throttle_scope(self):
        return "writes" if self.request.method == "POST" else None

    def get_queryset(self):
        live = ModelVersion.objects.filter(scoring_model=OuterRef("pk"), status=VersionStatus.PUBLISHED)
        return ScoringModel.objects.annotate(live_number=Subquery(live.values("number")[:1])).order_by("name", "pk")

    @extend_schema(
        summary="Import a document as a new draft (the model is created when its slug is new)",
        request=s.DocumentInputSerializer,
        responses={201: s.VersionSerializer, 400: ERRORS},
    )
    def create(self, request):
        document, note = _document(request.data)
        try:
            _document_checked(document)
            version = services.model_import(data=document, user=request.user, note=note or "")
        except DocumentError as exc:
            raise invalid(exc.errors) from None
        return version_response(request, version, status.HTTP_201_CREATED)


class ValidateView(ApiView):
    """Check a document against the spec without saving anything."""

    permission_classes = [has_perms("matrix.view_scoringmodel")]

    @extend_schema(
        summary="Validate a document without saving it",
        request=s.DocumentInputSerializer,
        responses={200: s.ValidationResultSerializer},
    )
    def post(self, request):
        document, _ = _document(request.data)
        try:
            _document_checked(document)
            parse_document(document)
        except DocumentError as exc:
            return Response({"valid": False, "errors": list(exc.errors)})
        return Response({"valid": True, "errors": []})


class VersionViewSet(ApiGenericViewSet):
    serializer_class = s.VersionSerializer
    filter_backends = []
    lookup_field = "number"
    lookup_value_regex = "[0-9]+"
    queryset = ModelVersion.objects.none()

    PERMISSIONS = {
        "update": ("matrix.edit_draft",),
        "approve": ("matrix.approve_version",),
    }

    def get_permissions(self):
        return [has_perms(*self.PERMISSIONS.get(self.action, ("matrix.view_modelversion",)))()]

    @property
    def throttle_scope(self):
        return "writes" if self.request.method not in ("GET", "HEAD", "OPTIONS") else None

    def get_queryset(self):
        model = get_object_or_404(ScoringModel, slug=self.kwargs["slug"])
        return versions_queryset().filter(scoring_model=model).order_by("-number")

    def get_version(self) -> ModelVersion:
        return get_object_or_404(self.get_queryset(), number=self.kwargs["number"])

    @extend_schema(summary="Versions of a model, newest first, with their documents")
    def list(self, request, slug=None):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(summary="One version with its document; the ETag header carries its revision")
    def retrieve(self, request, slug=None, number=None):
        return version_response(request, self.get_version())

    @extend_schema(
        summary="Replace a draft's document (If-Match required)",
        request=s.DocumentInputSerializer,
        parameters=[IF_MATCH],
        responses={200: s.VersionSerializer, 400: ERRORS, 409: ERRORS, **PRECONDITION},
    )
    def update(self, request, slug=None, number=None):
        version = self.get_version()
        revision = if_match_revision(request, version)
        document, note = _document(request.data)
        try:
            _document_checked(document)
            version = services.model_draft_update(
                version=version, data=document, user=request.user, revision=revision, note=note
            )
        except services.StaleRevision as exc:
            raise PreconditionFailed(str(exc)) from None
        except services.DraftError as exc:
            raise invalid([str(exc)], status.HTTP_409_CONFLICT) from None
        except DocumentError as exc:
            raise invalid(exc.errors) from None
        return version_response(request, version)

    @extend_schema(
        summary="Approve this revision of a draft (your role's sign-off; If-Match required)",
        request=None,
        parameters=[IF_MATCH],
        responses={200: s.VersionSerializer, 409: ERRORS, **PRECONDITION},
    )
    def approve(self, request, slug=None, number=None):
        version = self.get_version()
        revision = if_match_revision(request, version)
        # A user the service refuses (PermissionDenied: no editor role) gets DRF's 403 with the reason.
        try:
            services.model_version_approve(version=version, user=request.user, revision=revision)
        except services.DraftError as exc:
            raise invalid([str(exc)], status.HTTP_409_CONFLICT) from None
        return version_response(request, version)
