"""The prioritized lead list as a table (rows: `selectors.leads_prioritized` with a model)."""

from urllib.parse import urlencode

import django_tables2 as tables
from django.db.models import Case, F, IntegerField, Value, When
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils.html import format_html

from engine.fields import TIERS
from leads.models import Lead
from leadscoring.tables import BaseTable
from matrix.choices import Tier
from matrix.wording import plain, signed
from scoring.choices import Stage

TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}  # hot first
STAGE_RANK = {Stage.MQL: 0, Stage.SQL: 1, Stage.LEAD: 2, Stage.RECYCLED: 3, Stage.REJECTED: 4}


def _rank(field: str, ranks: dict) -> Case:
    return Case(
        *(When(**{field: k}, then=Value(v)) for k, v in ranks.items()), default=Value(9), output_field=IntegerField()
    )


def _nulls_last(queryset, name: str, is_descending: bool):
    expression = F(name).desc(nulls_last=True) if is_descending else F(name).asc(nulls_last=True)
    return queryset.order_by(expression, "pk"), True


class LeadTable(BaseTable):
    lead = tables.Column(
        accessor="pk",
        verbose_name="Lead",
        order_by=("last_name", "first_name", "email"),
        attrs={"td": {"class": "lead-name"}},
    )
    score = tables.Column(verbose_name="Score", attrs={"td": {"class": "num"}, "th": {"class": "num"}})
    tier = tables.Column(verbose_name="Tier", attrs={"td": {"class": "nowrap"}})
    grade = tables.Column(verbose_name="Grade")
    segment = tables.Column(verbose_name="Segment", attrs={"td": {"class": "segment"}})
    company = tables.Column(verbose_name="Company")
    title = tables.Column(verbose_name="Title")
    owner = tables.Column(verbose_name="Owner", order_by=("owner__last_name", "owner__first_name", "owner__username"))
    last_activity = tables.DateTimeColumn(
        verbose_name="Last activity", format="Y-m-d H:i", attrs={"td": {"class": "nowrap"}}
    )
    stage = tables.Column(verbose_name="Stage", attrs={"td": {"class": "nowrap"}})
    # empty_values=(): a lead not scored 24 hours ago has no change (None) and still gets its
    # cell rendered ("new"), instead of the table's "—" for every lead of a fresh history.
    change = tables.Column(
        verbose_name="Since yesterday", empty_values=(), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    # Exported, not shown by default.
    external_id = tables.Column(verbose_name="Lead id")
    email = tables.Column(verbose_name="E-mail")
    industry = tables.Column(verbose_name="Industry")
    country = tables.Column(verbose_name="Country")
    lead_source = tables.Column(verbose_name="Lead source")
    fit = tables.Column(verbose_name="Fit")
    engagement = tables.Column(verbose_name="Engagement")
    mql = tables.BooleanColumn(verbose_name="MQL")
    score_as_of = tables.DateTimeColumn(verbose_name="Scored as of", format="Y-m-d H:i")

    class Meta(BaseTable.Meta):
        model = Lead
        fields = (
            "lead",
            "score",
            "tier",
            "grade",
            "segment",
            "company",
            "title",
            "owner",
            "last_activity",
            "stage",
            "change",
            "external_id",
            "email",
            "industry",
            "country",
            "lead_source",
            "fit",
            "engagement",
            "mql",
            "score_as_of",
        )
        default_columns = fields[:11]
        row_attrs = {"data-lead": lambda record: record.external_id}

    def __init__(self, *args, scoring_model=None, segment_labels=None, **kwargs):
        self.scoring_model = scoring_model
        self.segment_labels = segment_labels or {}
        super().__init__(*args, **kwargs)

    # --- cells -----------------------------------------------------------------------------------

    def render_lead(self, record):
        url = reverse("leads:detail", args=[record.pk])
        if self.scoring_model is not None:
            url += "?" + urlencode({"model": self.scoring_model.slug})
        return format_html('<a href="{}">{}</a> <small class="muted">{}</small>', url, str(record), record.external_id)

    def value_lead(self, record):
        return str(record)

    def render_score(self, value):
        return plain(value) if value else "0"

    def value_score(self, value):
        return value

    def render_tier(self, value):
        return format_html(
            '<mark class="tier tier-{}">{}</mark>', value, Tier(value).label if value in Tier.values else value
        )

    def value_tier(self, value):
        return value

    def render_segment(self, value):
        # The live version's label; a key it no longer has (a score from an older version) as is.
        return self.segment_labels.get(value, value)

    def value_segment(self, value):
        return value  # exports carry the key, a stable value for spreadsheets and integrations

    def render_owner(self, value):
        return value.get_full_name() or value.username

    def value_owner(self, value):
        return value.username if value else ""

    def render_stage(self, value):
        label = Stage(value).label if value in Stage.values else value
        return format_html('<mark class="stage stage-{}">{}</mark>', value, label)

    def value_stage(self, value):
        return value

    def render_change(self, record):
        if record.previous_score is None:
            return format_html('<span class="change-new" title="{}">new</span>', "not scored 24 hours ago")
        # The score now against the score in force 24 hours ago (the newest ScoreHistory row
        # then): a lead scored both times whose score did not move shows 0.
        change = record.change or 0
        css = "up" if change > 0 else "down" if change < 0 else "same"
        return format_html('<span class="change change-{}">{}</span>', css, signed(change))

    def value_change(self, record):
        return record.change

    # Exports carry typed values (datetimes, booleans) rather than the page's text.
    def value_last_activity(self, value):
        return value

    def value_score_as_of(self, value):
        return value

    def value_mql(self, value):
        return bool(value)

    # --- ordering ----------------------------------------------------------------------------------

    def order_tier(self, queryset, is_descending):
        # Ascending: hot first, the way a rep reads a prioritized list.
        ranked = queryset.annotate(tier_rank=_rank("tier", TIER_RANK))
        return ranked.order_by(F("tier_rank").desc() if is_descending else "tier_rank", "-score", "pk"), True

    def order_grade(self, queryset, is_descending):
        # Ascending: A4 (best) first, then A3 ... D1; letters ascending, digits descending.
        graded = queryset.annotate(fit_letter=Substr("grade", 1, 1), engagement_digit=Substr("grade", 2, 1))
        if is_descending:
            return graded.order_by("-fit_letter", "engagement_digit", "pk"), True
        return graded.order_by("fit_letter", "-engagement_digit", "pk"), True

    def order_stage(self, queryset, is_descending):
        ranked = queryset.annotate(stage_rank=_rank("stage", STAGE_RANK))
        return ranked.order_by(F("stage_rank").desc() if is_descending else "stage_rank", "-score", "pk"), True

    def order_last_activity(self, queryset, is_descending):
        return _nulls_last(queryset, "last_activity", is_descending)

    def order_change(self, queryset, is_descending):
        return _nulls_last(queryset, "change", is_descending)
