"""The workshop pages: the scenario simulator and the impact preview of the newest draft.

Everyone who reads the matrix reads these; editors (`matrix.edit_draft`) save scenarios and ask
for previews. Views parse the request, call `matrix.workshop`, and render.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from matrix import workshop
from matrix.choices import VersionStatus
from matrix.forms_workshop import ScenarioForm
from matrix.models import ModelVersion, Scenario, ScoringModel

VIEW = "matrix.view_scoringmodel"
EDIT = "matrix.edit_draft"


def draft_and_live(scoring_model: ScoringModel) -> tuple[ModelVersion | None, ModelVersion | None]:
    """The newest draft and the live version, in one query."""
    versions = ModelVersion.objects.filter(
        scoring_model=scoring_model, status__in=[VersionStatus.DRAFT, VersionStatus.PUBLISHED]
    ).order_by("-number")
    draft = live = None
    for version in versions:
        if version.status == VersionStatus.PUBLISHED:
            live = live or version
        else:
            draft = draft or version
    return draft, live


def _scenarios_page(request, scoring_model, form, editing=None, status=200):
    draft, live = draft_and_live(scoring_model)
    scenarios = list(Scenario.objects.filter(scoring_model=scoring_model).select_related("created_by"))
    as_of = timezone.now().replace(microsecond=0)
    context = {
        "scoring_model": scoring_model,
        "draft": draft,
        "live": live,
        "as_of": as_of,
        "rows": workshop.scenario_comparisons(scenarios=scenarios, draft=draft, live=live, as_of=as_of),
        "can_edit": request.user.has_perm(EDIT),
        "form": form,
        "editing": editing,
    }
    return render(request, "matrix/workshop/scenarios.html", context, status=status)


def _save(request, scoring_model, scenario=None):
    form = ScenarioForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        fields = {
            "name": data["name"],
            "description": data["description"],
            "lead": data["buyer"],
            "events": data["actions"],
        }
        try:
            if scenario is None:
                scenario = workshop.scenario_create(scoring_model=scoring_model, user=request.user, **fields)
            else:
                scenario = workshop.scenario_update(scenario=scenario, **fields)
        except workshop.ScenarioError as exc:
            for error in exc.errors:
                field = "name" if error.startswith("name:") else None
                form.add_error(field, error.removeprefix("name: ") if field else error)
        else:
            messages.success(request, f"Scenario “{scenario.name}” saved.")
            return redirect(reverse("matrix:scenarios", args=[scoring_model.slug]) + f"#scenario-{scenario.pk}")
    return _scenarios_page(request, scoring_model, form, editing=scenario, status=400)


def workshop_model(request, slug) -> ScoringModel:
    """The model of a workshop page, which readers GET and editors POST to (PermissionDenied for a
    POST by anyone else)."""
    scoring_model = get_object_or_404(ScoringModel, slug=slug)
    if request.method == "POST" and not request.user.has_perm(EDIT):
        raise PermissionDenied
    return scoring_model


@permission_required(VIEW, raise_exception=True)
def scenarios(request, slug):
    """GET: every scenario scored by the newest draft and the live version. POST: a new scenario."""
    scoring_model = workshop_model(request, slug)
    if request.method == "POST":
        return _save(request, scoring_model)
    return _scenarios_page(request, scoring_model, ScenarioForm() if request.user.has_perm(EDIT) else None)


@permission_required(EDIT, raise_exception=True)
def scenario_edit(request, slug, pk):
    scenario = get_object_or_404(Scenario.objects.select_related("scoring_model"), scoring_model__slug=slug, pk=pk)
    if request.method == "POST":
        return _save(request, scenario.scoring_model, scenario)
    return render(
        request,
        "matrix/workshop/scenario_edit.html",
        {"scoring_model": scenario.scoring_model, "scenario": scenario, "form": ScenarioForm.for_scenario(scenario)},
    )


@require_POST
@permission_required(EDIT, raise_exception=True)
def scenario_delete(request, slug, pk):
    scenario = get_object_or_404(Scenario, scoring_model__slug=slug, pk=pk)
    workshop.scenario_delete(scenario=scenario)
    messages.success(request, f"Scenario “{scenario.name}” deleted.")
    return redirect("matrix:scenarios", slug=slug)
