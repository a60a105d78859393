"""Reads of scores and of leads as scored."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
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

from engine.single import ScoreResult, score_lead
from leads.models import Event, Lead
from leads.selectors import lead_data, lead_events_data, leads_visible
from matrix.choices import Tier, VersionStatus
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import (
    approvals_status,
    version_spec,
    version_spec_or_note,
    versions_with_people,
    workspace_settings,
)
from scoring.choices import Stage
from scoring.models import LeadStage, Score, ScoreHistory

# Above this many rows (by the planner's estimate) Postgres shows the estimate: an exact
# COUNT(*) reads the whole table, and the events table holds many millions of rows.
ESTIMATE_ABOVE = 100_000


class Tally(NamedTuple):
    """A row count, and whether it is exact or the planner's estimate."""

    value: int
    exact: bool


def _estimates(tables: list[str]) -> dict[str, int]:
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        # reltuples is -1 for a table never vacuumed or analyzed: that counts as "unknown".
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s) AND pg_table_is_visible(oid)",
            [tables],
        )
        return {name: n for name, n in cursor.fetchall() if n > ESTIMATE_ABOVE}


def _exact_counts(tables: list[str]) -> dict[str, int]:
    if not tables:
        return {}
    qn = connection.ops.quote_name
    # One round trip for all the tables.
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {qn(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def counts() -> dict[str, Tally]:
    """How many scoring models, leads and events there are (two queries at most)."""
    tables = {"scoring_models": ScoringModel, "leads": Lead, "events": Event}
    names = {key: model._meta.db_table for key, model in tables.items()}
    estimated = _estimates(list(names.values()))
    exact = _exact_counts([t for t in names.values() if t not in estimated])
    return {key: Tally(estimated[t], False) if t in estimated else Tally(exact[t], True) for key, t in names.items()}


def scoring_models_live() -> list[ScoringModel]:
    """Every scoring model with `live_number`: its published version's number, or None (one query)."""
    live = ModelVersion.objects.filter(scoring_model=OuterRef("pk"), status=VersionStatus.PUBLISHED)
    return list(ScoringModel.objects.annotate(live_number=Subquery(live.values("number")[:1])).order_by("name"))


def lead_explain(*, lead: Lead, version: ModelVersion, as_of: datetime) -> ScoreResult:
    """The single-lead path: the score with its breakdown and a note on every event."""
    return score_lead(version_spec(version=version), lead_data(lead=lead), lead_events_data(lead=lead), as_of)


CHANGE_WINDOW = timedelta(days=1)


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


def tier_score_range(*, scoring_model_id: int, tiers: list[str]) -> dict:
    """Score lookups that every stored score of one of `tiers` meets, under any version of the
    model: `{"score__gte": lo, "score__lt": hi}`, either left out when a tier is unbounded that way.

    Redundant with the tier itself (contract section 6: hot from h, warm from w below h, cold
    below w, per segment), so a list filtered by both holds the same rows; but ordered by score
    it then starts its walk of `score_top` at the first score the tiers can have, instead of
    stepping over every hotter lead first (a rep's warm list at 1M leads: 104 ms instead of
    560 ms, docs/performance.md, "Pages at scale"). The thresholds are read from the document of
    every version of the model, drafts included: a score keeps the tier its own version gave it.
    Nothing is bounded if a threshold is not a number.
    """
    warm, hot = [], []
    for segments in ModelVersion.objects.filter(scoring_model_id=scoring_model_id).values_list(
        "document__segments", flat=True
    ):
        for segment in segments if isinstance(segments, list) else [None]:
            levels = segment.get("thresholds") if isinstance(segment, dict) else None
            levels = [levels.get(name) for name in ("warm", "hot")] if isinstance(levels, dict) else [None]
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels):
                return {}
            warm.append(Decimal(str(levels[0])))
            hot.append(Decimal(str(levels[1])))
    if not warm:
        return {}
    ranges = {Tier.HOT: (min(hot), None), Tier.WARM: (min(warm), max(hot)), Tier.COLD: (None, max(warm))}
    chosen = [ranges[t] for t in tiers if t in ranges]
    lows, highs = [lo for lo, _ in chosen], [hi for _, hi in chosen]
    lookups = {}
    if chosen and None not in lows:
        lookups["score__gte"] = min(lows)
    if chosen and None not in highs:
        lookups["score__lt"] = max(highs)
    return lookups


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


def scoring_models_overview() -> list[dict]:
    """Every model with its live version, its newest draft and its leads per tier (four queries)."""
    models = list(ScoringModel.objects.order_by("name", "pk"))
    versions = versions_with_people().exclude(status=VersionStatus.ARCHIVED).order_by("scoring_model_id", "-number")
    live, draft = {}, {}
    for version in versions:
        if version.status == VersionStatus.PUBLISHED:
            live[version.scoring_model_id] = version
        else:
            draft.setdefault(version.scoring_model_id, version)
    tiers: dict[int, dict[str, int]] = {}
    rows = Score.objects.order_by().values_list("scoring_model_id", "tier").annotate(n=Count("pk"))
    for model_id, tier, n in rows:
        tiers.setdefault(model_id, {})[tier] = n
    settings = workspace_settings()
    return [
        {
            "model": model,
            "live": live.get(model.pk),
            "draft": draft.get(model.pk),
            "draft_approvals": approvals_status(version=draft[model.pk], settings=settings)
            if model.pk in draft
            else None,
            "tiers": tiers.get(model.pk, {}),
        }
        for model in models
    ]


def model_grade_counts(*, scoring_model: ScoringModel) -> dict[str, int]:
    """How many leads hold each grade (e.g. "B3") under the model (one GROUP BY)."""
    rows = Score.objects.filter(scoring_model=scoring_model).order_by().values_list("grade").annotate(n=Count("pk"))
    return dict(rows)
