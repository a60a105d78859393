"""The matrix workspace (docs/matrix-workspace.md): the models, one matrix read like a workshop
whiteboard with its sign-off, and its history. Views read the request, call selectors or
services, and render; permissions are checked here and again by the services.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from leads.explain import signed
from leads.models import RescoreJob
from matrix import services
from matrix.choices import VersionStatus
from matrix.engine.conditions import describe
from matrix.engine.document import DocumentError
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import (
    approvals_status,
    model_audit,
    model_grade_counts,
    model_versions,
    scoring_models_overview,
    spec_max_score,
    version_live,
    version_open_draft,
    version_spec_or_note,
    version_unreadable_note,
    versions_diff,
    workspace_settings,
)
from matrix.workshop import impact_preview_latest

VIEW = "matrix.view_scoringmodel"
FIT_LETTERS = ("A", "B", "C", "D")
ENGAGEMENT_DIGITS = ("4", "3", "2", "1")
TIERS = ("hot", "warm", "cold")


def _can(user) -> dict:
    return {
        "approve": user.has_perm("matrix.approve_version"),
        "publish": user.has_perm("matrix.publish_version"),
        "edit": user.has_perm("matrix.edit_draft"),
    }


@permission_required(VIEW, raise_exception=True)
def model_list(request):
    rows = scoring_models_overview()
    for row in rows:
        row["tier_counts"] = [(tier, row["tiers"].get(tier, 0)) for tier in TIERS]
    return render(request, "matrix/model_list.html", {"rows": rows})


def _decay_words(rule) -> str:
    events = ", ".join(rule.events) if rule.events else "any event"
    points = signed(rule.points)  # a real minus, as every score and point on the pages
    if rule.type == "inactivity_step":
        return f"{points} points for every {rule.every_days} days without {events}"
    if rule.type == "inactivity_once":
        return f"{points} points once after {rule.after_days} days without {events}"
    return (
        f"{points} points when {events} gets no {', '.join(rule.responses)} "
        f"(matched on {rule.match_property}) within {rule.after_days} days"
    )


def _criterion_row(c) -> dict:
    if c.is_fit:
        condition = describe(c.when)
    else:
        condition = f"event {', '.join(c.events)}" + (f" where {describe(c.where)}" if c.where else "")
    return {"criterion": c, "condition": condition}


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
        "can": _can(request.user),
        "glossary": sorted(settings.glossary.items()) if isinstance(settings.glossary, dict) else [],
        "draft_status": approvals_status(version=draft, settings=settings) if draft else None,
    }
    spec, context["unreadable"] = version_spec_or_note(version=shown) if shown else (None, None)
    if spec is not None:
        context.update(
            spec=spec,
            fit_rows=[_criterion_row(c) for c in spec.fit_criteria if c.points >= 0],
            engagement_rows=[_criterion_row(c) for c in spec.engagement_criteria if c.points >= 0],
            negative_rows=[_criterion_row(c) for c in spec.criteria if c.points < 0],
            decay_rows=[{"rule": d, "words": _decay_words(d)} for d in spec.decay],
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


def audit_sentence(entry) -> str:
    """An audit entry as people read it: "Imported draft version 1", not `draft_imported`."""
    d = entry.detail or {}
    n, revision = d.get("number"), d.get("revision")
    sentences = {
        "draft_imported": lambda: f"Imported as draft version {n}",
        "draft_started": lambda: f"Started draft version {n} from the live version {d.get('from_number')}",
        "draft_updated": lambda: f"Edited draft version {n}, now at revision {revision}",
        "approved": lambda: f"Approved revision {revision} of version {n} for {d.get('role', 'a team')}",
        "published": lambda: f"Published version {n}: every lead is rescored",
        "restored": lambda: f"Restored version {d.get('from_number')} as draft version {n}",
        "threshold_proposed": lambda: _threshold_proposed(d),
    }
    if entry.action in sentences:
        return sentences[entry.action]()
    # An action this page does not know yet: still words, with its details.
    words = entry.action.replace("_", " ").capitalize()
    extra = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d.items() if k != "changes")
    return f"{words} ({extra})" if extra else words


def _threshold_proposed(d: dict) -> str:
    """ "Proposed MQL threshold 45 for Enterprise from the calibration report as draft version 2"
    (a new draft, copied from the live version) or "... in draft version 2, now at revision 3"."""

    def plain(value) -> str:
        return signed(value).lstrip("+")

    what = f"Proposed MQL threshold {plain(d.get('threshold'))} for {d.get('segment_label') or d.get('segment')}"
    if d.get("old") is not None:
        what += f" (was {plain(d['old'])})"
    if d.get("origin"):
        what += f" from {d['origin']}"
    if "from_number" in d:
        return f"{what} as draft version {d.get('number')}, copied from the live version {d['from_number']}"
    return f"{what} in draft version {d.get('number')}, now at revision {d.get('revision')}"


@permission_required(VIEW, raise_exception=True)
def model_history(request, slug):
    scoring_model = get_object_or_404(ScoringModel, slug=slug)
    versions = model_versions(scoring_model=scoring_model)
    by_number = {str(v.number): v for v in versions}
    diff = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if a or b:
        if a not in by_number or b not in by_number:
            raise Http404("Pick two versions of this model.")
        try:
            lines = versions_diff(old=by_number[a], new=by_number[b])
        except DocumentError as exc:
            lines = [f"Not compared: {version_unreadable_note(exc)}"]
        diff = {"old": by_number[a], "new": by_number[b], "lines": lines}
    context = {
        "scoring_model": scoring_model,
        "versions": versions,
        # The newest draft is the one the editor and the sign-off work on: restoring it onto itself
        # is not offered, and restoring another version says it takes its place (model_version_restore).
        "open_draft": next((v for v in versions if v.status == VersionStatus.DRAFT), None),
        "next_number": (versions[0].number + 1) if versions else 1,
        "diff": diff,
        "a": a or (versions[1].number if len(versions) > 1 else ""),
        "b": b or (versions[0].number if versions else ""),
        "audit": [
            {"entry": entry, "sentence": audit_sentence(entry), "changes": (entry.detail or {}).get("changes")}
            for entry in model_audit(scoring_model=scoring_model)
        ],
        "can": _can(request.user),
    }
    return render(request, "matrix/model_history.html", context)


def _version(slug, number) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("scoring_model"), scoring_model__slug=slug, number=number
    )


def _revision(request) -> int | None:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return None


def _back(request, slug):
    """Where a sign-off form goes back to: the draft editor when it was sent from there."""
    return redirect("matrix:draft", slug=slug) if request.POST.get("back") == "draft" else None


@require_POST
@permission_required("matrix.approve_version", raise_exception=True)
def version_approve(request, slug, number):
    version = _version(slug, number)
    try:
        approval = services.model_version_approve(version=version, user=request.user, revision=_revision(request))
    except (services.DraftError, PermissionError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Version {version.number} revision {approval.revision}: {approval.role} approval recorded."
        )
    return _back(request, slug) or redirect("matrix:detail", slug=slug)


@require_http_methods(["GET", "POST"])
@permission_required("matrix.publish_version", raise_exception=True)
def version_publish(request, slug, number):
    """GET: "publish and rescore every lead?" with what the latest impact preview of this
    revision says it will do. POST: publish (the revision the user confirmed) and go to the job."""
    if request.method == "GET":
        return _publish_confirm(request, slug, number)
    version = _version(slug, number)
    try:
        version = services.model_draft_publish(version=version, user=request.user, revision=_revision(request))
    except (services.DraftError, services.PublishError) as exc:
        messages.error(request, str(exc))
        return _back(request, slug) or redirect("matrix:detail", slug=slug)
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


@require_POST
@permission_required("matrix.edit_draft", raise_exception=True)
def version_restore(request, slug, number):
    version = _version(slug, number)
    replaced = version_open_draft(scoring_model=version.scoring_model)
    try:
        draft = services.model_version_restore(version=version, user=request.user)
    except DocumentError as exc:
        messages.error(request, str(exc))
        return redirect("matrix:history", slug=slug)
    text = f"Version {version.number} restored as draft version {draft.number}, now the open draft."
    if replaced is not None:
        text += f" Draft version {replaced.number} is kept in the history as it was; it is no longer the open draft."
    messages.success(request, text)
    return redirect("matrix:history", slug=slug)
