"""The model pages that show scores: the list with tier counts, a model's page with its grid,
jobs and impact, and publishing (which starts a rescore)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from engine.conditions import describe
from engine.fields import TIERS
from matrix import services
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import (
    approvals_status,
    model_versions,
    spec_max_score,
    version_live,
    version_spec_or_note,
    workspace_settings,
)
from matrix.views import VIEW, back_to_editor, can_of, posted_revision, version_or_404
from matrix.wording import criterion_row, decay_rule_words
from scoring.impact import impact_preview_latest
from scoring.jobs import model_draft_publish
from scoring.models import RescoreJob
from scoring.selectors import model_grade_counts, scoring_models_overview

FIT_LETTERS = ("A", "B", "C", "D")


ENGAGEMENT_DIGITS = ("4", "3", "2", "1")


@permission_required(VIEW, raise_exception=True)
def model_list(request):
    rows = scoring_models_overview()
    for row in rows:
        row["tier_counts"] = [(tier, row["tiers"].get(tier, 0)) for tier in TIERS]
    return render(request, "matrix/model_list.html", {"rows": rows})


@permission_required(VIEW, raise_exception=True)
def model_detail(request, slug):
    scoring_model = get_object_or_404(ScoringModel, slug=slug)
    versions = model_versions(scoring_model=scoring_model)
    live = next((v for v in versions if v.status == VersionStatus.PUBLISHED), None)
    draft = next((v for v in versions if v.status == VersionStatus.DRAFT), None)
    shown = live or draft
    if "version" in request.GET:
        shown = next((v for v in versions if str(v.number) == request.GET["version"]), None)
        if shown is None:
            raise Http404("No such version.")
    settings = workspace_settings()
    context = {
        "scoring_model": scoring_model,
        "live": live,
        "draft": draft,
        "shown": shown,
        "can": can_of(request.user),
        "glossary": sorted(settings.glossary.items()) if isinstance(settings.glossary, dict) else [],
        "draft_status": approvals_status(version=draft, settings=settings) if draft else None,
    }
    spec, context["unreadable"] = version_spec_or_note(version=shown) if shown else (None, None)
    if spec is not None:
        context.update(
            spec=spec,
            fit_rows=[criterion_row(c) for c in spec.fit_criteria if c.points >= 0],
            engagement_rows=[criterion_row(c) for c in spec.engagement_criteria if c.points >= 0],
            negative_rows=[criterion_row(c) for c in spec.criteria if c.points < 0],
            decay_rows=[{"rule": d, "words": decay_rule_words(d)} for d in spec.decay],
            segment_rows=[
                {"segment": s, "condition": describe(s.when) if s.when else "every other lead"} for s in spec.segments
            ],
            max_score=spec_max_score(spec),
        )
    counts = model_grade_counts(scoring_model=scoring_model)
    context["grid"] = [
        {
            "letter": letter,
            "cells": [{"grade": letter + d, "count": counts.get(letter + d, 0)} for d in ENGAGEMENT_DIGITS],
        }
        for letter in FIT_LETTERS
    ]
    context["digits"] = ENGAGEMENT_DIGITS
    context["scored"] = sum(counts.values())
    return render(request, "matrix/model_detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("matrix.publish_version", raise_exception=True)
def version_publish(request, slug, number):
    """GET: "publish and rescore every lead?" with what the latest impact preview of this
    revision says it will do. POST: publish (the revision the user confirmed) and go to the job."""
    if request.method == "GET":
        return _publish_confirm(request, slug, number)
    version = version_or_404(slug, number)
    try:
        version = model_draft_publish(version=version, user=request.user, revision=posted_revision(request))
    except (services.DraftError, services.PublishError) as exc:
        messages.error(request, str(exc))
        return back_to_editor(request, slug) or redirect("matrix:detail", slug=slug)
    job = RescoreJob.objects.filter(version=version).order_by("-id").first()
    messages.success(request, f"Version {version.number} is live: every lead is being rescored.")
    return redirect(reverse("job-detail", args=[job.pk]) if job else reverse("matrix:detail", args=[slug]))


def _publish_confirm(request, slug, number):
    version = get_object_or_404(
        ModelVersion.objects.select_related("scoring_model").prefetch_related("approvals__user"),
        scoring_model__slug=slug,
        number=number,
    )
    if version.status != VersionStatus.DRAFT:
        state = version.get_status_display().lower()
        messages.error(request, f"Version {version.number} is {state}: nothing to publish.")
        return redirect("matrix:detail", slug=slug)
    preview = impact_preview_latest(version=version)
    context = {
        "scoring_model": version.scoring_model,
        "draft": version,
        "status": approvals_status(version=version, settings=workspace_settings()),
        "preview": preview,
        "preview_current": preview is not None and preview.revision == version.revision,
        "back": request.GET.get("back") == "draft",
        "live": version_live(scoring_model=version.scoring_model),
        "leads_scored": sum(model_grade_counts(scoring_model=version.scoring_model).values()),
    }
    return render(request, "matrix/publish_confirm.html", context)
