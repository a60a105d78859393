"""The impact preview page of a draft."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render

from leads.selectors import user_sees_all_leads
from matrix.choices import PreviewState
from matrix.views_workshop import EDIT, VIEW, draft_and_live, workshop_model
from scoring import impact as impact_preview
from scoring.models import ImpactPreview


def _impact_context(request, scoring_model) -> dict:
    draft, live = draft_and_live(scoring_model)
    preview = None
    if draft is not None:
        preview = (
            ImpactPreview.objects.filter(version=draft)
            .select_related("created_by", "live_version")
            .order_by("-created_at", "-id")
            .first()
        )
    movers = preview.movers if preview is not None and preview.state == PreviewState.DONE else []
    hidden = 0
    if not user_sees_all_leads(user=request.user):
        # Counts are for everyone; a rep sees by name only the movers among their own leads.
        mine = [m for m in movers if m.get("owner_id") == request.user.pk]
        movers, hidden = mine, len(movers) - len(mine)
    in_progress = preview is not None and preview.state in (PreviewState.QUEUED, PreviewState.RUNNING)
    lost = preview is not None and impact_preview.impact_preview_is_lost(preview)
    return {
        "scoring_model": scoring_model,
        "draft": draft,
        "live": live,
        "preview": preview,
        "stale": preview is not None and draft is not None and preview.revision != draft.revision,
        "polling": in_progress and not lost,
        "lost": lost,
        "movers": movers,
        "movers_hidden": hidden,
        "rows": impact_preview.impact_rows(preview)
        if preview is not None and preview.state == PreviewState.DONE
        else [],
        "can_edit": request.user.has_perm(EDIT),
    }


@permission_required(VIEW, raise_exception=True)
def impact(request, slug):
    """GET: the latest preview of the newest draft (htmx polls the status part). POST: ask for one."""
    scoring_model = workshop_model(request, slug)
    if request.method == "POST":
        draft, _ = draft_and_live(scoring_model)
        if draft is None:
            messages.error(request, "There is no draft to preview.")
        else:
            try:
                impact_preview.impact_preview_request(
                    version=draft, user=request.user, rerun=bool(request.POST.get("rerun"))
                )
            except impact_preview.ImpactPreviewError as exc:
                messages.error(request, str(exc))
        return redirect("matrix:impact", slug=slug)
    context = _impact_context(request, scoring_model)
    if request.htmx:
        return render(request, "matrix/workshop/_impact_result.html", context)
    return render(request, "matrix/workshop/impact.html", context)
