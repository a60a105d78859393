"""The rep workspace: the prioritized lead list, the fit x engagement grid, the lead page and the
lifecycle actions. Views only read the request, call selectors or services, and render.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from engine.document import DocumentError
from leads.models import Lead
from leads.selectors import lead_for_user, leads_visible, user_sees_all_leads
from leadscoring.tables import EXPORT_FORMATS, PER_PAGE_CHOICES, ExportTooLarge
from matrix.models import ScoringModel
from matrix.selectors import version_live, version_spec_or_note, version_unreadable_note
from scoring import lifecycle
from scoring.charts import chart_points, heat_legend, heat_level, score_chart
from scoring.choices import RejectReason, Stage
from scoring.explain import lead_explanation
from scoring.filtersets import GRADES, LeadFilterSet
from scoring.forms import RejectForm, SaveFilterForm
from scoring.models import LeadStage
from scoring.saved_filters import (
    BUILTIN_PRESETS,
    SavedFilterError,
    querystring_clean,
    saved_filter_delete,
    saved_filter_save,
    saved_filters_for,
)
from scoring.selectors import (
    lead_score_history,
    lead_scores,
    lead_stages,
    leads_grade_counts,
    leads_prioritized,
    leads_scored_by,
    scoring_models_listed,
    segment_choices,
    segment_label,
)
from scoring.tables import LeadTable

VIEW = "leads.view_lead"
ACT = lifecycle.ACT_PERMISSION


def _pick_model(models: list[ScoringModel], slug: str | None) -> ScoringModel | None:
    """The model named by `slug` (404 if none has it), else the first live one."""
    if slug:
        for model in models:
            if model.slug == slug:
                return model
        raise Http404(f"No scoring model {slug!r}.")
    return models[0] if models else None


def _segments(request, model: ScoringModel | None) -> list[tuple[str, str]] | None:
    """The live version's segments (key, label) for the filters and the table; when its stored
    rules no longer validate, keys as labels and a warning on the page (the stored scores are still
    listed; docs/scoring.md, "When scoring fails")."""
    version = version_live(scoring_model=model) if model else None
    if version is None:
        return None
    note = version_spec_or_note(version=version)[1]
    if note:
        messages.warning(request, f"{model.name} version {version.number}: {note}")
    return segment_choices(version=version)


def _as_asked(data, query):
    """`data` with the stages as the query named them: links keep the pages' default implicit."""
    data = data.copy()
    if stages_default(query):
        data.pop("stage", None)
    else:
        data.setlist("stage", query.getlist("stage"))
    return data


def _with_params(querystring: str, **params) -> str:
    """`querystring` with each of `params` replacing its values (None: removed) and no page."""
    query = QueryDict(querystring, mutable=True)
    query.pop("page", None)
    for key, value in params.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return query.urlencode()


def _list_url(base: str, **params) -> str:
    query = "&".join(part for part in (base, urlencode(params)) if part)
    return f"{reverse('leads:list')}?{query}"


# The lists open on the leads a rep can still work: not accepted (SQL), rejected or recycled.
OPEN_STAGES = (Stage.LEAD, Stage.MQL)
# `stage=any` (the filter form always sends it) means "the stages ticked, or every stage if none".
ANY_STAGE = "any"


def stages_default(query) -> bool:
    """True when the query names no stage: the list shows OPEN_STAGES."""
    return "stage" not in query


def _filters(request, models):
    """The chosen model and the filter data for a list page (the list and the grid).

    Without a `stage` in the query the pages show open leads (OPEN_STAGES); the API's default
    is unchanged (every stage), as the default is the pages', not the filter set's.
    """
    model = _pick_model(models, request.GET.get("model"))
    data = request.GET.copy()
    if model is not None:
        data["model"] = model.slug
    if stages_default(data):
        data.setlist("stage", list(OPEN_STAGES))
    else:
        data.setlist("stage", [s for s in data.getlist("stage") if s != ANY_STAGE])
    return model, data


def _stage_scope(request, data) -> dict:
    """Which stages a list page shows (open leads by default) and the links to switch."""
    current = querystring_clean(request.GET.urlencode())
    return {
        "stage_scope": "open" if stages_default(request.GET) else "chosen" if data.getlist("stage") else "every",
        "every_stage_query": _with_params(current, stage=ANY_STAGE),
        "open_only_query": _with_params(current, stage=None),
    }


@permission_required(VIEW, raise_exception=True)
def lead_list(request):
    """The prioritized lead list: filters, presets, sortable columns, pages, CSV/XLSX export."""
    models = scoring_models_listed()
    model, data = _filters(request, models)
    queryset = leads_prioritized(user=request.user, model=model) if model else Lead.objects.none()
    segments = _segments(request, model)
    filterset = LeadFilterSet(data, queryset, request=request, segments=segments, scoring_models=models)
    rows = filterset.qs if filterset.is_valid() else queryset.none()
    table = LeadTable(rows, scoring_model=model, segment_labels=dict(segments or ()))

    export = request.GET.get("_export")
    if export in EXPORT_FORMATS:
        table.configure(request, paginate=False)
        try:
            stamp = timezone.now().strftime("%Y%m%d-%H%M")
            return table.export_response(export, f"leads-{model.slug if model else 'none'}-{stamp}")
        except ExportTooLarge as exc:
            messages.error(request, f"Not exported: {exc}.")
            return redirect(f"{reverse('leads:list')}?{querystring_clean(request.GET.urlencode())}")
    table.configure(request)

    current = querystring_clean(request.GET.urlencode())
    context = {
        **_stage_scope(request, data),
        "table": table,
        "filterset": filterset,
        "scoring_model": model,
        "scoring_models": models,
        "sees_all": user_sees_all_leads(user=request.user),
        "presets": BUILTIN_PRESETS,
        "saved_filters": saved_filters_for(user=request.user),
        "current_query": current,
        "save_form": SaveFilterForm(initial={"querystring": current}),
        "export_formats": EXPORT_FORMATS,
        "per_page_choices": PER_PAGE_CHOICES,
    }
    return render(request, "leads/lead_list.html", context)


@permission_required(VIEW, raise_exception=True)
def lead_grid(request):
    """Fit (A-D) by engagement (4-1): how many leads hold each grade under the chosen model."""
    models = scoring_models_listed()
    model, data = _filters(request, models)
    data.pop("grade", None)  # a cell is a grade: the grid itself shows them all
    counts, valid = {}, True
    if model is not None:
        scored = leads_scored_by(queryset=leads_visible(user=request.user), scoring_model=model)
        filterset = LeadFilterSet(
            data, scored, request=request, segments=_segments(request, model), scoring_models=models
        )
        valid = filterset.is_valid()
        counts = leads_grade_counts(queryset=filterset.qs) if valid else {}
    else:
        filterset = LeadFilterSet(data, Lead.objects.none(), request=request)
    base = querystring_clean(_as_asked(data, request.GET).urlencode())
    digits = "4321"
    most = max((counts.get(g, 0) for g in GRADES), default=0)
    rows = [
        {
            "letter": letter,
            "cells": [
                {
                    "grade": f"{letter}{digit}",
                    "count": counts.get(f"{letter}{digit}", 0),
                    "level": heat_level(counts.get(f"{letter}{digit}", 0), most),
                    "url": _list_url(base, grade=f"{letter}{digit}"),
                }
                for digit in digits
            ],
        }
        for letter in "ABCD"
    ]
    context = {
        **_stage_scope(request, data),
        "rows": rows,
        "digits": digits,
        "total": sum(counts.get(g, 0) for g in GRADES),
        "legend": heat_legend(most),
        "filterset": filterset,
        "valid": valid,
        "scoring_model": model,
        "scoring_models": models,
        "sees_all": user_sees_all_leads(user=request.user),
        "current_query": base,
    }
    return render(request, "leads/lead_grid.html", context)


@permission_required(VIEW, raise_exception=True)
@require_POST
def saved_filter_create(request):
    form = SaveFilterForm(request.POST)
    querystring = querystring_clean(request.POST.get("querystring", ""))
    if form.is_valid():
        try:
            saved = saved_filter_save(user=request.user, name=form.cleaned_data["name"], querystring=querystring)
            messages.success(request, f"Saved the preset “{saved.name}”.")
        except SavedFilterError as exc:
            messages.error(request, f"Not saved: {exc}.")
    else:
        messages.error(request, "Not saved: give the preset a name (at most 100 characters).")
    return redirect(f"{reverse('leads:list')}?{querystring}")


@permission_required(VIEW, raise_exception=True)
@require_POST
def saved_filter_remove(request, pk: int):
    if not saved_filter_delete(user=request.user, pk=pk):
        raise Http404("No such preset.")
    messages.success(request, "Preset deleted.")
    return redirect("leads:list")


# --- the lead page -----------------------------------------------------------------------------------


def _lead_or_404(request, pk: int) -> Lead:
    try:
        return lead_for_user(user=request.user, pk=pk)
    except Lead.DoesNotExist:
        raise Http404("No such lead, or not one of yours.") from None


def _stage_context(*, lead, scoring_model, stage: LeadStage | None, can_act: bool, **extra) -> dict:
    value = stage.stage if stage is not None else Stage.LEAD
    return {
        "lead": lead,
        "scoring_model": scoring_model,
        "stage": stage,
        "stage_value": value,
        "stage_label": Stage(value).label,
        "moves": lifecycle.moves_from(value) if can_act else set(),
        "reject_form": extra.pop("reject_form", None) or RejectForm(),
        **extra,
    }


@permission_required(VIEW, raise_exception=True)
def lead_detail(request, pk: int):
    """A lead: its attributes, its score under each model, and for the chosen model the
    breakdown that sums to the score, the next-tier gap, why now, the chart and the timeline."""
    lead = _lead_or_404(request, pk)
    scores = lead_scores(lead=lead)
    stages = lead_stages(lead=lead)
    can_act = lifecycle.lead_act_allowed(user=request.user, lead=lead)
    slug = request.GET.get("model")
    chosen = next((s for s in scores if s.scoring_model.slug == slug), None) if slug else next(iter(scores), None)
    if slug and chosen is None:
        raise Http404(f"Lead {lead.external_id} has no score under {slug!r}.")
    cards = [
        {
            "score": score,
            "segment_label": segment_label(version=score.version, key=score.segment),
            "chosen": score is chosen,
            "panel": _stage_context(
                lead=lead,
                scoring_model=score.scoring_model,
                stage=stages.get(score.scoring_model_id),
                can_act=can_act,
            ),
        }
        for score in scores
    ]
    context = {"lead": lead, "cards": cards, "chosen": chosen, "can_act": can_act}
    if chosen is not None:
        try:
            explanation = lead_explanation(lead=lead, score=chosen)
        except DocumentError as exc:
            # The version's stored rules no longer validate: nothing can be explained again, so
            # the stored score and its stored lines are shown with the reason.
            explanation, thresholds = None, None
            context.update(unreadable=version_unreadable_note(exc), stored_lines=chosen.breakdown)
        else:
            segment = next((s for s in explanation.spec.segments if s.key == chosen.segment), None)
            thresholds = {"warm": segment.warm, "hot": segment.hot} if segment else None
        history = lead_score_history(lead=lead, scoring_model=chosen.scoring_model)
        context.update(
            explanation=explanation,
            chart=score_chart(
                points=chart_points(history),
                thresholds=thresholds,
                title=f"Score of {lead} under {chosen.scoring_model.name} over time",
            ),
            history=history,
        )
    return render(request, "leads/lead_detail.html", context)


def _lead_act(*, action: str, lead, scoring_model, user, data) -> dict:
    """Accept, reject or recycle; what the stage panel shows after it: a notice or the refusal, and
    the reject form (bound to what was sent when the reject was refused)."""
    reject_form = RejectForm(data) if action == "reject" else None
    try:
        if action == "accept":
            lifecycle.lead_accept(lead=lead, scoring_model=scoring_model, user=user)
            notice = "Accepted: the lead is now sales-qualified (SQL)."
        elif action == "reject":
            if not reject_form.is_valid():
                raise lifecycle.LifecycleError(
                    "; ".join(str(e) for errors in reject_form.errors.values() for e in errors)
                )
            reason = reject_form.cleaned_data["reason"]
            lifecycle.lead_reject(
                lead=lead, scoring_model=scoring_model, user=user, reason=reason, text=reject_form.cleaned_data["text"]
            )
            notice = f"Rejected ({RejectReason(reason).label})."
        else:
            lifecycle.lead_recycle(lead=lead, scoring_model=scoring_model, user=user)
            notice = "Recycled: the lead goes back to nurturing."
    except lifecycle.LifecycleError as exc:
        return {"error": str(exc), "notice": None, "reject_form": reject_form}
    return {"error": None, "notice": notice, "reject_form": None}


@permission_required(ACT, raise_exception=True)
@require_POST
def lead_action(request, pk: int, action: str):
    """Accept, reject or recycle the lead under one model; htmx gets the stage panel back."""
    lead = _lead_or_404(request, pk)
    scoring_model = get_object_or_404(ScoringModel, slug=request.POST.get("model", ""))
    outcome = _lead_act(action=action, lead=lead, scoring_model=scoring_model, user=request.user, data=request.POST)
    error = outcome["error"]
    if request.htmx:
        stage = LeadStage.objects.filter(lead=lead, scoring_model=scoring_model).select_related("changed_by").first()
        context = _stage_context(lead=lead, scoring_model=scoring_model, stage=stage, can_act=True, **outcome)
        # htmx 4 swaps error responses too: the panel shows the refusal where the buttons were.
        return render(request, "leads/_stage_panel.html", context, status=409 if error else 200)
    if error:
        messages.error(request, error[0].upper() + error[1:])
    else:
        messages.success(request, outcome["notice"])
    url = f"{reverse('leads:detail', args=[lead.pk])}?{urlencode({'model': scoring_model.slug})}"
    return redirect(url)
