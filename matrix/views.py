"""The matrix workspace (docs/matrix-workspace.md): the models, one matrix read like a workshop
whiteboard with its sign-off, and its history. Views read the request, call selectors or
services, and render; permissions are checked here and again by the services.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from engine.document import DocumentError
from matrix import services
from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import (
    model_audit,
    model_versions,
    version_open_draft,
    version_unreadable_note,
    versions_diff,
)
from matrix.wording import plain

VIEW = "matrix.view_scoringmodel"


def can_of(user) -> dict:
    return {
        "approve": user.has_perm("matrix.approve_version"),
        "publish": user.has_perm("matrix.publish_version"),
        "edit": user.has_perm("matrix.edit_draft"),
    }


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
        "can": can_of(request.user),
    }
    return render(request, "matrix/model_history.html", context)


def version_or_404(slug, number) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("scoring_model"), scoring_model__slug=slug, number=number
    )


def posted_revision(request) -> int | None:
    try:
        return int(request.POST.get("revision", ""))
    except ValueError:
        return None


def back_to_editor(request, slug):
    """Where a sign-off form goes back to: the draft editor when it was sent from there."""
    return redirect("matrix:draft", slug=slug) if request.POST.get("back") == "draft" else None


@require_POST
@permission_required("matrix.approve_version", raise_exception=True)
def version_approve(request, slug, number):
    version = version_or_404(slug, number)
    try:
        approval = services.model_version_approve(version=version, user=request.user, revision=posted_revision(request))
    except services.DraftError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Version {version.number} revision {approval.revision}: {approval.role} approval recorded."
        )
    return back_to_editor(request, slug) or redirect("matrix:detail", slug=slug)


@require_POST
@permission_required("matrix.edit_draft", raise_exception=True)
def version_restore(request, slug, number):
    version = version_or_404(slug, number)
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
