"""One filter set for the lead lists: the leads page, the grid and the API (NetBox's filtersets.py).

`LeadFilterSet` filters the Lead queryset of `selectors.leads_prioritized(user=..., model=...)`.
The score filters (segment, tier, grade, score range, MQL) and the stage filters apply to the
chosen model's score: the model the queryset was scored by, or the one named by `model` (which
then scores the rows itself). With no model at all they match a lead whose score under *any*
model fits, through EXISTS subqueries (no duplicate rows).
"""

from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from leads.models import Event, Lead
from matrix.choices import Tier
from matrix.models import ScoringModel
from scoring.choices import Stage
from scoring.models import LeadStage, Score
from scoring.selectors import leads_scored_by, scored_model_pk, tier_score_range

GRADES = [f"{letter}{digit}" for letter in "ABCD" for digit in "4321"]
GRADE_CHOICES = [(g, g) for g in GRADES]
OWNER_ME, OWNER_NONE = "me", "none"


def owner_choices() -> list[tuple[str, str]]:
    """For the owner select of the leads page: me, unassigned, then every active user."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    named = [(u.username, u.get_full_name() or u.username) for u in users.only("username", "first_name", "last_name")]
    return [("", "Anyone"), (OWNER_ME, "Me"), (OWNER_NONE, "Unassigned"), *named]


class _Once:
    """A choices callable that runs its query at most once."""

    def __init__(self, load):
        self.load, self.value = load, None

    def __call__(self):
        if self.value is None:
            self.value = self.load()
        return self.value


class LeadFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search", help_text="Name, e-mail or company")
    model = django_filters.ModelChoiceFilter(
        queryset=ScoringModel.objects.order_by("name"),
        to_field_name="slug",
        method="filter_model",
        label="Scoring model",
        empty_label=None,
    )
    segment = django_filters.CharFilter(method="filter_segment", label="Segment")
    tier = django_filters.MultipleChoiceFilter(
        choices=Tier.choices, method="filter_tier", label="Tier", widget=forms.CheckboxSelectMultiple
    )
    grade = django_filters.ChoiceFilter(choices=GRADE_CHOICES, method="filter_grade", label="Grade", empty_label="Any")
    stage = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, method="filter_stage", label="Lifecycle stage", widget=forms.CheckboxSelectMultiple
    )
    mql = django_filters.BooleanFilter(
        method="filter_mql",
        label="MQL",
        # Django's NullBooleanSelect says "Unknown" for "either": a filter means "any".
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )
    owner = django_filters.CharFilter(
        method="filter_owner",
        label="Owner",
        widget=forms.Select(choices=owner_choices),
        help_text="me, none or a username",
    )
    score_min = django_filters.NumberFilter(method="filter_score_min", label="Score at least")
    score_max = django_filters.NumberFilter(method="filter_score_max", label="Score at most")
    industry = django_filters.CharFilter(field_name="industry", lookup_expr="iexact", label="Industry")
    country = django_filters.CharFilter(field_name="country", lookup_expr="iexact", label="Country")
    lead_source = django_filters.CharFilter(field_name="lead_source", lookup_expr="iexact", label="Lead source")
    active_days = django_filters.NumberFilter(
        method="filter_active_days", label="Active in the last N days", min_value=1, max_value=3650
    )
    mql_days = django_filters.NumberFilter(
        method="filter_mql_days", label="Became MQL in the last N days", min_value=1, max_value=3650
    )

    class Meta:
        model = Lead  # rows are leads; every filter is declared above
        fields = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, segments=None, scoring_models=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        if segments is not None:
            # The leads page knows the chosen model's segments: offer them as a select.
            self.filters["segment"].extra["widget"] = forms.Select(choices=[("", "Any"), *segments])
        self._scoring_models = scoring_models
        # A select iterates its choices more than once when it renders: ask for the owners once.
        self.filters["owner"].extra["widget"] = forms.Select(choices=_Once(owner_choices))

    @property
    def form(self):
        form = super().form
        if self._scoring_models is not None and not getattr(form, "_models_listed", False):
            # The page has listed the models already: the select needs no query of its own.
            form.fields["model"].widget.choices = [(m.slug, m.name) for m in self._scoring_models]
            form._models_listed = True
        return form

    # The queryset is scored first, so every score filter below can rely on the annotations.
    def filter_queryset(self, queryset):
        model = self.form.cleaned_data.get("model")
        if model is not None and scored_model_pk(queryset) is None:
            queryset = leads_scored_by(queryset=queryset, scoring_model=model)
        elif model is not None and scored_model_pk(queryset) != model.pk:
            raise ValueError("LeadFilterSet: the queryset is scored by another model than the one asked for")
        return super().filter_queryset(queryset)

    def filter_model(self, queryset, name, value):
        return queryset  # applied in filter_queryset, before the filters that need it

    # --- the score under the chosen model (or under any model) ---------------------------------

    def _score(self, queryset, **lookups):
        if scored_model_pk(queryset) is not None:
            return queryset.filter(**lookups)
        return queryset.filter(Exists(Score.objects.filter(lead_id=OuterRef("pk"), **lookups)))

    def filter_segment(self, queryset, name, value):
        return self._score(queryset, segment=value)

    def filter_tier(self, queryset, name, value):
        if not value:
            return queryset
        model_pk = scored_model_pk(queryset)
        if model_pk is None:
            return self._score(queryset, tier__in=value)
        # With the score range the tiers can have: a list by score then starts at its first row.
        return queryset.filter(tier__in=value, **tier_score_range(scoring_model_id=model_pk, tiers=value))

    def filter_grade(self, queryset, name, value):
        return self._score(queryset, grade=value)

    def filter_mql(self, queryset, name, value):
        return self._score(queryset, mql=value)

    def filter_score_min(self, queryset, name, value):
        return self._score(queryset, score__gte=value)

    def filter_score_max(self, queryset, name, value):
        return self._score(queryset, score__lte=value)

    # --- lifecycle -------------------------------------------------------------------------------

    def _stages(self, queryset, **lookups):
        model_pk = scored_model_pk(queryset)
        stages = LeadStage.objects.filter(lead_id=OuterRef("pk"), **lookups)
        if model_pk is not None:
            stages = stages.filter(scoring_model_id=model_pk)
        return stages

    def filter_stage(self, queryset, name, value):
        if not value:
            return queryset
        condition = Exists(self._stages(queryset, stage__in=value))
        if Stage.LEAD in value:
            # A lead without a stage row has never been an MQL: it is at the `lead` stage.
            condition |= ~Exists(self._stages(queryset))
        return queryset.filter(condition)

    def filter_mql_days(self, queryset, name, value):
        since = timezone.now() - timedelta(days=float(value))
        return queryset.filter(Exists(self._stages(queryset, stage=Stage.MQL, mql_at__gte=since)))

    # --- the lead itself -------------------------------------------------------------------------

    def filter_q(self, queryset, name, value):
        # Every word must appear in the first name, last name, e-mail or company.
        for word in value.split():
            queryset = queryset.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
                | Q(company__icontains=word)
            )
        return queryset

    def filter_owner(self, queryset, name, value):
        value = value.strip()
        if value == OWNER_ME:
            user = getattr(self.request, "user", None)
            return queryset.filter(owner_id=user.pk) if user and user.is_authenticated else queryset.none()
        if value == OWNER_NONE:
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner__username=value)

    def filter_active_days(self, queryset, name, value):
        since = timezone.now() - timedelta(days=float(value))
        return queryset.filter(Exists(Event.objects.filter(lead_id=OuterRef("pk"), occurred_at__gte=since)))
