"""Reads of leads, events and scores."""

from datetime import datetime, timedelta

from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.choices import Stage
from leads.models import Event, Lead, LeadStage, Score, ScoreHistory
from matrix.choices import VersionStatus
from matrix.engine.single import EventData, LeadData, ScoreResult, score_lead
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import version_spec, version_spec_or_note

TEXT_FIELDS = ("email", "first_name", "last_name", "company", "title", "industry", "country", "lead_source")


def lead_data(*, lead: Lead) -> LeadData:
    """The lead as the engine sees it (the same values the bulk SQL reads)."""
    fields = {name: getattr(lead, name) for name in TEXT_FIELDS}
    fields["employees"] = lead.employees
    fields["annual_revenue"] = lead.annual_revenue
    fields["owner"] = lead.owner.username if lead.owner_id else None
    return LeadData(lead.external_id, lead.created_at, fields, lead.attributes or {})


def lead_events_data(*, lead: Lead) -> list[EventData]:
    return [
        EventData(pk, xid, kind, occurred_at, properties or {})
        for pk, xid, kind, occurred_at, properties in lead.events.order_by("id").values_list(
            "id", "external_id", "kind", "occurred_at", "properties"
        )
    ]


def lead_explain(*, lead: Lead, version: ModelVersion, as_of: datetime) -> ScoreResult:
    """The single-lead path: the score with its breakdown and a note on every event."""
    return score_lead(version_spec(version=version), lead_data(lead=lead), lead_events_data(lead=lead), as_of)


# --- The rep workspace: prioritized lists, the grid, the lead page ---------------------------------
# (docs/rep-workspace.md) Each list row is a lead annotated with the chosen model's score; every
# extra column is an annotation or a correlated subquery on an index, never a query per row.

CHANGE_WINDOW = timedelta(days=1)


def user_sees_all_leads(*, user) -> bool:
    """Managers, editors and admins see every lead; reps see their own.

    A rep is whoever may act on leads (`leads.act_on_leads`) without seeing every owner's
    reports (`leads.view_all_reports`); editors cannot act on leads and see them all.
    """
    if user.is_superuser or user.has_perm("leads.view_all_reports"):
        return True
    return not user.has_perm("leads.act_on_leads")


def leads_visible(*, user) -> QuerySet[Lead]:
    """The leads `user` may see: all of them, or for a rep the leads they own."""
    leads = Lead.objects.all()
    return leads if user_sees_all_leads(user=user) else leads.filter(owner_id=user.pk)


def leads_scored_by(*, queryset: QuerySet[Lead], scoring_model: ScoringModel) -> QuerySet[Lead]:
    """The leads of `queryset` that `scoring_model` has scored, highest score first, each with
    that score's fields as annotations: `score`, `fit`, `engagement`, `tier`, `grade`,
    `segment`, `mql`, `score_as_of`, `score_version` and `score_model` (the model's pk).

    One join on the (lead, model) unique index, so ordering by score walks the `score_top` index.
    """
    scored = queryset.annotate(
        model_score=FilteredRelation("scores", condition=Q(scores__scoring_model_id=scoring_model.pk))
    ).filter(model_score__isnull=False)
    return scored.annotate(
        score_model=Value(scoring_model.pk, output_field=BigIntegerField()),
        score=F("model_score__score"),
        fit=F("model_score__fit"),
        engagement=F("model_score__engagement"),
        tier=F("model_score__tier"),
        grade=F("model_score__grade"),
        segment=F("model_score__segment"),
        mql=F("model_score__mql"),
        score_as_of=F("model_score__as_of"),
        score_version=F("model_score__version_number"),
    ).order_by("-score", "pk")


def scored_model_pk(queryset: QuerySet[Lead]) -> int | None:
    """The pk of the model whose score `leads_scored_by` put on these rows, else None."""
    annotation = queryset.query.annotations.get("score_model")
    return getattr(annotation, "value", None)


def leads_prioritized(*, user, model: ScoringModel | None = None, now: datetime | None = None) -> QuerySet[Lead]:
    """The leads `user` may see, with their owner; with `model`, only the leads it scored,
    highest score first, each annotated with that score (see `leads_scored_by`) and with:

    - `last_activity`: the time of the lead's latest event (any kind);
    - `previous_score`: the score the lead had under `model` 24 hours before `now` (from
      ScoreHistory; None when it was not scored then) and `change` = score - previous_score;
    - `stage`: its lifecycle stage under `model` (`lead` when it has none yet).

    Without `model` the leads come in external-id order, unannotated; LeadFilterSet's `model`
    filter scores them then (the API lists all leads that way).
    """
    leads = leads_visible(user=user).select_related("owner")
    if model is None:
        return leads.order_by("external_id")
    now = now or timezone.now()
    latest_event = Event.objects.filter(lead_id=OuterRef("pk")).order_by("-occurred_at").values("occurred_at")[:1]
    earlier = (
        ScoreHistory.objects.filter(lead_id=OuterRef("pk"), scoring_model_id=model.pk, as_of__lte=now - CHANGE_WINDOW)
        .order_by("-as_of", "-id")
        .values("score")[:1]
    )
    stage = LeadStage.objects.filter(lead_id=OuterRef("pk"), scoring_model_id=model.pk).values("stage")[:1]
    money = DecimalField(max_digits=12, decimal_places=2)
    return leads_scored_by(queryset=leads, scoring_model=model).annotate(
        last_activity=Subquery(latest_event),
        previous_score=Subquery(earlier, output_field=money),
        change=ExpressionWrapper(F("score") - F("previous_score"), output_field=money),
        stage=Coalesce(Subquery(stage), Value(Stage.LEAD), output_field=CharField()),
    )


def leads_grade_counts(*, queryset: QuerySet[Lead]) -> dict[str, int]:
    """How many of the scored leads in `queryset` hold each grade (one GROUP BY query).

    Give it `leads_scored_by` rows (filtered as you like), not `leads_prioritized` ones, whose
    per-row subqueries have no place in a GROUP BY.
    """
    rows = queryset.order_by().values("grade").annotate(n=Count("pk")).values_list("grade", "n")
    return dict(rows)


def scoring_models_listed() -> list[ScoringModel]:
    """The models a rep can pick on the lists: all, those with a live version first (one query)."""
    live = ModelVersion.objects.filter(scoring_model=OuterRef("pk"), status=VersionStatus.PUBLISHED)
    models = ScoringModel.objects.annotate(live_number=Subquery(live.values("number")[:1])).order_by("name")
    return sorted(models, key=lambda m: m.live_number is None)


def lead_for_user(*, user, pk: int) -> Lead:
    """The lead with its owner, if `user` may see it; raises Lead.DoesNotExist otherwise."""
    return leads_visible(user=user).select_related("owner").get(pk=pk)


def lead_scores(*, lead: Lead) -> list[Score]:
    """The lead's stored score under each model, with the model, the version and the breakdown lines
    (one query)."""
    return list(
        Score.objects.filter(lead=lead)
        .select_related("scoring_model", "version", "breakdown_row")
        .order_by("scoring_model__name")
    )


def lead_stages(*, lead: Lead) -> dict[int, LeadStage]:
    """The lead's lifecycle stage row per scoring model pk (one query)."""
    return {stage.scoring_model_id: stage for stage in LeadStage.objects.filter(lead=lead).select_related("changed_by")}


def lead_score_history(*, lead: Lead, scoring_model: ScoringModel) -> list[ScoreHistory]:
    """The lead's past scores under one model, oldest first (one query on history_lead_time)."""
    return list(ScoreHistory.objects.filter(lead=lead, scoring_model=scoring_model).order_by("as_of", "id"))


def segment_label(*, version: ModelVersion, key: str) -> str:
    """The label people read for a segment key of a version (the key itself if it has none, or if
    the version's stored document no longer validates)."""
    spec, _ = version_spec_or_note(version=version)
    return next((s.label for s in spec.segments if s.key == key), key) if spec else key


def segment_choices(*, version: ModelVersion) -> list[tuple[str, str]]:
    """(key, label) of the version's segments, in order; keys as labels when its stored document
    no longer validates (read from the document as stored, so the list can still filter by them)."""
    spec, _ = version_spec_or_note(version=version)
    if spec is not None:
        return [(s.key, s.label) for s in spec.segments]
    segments = version.document.get("segments") if isinstance(version.document, dict) else None
    keys = [s.get("key") for s in segments or [] if isinstance(s, dict)]
    return [(key, key) for key in keys if isinstance(key, str)]


def segment_labels(*, scoring_model: ScoringModel) -> dict[str, str]:
    """Segment key -> label for every segment a version of `scoring_model` ever had (one query).

    The newest version naming a key gives its label, so a segment the live version dropped still
    reads as people knew it on the scores an older version wrote; drafts are left out (their
    labels are not agreed yet).
    """
    documents = (
        ModelVersion.objects.filter(scoring_model_id=scoring_model.pk)
        .exclude(status=VersionStatus.DRAFT)
        .order_by("-number")
        .values_list("document", flat=True)
    )
    labels: dict[str, str] = {}
    for document in documents:
        for segment in document.get("segments") or []:
            key = segment.get("key")
            if isinstance(key, str):
                labels.setdefault(key, segment.get("label") or key)
    return labels
