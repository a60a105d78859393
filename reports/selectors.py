"""Manager reports (docs/reports.md): conversion, breakdowns, rejections, calibration, distribution.

Every selector takes the `user` asking and narrows to that user's own leads unless they see every
lead (`user_sees_all_leads`: managers, editors, admins); the views never filter by owner
themselves. Every figure is one grouped aggregate in SQL (a few per report, never a query per
row); Python only lays out the groups the database returns.

The MQL cohort is read from LeadStage (one row per lead and model, its latest MQL episode):

- a lead is in the cohort of a period when its `mql_at` lies in it;
- its outcome is SQL when `accepted_at >= mql_at`, else rejected when `rejected_at >= mql_at`,
  else pending (still an MQL, or recycled without a decision). Comparing with `mql_at` keeps an
  old decision from counting for a lead that became an MQL again after being recycled;
- time to SQL is `accepted_at - mql_at` in whole seconds; median and 75th percentile use
  `percentile_cont` (linear interpolation between the closest ranks) on Postgres and the same
  definition as a Python aggregate on SQLite (`percentile_cont` below);
- direct SQLs (a lead accepted without ever being an MQL) are read from StageTransition
  (`to_stage = sql`, `from_stage <> mql`) and dated at their move; they count as SQLs but stay out
  of the MQL -> SQL rate.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    FilteredRelation,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Floor, Trunc
from django.utils import timezone

from engine.document import DocumentError
from leads.models import Lead
from leads.selectors import user_sees_all_leads
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import version_live, version_open_draft, version_spec
from matrix.services import DraftError, StaleRevision, ThresholdProposal, model_draft_threshold_propose
from scoring.choices import RejectReason, Stage
from scoring.models import LeadStage, Score, StageTransition
from scoring.selectors import segment_labels

GRAINS = ("week", "month")
DIMENSIONS = {
    "segment": "Segment",
    "industry": "Industry",
    "lead_source": "Lead source",
    "country": "Country",
    "owner": "Owner",
    "attribute": "Lead attribute",
}
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
DEFAULT_ATTRIBUTE = "product_interest"
NONE_LABEL = "(none)"
# Below this many MQLs a group's rate is flagged as a small sample.
SMALL_SAMPLE = 20
OUTCOME_SQL, OUTCOME_REJECTED, OUTCOME_PENDING = "sql", "rejected", "pending"
BASES = ("mql", "current")
TARGETS = ("rate", "volume")
# The maturity window's default is the 75th percentile of time to SQL over the model's data; with
# fewer accepted MQLs than this the percentile means little, and MATURITY_FALLBACK is used.
MATURITY_MIN_SQLS = 20
MATURITY_FALLBACK = timedelta(days=14)
MATURITY_MAX = timedelta(days=365)


class ReportError(ValueError):
    """A report asked with inputs it cannot answer (an unknown dimension, a bad attribute key)."""


class CalibrationError(ValueError):
    """A threshold suggestion that cannot become a draft (no live version, unknown segment...)."""


# --- SQL building blocks ------------------------------------------------------------------------


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """Postgres' percentile_cont: linear interpolation between the closest ranks of sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    h = fraction * (len(ordered) - 1)
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


class _SqlitePercentile:
    """The SQLite aggregate `report_percentile_cont(value, fraction)`; NULLs are skipped as in Postgres."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        return percentile_cont(self.values, self.fraction)


def register_sqlite_aggregates(sender, connection, **kwargs) -> None:
    """Connected to `connection_created` (LeadsConfig.ready): SQLite has no percentile_cont."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("report_percentile_cont", 2, _SqlitePercentile)


class PercentileCont(Aggregate):
    """`percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)`; on SQLite the Python aggregate above."""

    name = "PercentileCont"
    function = "percentile_cont"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("a percentile fraction lies between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra):
        template = f"%(function)s({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = f"report_percentile_cont(%(expressions)s, {self.fraction!r})"
        return super().as_sql(compiler, connection, template=template, **extra)


class SecondsBetween(Func):
    """Whole seconds from the second datetime to the first (`later - earlier`), as a float."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):
        template = "CAST(ROUND(EXTRACT(EPOCH FROM (%(expressions)s))) AS double precision)"
        return super().as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "ROUND((julianday(%(expressions)s)) * 86400.0)"
        return super().as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)


def _owner_q(user, path: str) -> Q:
    """Nothing for users who see every lead; a rep's own leads otherwise (`path` leads to the owner id)."""
    if user_sees_all_leads(user=user):
        return Q()
    return Q(**{path: user.pk})


def _outcome() -> Case:
    accepted = Q(accepted_at__isnull=False, mql_at__isnull=False, accepted_at__gte=F("mql_at"))
    rejected = Q(rejected_at__isnull=False, mql_at__isnull=False, rejected_at__gte=F("mql_at"))
    return Case(
        When(accepted, then=Value(OUTCOME_SQL)),
        When(rejected, then=Value(OUTCOME_REJECTED)),
        default=Value(OUTCOME_PENDING),
        output_field=CharField(),
    )


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the current time zone (UTC): end is inclusive."""
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def _cohort(*, user, scoring_model: ScoringModel, start: date, end: date) -> QuerySet[LeadStage]:
    """The MQL cohort: stage rows of `scoring_model` whose (latest) MQL lies in the period."""
    lo, hi = _bounds(start, end)
    return (
        LeadStage.objects.filter(scoring_model_id=scoring_model.pk, mql_at__gte=lo, mql_at__lt=hi)
        .filter(_owner_q(user, "lead__owner_id"))
        .annotate(outcome=_outcome())
    )


def _cohort_figures(cutoff: datetime | None = None) -> dict:
    """The aggregates every cohort report shares (one row per group).

    With `cutoff` (now minus the maturity window), the rate and the time to SQL read only the
    members that became MQLs at or before it (`mature`, `mature_accepted`): a younger MQL has
    not had the time most accepted leads took, so it would count as a failure (and shorten the
    times, as only its quick acceptances are in). The counts (MQLs, accepted, rejected) are
    every member's.
    """
    mature = Q(mql_at__isnull=False) if cutoff is None else Q(mql_at__lte=cutoff)
    seconds = Case(
        When(Q(outcome=OUTCOME_SQL) & mature, then=SecondsBetween("accepted_at", "mql_at")), output_field=FloatField()
    )
    return {
        # Counting lead_id (never null), not id: every column read is in the stage_mql_cohort
        # index, so Postgres answers from the index alone.
        "mqls": Count("lead_id"),
        "accepted": Count("lead_id", filter=Q(outcome=OUTCOME_SQL)),
        "rejected": Count("lead_id", filter=Q(outcome=OUTCOME_REJECTED)),
        "mature": Count("lead_id", filter=mature),
        "mature_accepted": Count("lead_id", filter=Q(outcome=OUTCOME_SQL) & mature),
        "median_s": PercentileCont(seconds, 0.5),
        "p75_s": PercentileCont(seconds, 0.75),
    }


def _share(part: int, whole: int) -> float | None:
    """part / whole; None for no whole (a rate of nothing is unknown, not 0%)."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Maturity:
    """How old an MQL must be to count in a rate: `window`, and where the window came from."""

    window: timedelta
    now: datetime
    source: str  # "p75", "fallback" or "chosen"
    sqls: int = 0  # accepted MQLs the 75th percentile was taken over

    @property
    def cutoff(self) -> datetime:
        return self.now - self.window

    @property
    def days(self) -> float:
        return self.window.total_seconds() / 86400

    @property
    def label(self) -> str:
        hours = self.window.total_seconds() / 3600
        if hours < 72:
            return f"{hours:g} hours ({self.days:.1f} days)"
        return f"{self.days:.1f} days".replace(".0 days", " days")

    @property
    def explanation(self) -> str:
        if self.source == "p75":
            return f"the 75th percentile of time to SQL over the model's {self.sqls:,} accepted MQLs"
        if self.source == "fallback":
            return (
                f"the default of {MATURITY_FALLBACK.days} days: the model has only {self.sqls} accepted MQLs, "
                f"too few (under {MATURITY_MIN_SQLS}) for a percentile"
            )
        return "chosen on this page"


def maturity_window(
    *, scoring_model: ScoringModel, window: timedelta | None = None, now: datetime | None = None
) -> Maturity:
    """The maturity window of `scoring_model`'s reports: `window` when given, else the 75th
    percentile of time to SQL of every accepted MQL of the model (one aggregate on the cohort
    index, over every owner: it describes the sales process, not one rep), rounded up to the
    hour; MATURITY_FALLBACK when fewer than MATURITY_MIN_SQLS MQLs were accepted."""
    now = now or timezone.now()
    if window is not None:
        if not timedelta(0) <= window <= MATURITY_MAX:
            raise ReportError(f"a maturity window lies between 0 and {MATURITY_MAX.days} days")
        return Maturity(window, now, "chosen")
    accepted = Q(accepted_at__isnull=False, mql_at__isnull=False, accepted_at__gte=F("mql_at"))
    found = LeadStage.objects.filter(accepted, scoring_model_id=scoring_model.pk).aggregate(
        n=Count("lead_id"), p75=PercentileCont(SecondsBetween("accepted_at", "mql_at"), 0.75)
    )
    if found["n"] < MATURITY_MIN_SQLS or found["p75"] is None:
        return Maturity(MATURITY_FALLBACK, now, "fallback", found["n"])
    hours = max(1, math.ceil(found["p75"] / 3600))
    return Maturity(min(timedelta(hours=hours), MATURITY_MAX), now, "p75", found["n"])


def _direct_sqls(*, user, scoring_model: ScoringModel, start: date, end: date) -> QuerySet[StageTransition]:
    lo, hi = _bounds(start, end)
    return (
        StageTransition.objects.filter(
            scoring_model_id=scoring_model.pk, to_stage=Stage.SQL, occurred_at__gte=lo, occurred_at__lt=hi
        )
        .exclude(from_stage=Stage.MQL)
        .filter(_owner_q(user, "lead__owner_id"))
    )


def _leads_in_period(*, user, scoring_model: ScoringModel, start: date, end: date) -> QuerySet[Lead]:
    """The leads created in the period (the lead table alone: no join, one scan at worst)."""
    lo, hi = _bounds(start, end)
    return Lead.objects.filter(created_at__gte=lo, created_at__lt=hi).filter(_owner_q(user, "owner_id"))


def _leads_created(*, user, scoring_model: ScoringModel, start: date, end: date) -> QuerySet[Score]:
    """The leads created in the period that `scoring_model` scores (one Score row each)."""
    lo, hi = _bounds(start, end)
    return Score.objects.filter(
        scoring_model_id=scoring_model.pk, lead__created_at__gte=lo, lead__created_at__lt=hi
    ).filter(_owner_q(user, "lead__owner_id"))


# --- figures --------------------------------------------------------------------------------------


@dataclass
class Funnel:
    """The figures of one group (a period, a segment...): counts, the MQL -> SQL rate, time to SQL."""

    key: object = None
    label: str = ""
    leads: int = 0
    mqls: int = 0
    accepted: int = 0
    rejected: int = 0
    direct_sqls: int = 0
    mature: int = 0  # MQLs old enough to count in the rate (all of them without a maturity window)
    mature_accepted: int = 0
    median_s: float | None = None
    p75_s: float | None = None
    # False when the group holds MQLs younger than the maturity window (its rate may still rise).
    matured: bool = True

    @property
    def pending(self) -> int:
        return self.mqls - self.accepted - self.rejected

    @property
    def sqls(self) -> int:
        return self.accepted + self.direct_sqls

    @property
    def immature(self) -> int:
        """MQLs too recent to count in the rate."""
        return self.mqls - self.mature

    @property
    def rate(self) -> float | None:
        """MQL -> SQL conversion of the mature MQLs: accepted over all (pending included)."""
        return _share(self.mature_accepted, self.mature)

    @property
    def median_hours(self) -> float | None:
        return None if self.median_s is None else self.median_s / 3600

    @property
    def p75_hours(self) -> float | None:
        return None if self.p75_s is None else self.p75_s / 3600

    @property
    def small_sample(self) -> bool:
        return 0 < self.mqls < SMALL_SAMPLE

    @property
    def empty(self) -> bool:
        return not (self.leads or self.mqls or self.direct_sqls)

    def take(self, row: dict) -> None:
        for name in ("mqls", "accepted", "rejected", "mature", "mature_accepted", "median_s", "p75_s"):
            setattr(self, name, row[name])
        if self.immature:
            self.matured = False


@dataclass
class ConversionReport:
    scoring_model: ScoringModel
    start: date
    end: date
    grain: str
    totals: Funnel
    periods: list[Funnel]
    maturity: Maturity | None = None

    @property
    def empty(self) -> bool:
        return self.totals.empty


def _periods(start: date, end: date, grain: str) -> list[date]:
    """The first day of every week (Monday) or month that touches [start, end]."""
    if grain == "week":
        first = start - timedelta(days=start.weekday())
        return [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]
    out, day = [], start.replace(day=1)
    while day <= end:
        out.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return out


def _period_key(value) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def conversion_report(
    *,
    user,
    scoring_model: ScoringModel,
    start: date,
    end: date,
    grain: str = "month",
    maturity: Maturity | None = None,
) -> ConversionReport:
    """The funnel of the period in total and per week or month (four queries).

    With `maturity`, rates and times to SQL count only the MQLs older than its window, and a
    period whose end lies after the cutoff is marked not yet mature (`Funnel.matured`).
    """
    if grain not in GRAINS:
        raise ReportError(f"unknown grain {grain!r}: use week or month")
    cutoff = maturity.cutoff if maturity else None
    figures = _cohort_figures(cutoff)
    args = {"user": user, "scoring_model": scoring_model, "start": start, "end": end}
    periods = {day: Funnel(key=day, label=_period_label(day, grain)) for day in _periods(start, end, grain)}
    if cutoff is not None:
        # A period can still gain MQLs whose outcome is open until its last day is past the cutoff.
        for day, period in periods.items():
            period.matured = _bounds(day, _period_end(day, grain))[1] <= cutoff

    def bucket(path: str) -> Trunc:
        return Trunc(path, grain, output_field=DateTimeField())

    totals = Funnel(key=None, label="All")
    totals.take(_cohort(**args).aggregate(**figures))
    for row in _cohort(**args).annotate(period=bucket("mql_at")).values("period").annotate(**figures).order_by():
        periods[_period_key(row["period"])].take(row)
    for row in (
        # COUNT(*): the lead_created index (created_at, owner) answers it without the rows.
        _leads_in_period(**args).annotate(period=bucket("created_at")).values("period").annotate(n=Count("*"))
    ).order_by():
        periods[_period_key(row["period"])].leads = row["n"]
        totals.leads += row["n"]
    for row in (
        _direct_sqls(**args).annotate(period=bucket("occurred_at")).values("period").annotate(n=Count("id")).order_by()
    ):
        periods[_period_key(row["period"])].direct_sqls = row["n"]
        totals.direct_sqls += row["n"]
    return ConversionReport(scoring_model, start, end, grain, totals, list(periods.values()), maturity)


def _period_end(day: date, grain: str) -> date:
    """The last day of the week or month starting on `day`."""
    if grain == "week":
        return day + timedelta(days=6)
    return (day + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _period_label(day: date, grain: str) -> str:
    return f"week of {day:%Y-%m-%d}" if grain == "week" else f"{day:%Y-%m}"


# --- breakdowns ---------------------------------------------------------------------------------


def _dimension(queryset: QuerySet, *, dimension: str, attribute: str, lead: str, segment_of) -> QuerySet:
    """`queryset` annotated with `dim`, the value of `dimension` for each row's lead.

    `lead` is the path from the rows to their lead; `segment_of` annotates the segment (Score rows
    have it, the others join the lead's score of the model).
    """
    if dimension == "segment":
        return segment_of(queryset)
    if dimension in ("industry", "lead_source", "country"):
        return queryset.annotate(dim=F(f"{lead}{dimension}"))
    if dimension == "owner":
        return queryset.annotate(dim=F(f"{lead}owner__username"))
    if dimension == "attribute":
        if not ATTRIBUTE_KEY.match(attribute or ""):
            raise ReportError("an attribute key is letters, digits, '_', '.' or '-' (for example product_interest)")
        return queryset.annotate(dim=Cast(KeyTextTransform(attribute, f"{lead}attributes"), CharField()))
    raise ReportError(f"unknown breakdown {dimension!r}: use one of {', '.join(DIMENSIONS)}")


def _join_segment(scoring_model: ScoringModel):
    def annotate(queryset: QuerySet) -> QuerySet:
        return queryset.annotate(
            model_score=FilteredRelation("lead__scores", condition=Q(lead__scores__scoring_model_id=scoring_model.pk)),
            dim=F("model_score__segment"),
        )

    return annotate


def _mql_segment(queryset: QuerySet[LeadStage]) -> QuerySet[LeadStage]:
    """Cohort rows grouped by the segment each lead was in when it became an MQL (no join)."""
    return queryset.annotate(dim=F("mql_segment"))


def _label(value) -> str:
    if value is None or value == "":
        return NONE_LABEL
    return str(value)


@dataclass
class Breakdown:
    scoring_model: ScoringModel
    start: date
    end: date
    dimension: str
    attribute: str
    rows: list[Funnel]

    @property
    def title(self) -> str:
        if self.dimension == "attribute":
            return f"attributes.{self.attribute}"
        return DIMENSIONS[self.dimension]

    @property
    def empty(self) -> bool:
        return not self.rows


def conversion_breakdown(
    *,
    user,
    scoring_model: ScoringModel,
    start: date,
    end: date,
    dimension: str,
    attribute: str = DEFAULT_ATTRIBUTE,
    maturity: Maturity | None = None,
) -> Breakdown:
    """The conversion figures per value of a lead field (three queries), most MQLs first.

    Segment is, for the MQL cohort, the segment the lead was in when it became an MQL (stored on
    LeadStage); for the leads created and the direct SQLs, which never crossed the MQL line, the
    lead's current segment under the model (segments live with the current score).
    """
    args = {"user": user, "scoring_model": scoring_model, "start": start, "end": end}
    joined = _join_segment(scoring_model)
    rows: dict[str, Funnel] = {}
    # Segments are stored by key; people read their labels (the CSV keeps the key).
    labels = segment_labels(scoring_model=scoring_model) if dimension == "segment" else {}

    def row(value) -> Funnel:
        key = _label(value)
        return rows.setdefault(key, Funnel(key=key, label=labels.get(key, key)))

    def dim(queryset, *, lead="lead__", segment_of=joined):
        return _dimension(queryset, dimension=dimension, attribute=attribute, lead=lead, segment_of=segment_of)

    figures = _cohort_figures(maturity.cutoff if maturity else None)
    for found in dim(_cohort(**args), segment_of=_mql_segment).values("dim").annotate(**figures).order_by():
        row(found["dim"]).take(found)
    if dimension == "segment":
        # Only a score knows the segment: the leads of the period that the model scores.
        created = dim(_leads_created(**args), segment_of=lambda qs: qs.annotate(dim=F("segment")))
    else:
        created = dim(_leads_in_period(**args), lead="")
    for found in created.values("dim").annotate(n=Count("id")).order_by():
        row(found["dim"]).leads += found["n"]
    for found in dim(_direct_sqls(**args)).values("dim").annotate(n=Count("id")).order_by():
        row(found["dim"]).direct_sqls += found["n"]
    if dimension == "owner":
        # Owners are grouped by username (unique); people read their names, as on the lead list.
        users = get_user_model().objects.filter(username__in=list(rows))
        for user in users.only("username", "first_name", "last_name"):
            rows[user.username].label = user.get_full_name() or user.username
    ordered = sorted(rows.values(), key=lambda r: (-r.mqls, -r.leads, -r.direct_sqls, r.label))
    return Breakdown(scoring_model, start, end, dimension, attribute, ordered)


# --- rejection reasons --------------------------------------------------------------------------


@dataclass
class ReasonCount:
    reason: str
    label: str
    count: int
    share: float  # of the segment's rejections


@dataclass
class SegmentRejections:
    segment: str  # the key ("All segments" for the total)
    mqls: int
    rejected: int
    reasons: list[ReasonCount]
    label: str = ""  # what the page shows

    @property
    def rejected_share(self) -> float | None:
        return _share(self.rejected, self.mqls)

    @property
    def key(self) -> str:
        return self.segment


@dataclass
class RejectionReport:
    """The rejection report: each segment's rejected MQLs by reason, and all segments together."""

    scoring_model: ScoringModel
    start: date
    end: date
    segments: list[SegmentRejections]
    total: SegmentRejections

    @property
    def empty(self) -> bool:
        return self.total.rejected == 0


def rejection_reasons(*, user, scoring_model: ScoringModel, start: date, end: date) -> RejectionReport:
    """Why sales rejected the MQLs of the period, per segment (one query): counts and shares."""
    cohort = _mql_segment(_cohort(user=user, scoring_model=scoring_model, start=start, end=end))
    found = (
        cohort.annotate(
            reason=Case(
                When(outcome=OUTCOME_REJECTED, then=F("reject_reason")), default=Value(None), output_field=CharField()
            ),
        )
        .values("dim", "reason")
        .annotate(n=Count("lead_id"))
        .order_by()
    )
    counts: dict[str, dict[str | None, int]] = {}
    for row in found:
        counts.setdefault(_label(row["dim"]), {}).setdefault(row["reason"], 0)
        counts[_label(row["dim"])][row["reason"]] += row["n"]

    labels = segment_labels(scoring_model=scoring_model)

    def summary(name: str, by_reason: dict) -> SegmentRejections:
        mqls = sum(by_reason.values())
        rejected = sum(n for reason, n in by_reason.items() if reason is not None)
        reasons = [
            ReasonCount(r.value, r.label, by_reason.get(r.value, 0), by_reason.get(r.value, 0) / rejected)
            for r in RejectReason
            if rejected
        ]
        unknown = sum(n for reason, n in by_reason.items() if reason == "")
        if unknown:
            reasons.append(ReasonCount("", "(no reason)", unknown, unknown / rejected))
        return SegmentRejections(name, mqls, rejected, reasons, labels.get(name, name))

    segments = [summary(name, by_reason) for name, by_reason in counts.items()]
    segments.sort(key=lambda s: (-s.rejected, -s.mqls, s.segment))
    everything: dict = {}
    for by_reason in counts.values():
        for reason, n in by_reason.items():
            everything[reason] = everything.get(reason, 0) + n
    return RejectionReport(scoring_model, start, end, segments, summary("All segments", everything))


# --- threshold calibration ----------------------------------------------------------------------


@dataclass
class Band:
    start: int
    width: int
    n: int = 0
    sqls: int = 0

    @property
    def label(self) -> str:
        # A real minus, as every score on the pages ("−50–−40", never "-50–-40").
        return f"{self.start}–{self.start + self.width}".replace("-", "−")

    @property
    def rate(self) -> float | None:
        return _share(self.sqls, self.n)


@dataclass
class Outcome:
    threshold: float | None
    mqls: int
    sqls: int

    @property
    def rate(self) -> float | None:
        return _share(self.sqls, self.mqls)


@dataclass
class SegmentCalibration:
    """One segment's calibration: SQL rate by score band, and the MQL threshold now and suggested."""

    key: str
    label: str
    thresholds: dict  # warm, hot, mql of the live version
    bands: list[Band]
    current: Outcome
    suggested: Outcome | None
    note: str = ""

    @property
    def n(self) -> int:
        return sum(b.n for b in self.bands)

    @property
    def changes(self) -> bool:
        return self.suggested is not None and self.suggested.threshold != self.thresholds["mql"]


@dataclass
class CalibrationReport:
    scoring_model: ScoringModel
    version: ModelVersion | None
    start: date
    end: date
    basis: str
    band_width: int
    target: str
    target_value: float
    min_n: int
    segments: list[SegmentCalibration] = field(default_factory=list)
    maturity: Maturity | None = None
    young: int = 0  # members of the period left out as younger than the maturity window

    @property
    def empty(self) -> bool:
        return not any(s.n for s in self.segments)


def _live_segments(scoring_model: ScoringModel) -> tuple[ModelVersion | None, list]:
    version = version_live(scoring_model=scoring_model)
    if version is None:
        return None, []
    return version, list(version_spec(version=version).segments)


def calibration_report(
    *,
    user,
    scoring_model: ScoringModel,
    start: date,
    end: date,
    basis: str = "mql",
    band_width: int = 10,
    target: str = "rate",
    target_value: float = 0.3,
    min_n: int = SMALL_SAMPLE,
    maturity: Maturity | None = None,
) -> CalibrationReport:
    """SQL rate by score band per segment, and the MQL threshold that would have met a target (one query).

    basis "mql": the MQL cohort of the period, each at its score when it became an MQL, SQL when
    accepted. basis "current": the leads created in the period at their current score, SQL when
    sales ever accepted them (through an MQL or directly).

    target "rate": the lowest whole-number threshold whose MQLs (at least `min_n`) converted at
    `target_value` (a fraction) or better. target "volume": the highest whole-number threshold
    that still gives at least `target_value` MQLs. On basis "mql" only leads that became MQLs are
    known, so a threshold can only be raised there (a lower one would add leads with no outcome).

    With `maturity`, only members old enough count (basis "mql": MQLs at or before its cutoff;
    "current": leads created by then); the others are counted in `young` (same query). Right
    after a publish that lowered a threshold, the leads that just became MQLs are pending, not
    failures, and so neither drag a band's rate to zero nor suggest undoing the change.
    """
    if basis not in BASES:
        raise ReportError(f"unknown basis {basis!r}: use mql or current")
    if target not in TARGETS:
        raise ReportError(f"unknown target {target!r}: use rate or volume")
    if band_width < 1:
        raise ReportError("score bands are at least 1 point wide")
    version, specs = _live_segments(scoring_model)
    report = CalibrationReport(
        scoring_model, version, start, end, basis, band_width, target, float(target_value), min_n, maturity=maturity
    )
    if version is None:
        return report
    if basis == "mql":
        population = _mql_segment(
            _cohort(user=user, scoring_model=scoring_model, start=start, end=end).filter(mql_score__isnull=False)
        ).annotate(value=F("mql_score"), converted=Case(When(outcome=OUTCOME_SQL, then=Value(1)), default=Value(0)))
    else:
        stage = FilteredRelation("lead__stages", condition=Q(lead__stages__scoring_model_id=scoring_model.pk))
        population = (
            _leads_created(user=user, scoring_model=scoring_model, start=start, end=end)
            .annotate(model_stage=stage, dim=F("segment"), value=F("score"))
            .annotate(converted=Case(When(model_stage__accepted_at__isnull=False, then=Value(1)), default=Value(0)))
        )
    threshold = Case(
        *(When(dim=s.key, then=Value(Decimal(str(s.mql)))) for s in specs),
        default=Value(None),
    )
    if maturity is None:
        ripe = Q()
    else:
        ripe = Q(mql_at__lte=maturity.cutoff) if basis == "mql" else Q(lead__created_at__lte=maturity.cutoff)
    rows = list(
        population.annotate(point=Floor("value"), at_threshold=threshold)
        .values("dim", "point")
        .annotate(
            n=Count("lead_id", filter=ripe) if maturity else Count("lead_id"),
            sqls=Count("lead_id", filter=ripe & Q(converted=1)),
            cur_n=Count("lead_id", filter=ripe & Q(value__gte=F("at_threshold"))),
            cur_sqls=Count("lead_id", filter=ripe & Q(value__gte=F("at_threshold"), converted=1)),
            young=Count("lead_id", filter=~ripe) if maturity else Value(0),
        )
        .order_by()
    )
    report.young = sum(r["young"] for r in rows if r["dim"] in {s.key for s in specs})
    for spec in specs:
        histogram = {int(r["point"]): (r["n"], r["sqls"]) for r in rows if r["dim"] == spec.key and r["n"]}
        current = Outcome(
            _number(spec.mql),
            sum(r["cur_n"] for r in rows if r["dim"] == spec.key),
            sum(r["cur_sqls"] for r in rows if r["dim"] == spec.key),
        )
        segment = SegmentCalibration(
            key=spec.key,
            label=spec.label,
            thresholds={"warm": _number(spec.warm), "hot": _number(spec.hot), "mql": _number(spec.mql)},
            bands=_bands(histogram, band_width),
            current=current,
            suggested=None,
        )
        _suggest(segment, histogram, report)
        report.segments.append(segment)
    return report


def _number(value) -> float | int:
    value = float(value)
    return int(value) if value.is_integer() else value


def _bands(histogram: dict[int, tuple[int, int]], width: int) -> list[Band]:
    if not histogram:
        return []
    first = math.floor(min(histogram) / width) * width
    last = math.floor(max(histogram) / width) * width
    bands = {start: Band(start, width) for start in range(first, last + 1, width)}
    for point, (n, sqls) in histogram.items():
        band = bands[math.floor(point / width) * width]
        band.n += n
        band.sqls += sqls
    return list(bands.values())


def _suggest(segment: SegmentCalibration, histogram: dict[int, tuple[int, int]], report: CalibrationReport) -> None:
    """Fill `segment.suggested` (or a note saying why there is none) from its whole-point histogram.

    A lead is at or above a whole-number threshold T exactly when floor(score) >= T, so the
    histogram gives every candidate's MQLs and SQLs. On basis "mql" the candidates are the current
    threshold and the whole numbers above it (raising only).
    """
    if not histogram:
        segment.note = "No leads in this segment for the period."
        return
    current = segment.current

    def outcome(t: int) -> Outcome:
        n = sum(v[0] for p, v in histogram.items() if p >= t)
        sqls = sum(v[1] for p, v in histogram.items() if p >= t)
        return Outcome(t, n, sqls)

    points = range(min(histogram), max(histogram) + 2)
    if report.basis == "mql":
        outcomes = [current] + [outcome(t) for t in points if t > current.threshold]
    else:
        outcomes = [outcome(t) for t in points]
    if report.target == "rate":
        met = [o for o in outcomes if o.mqls >= report.min_n and o.rate is not None and o.rate >= report.target_value]
        chosen = met[0] if met else None
        # The rate as the page writes rates (30.0%), so the note and the target above agree.
        missing = f"No threshold gives {report.target_value:.1%} or better with at least {report.min_n:,} MQLs."
    else:
        met = [o for o in outcomes if o.mqls >= report.target_value]
        chosen = met[-1] if met else None
        missing = f"No threshold gives {int(report.target_value):,} MQLs or more"
        if report.basis == "mql":
            missing += " from the MQLs of the period (lowering it needs basis: current scores)"
        missing += "."
    if chosen is None:
        segment.note = missing
        return
    segment.suggested = chosen
    if chosen.threshold == current.threshold:
        segment.note = "The current threshold already meets the target."
        if report.basis == "mql" and report.target == "rate":
            segment.note += " Leads under it never became MQLs, so this basis cannot say whether a lower one would."


def calibration_may_propose(user) -> bool:
    """Editors, and the sales managers who own the reports, may turn a suggestion into a draft."""
    return user.has_perm("matrix.edit_draft") or user.has_perm("leads.view_all_reports")


def calibration_draft_create(
    *, scoring_model: ScoringModel, segment: str, threshold, user, revision: int | None = None
) -> ThresholdProposal:
    """The one write of the reports: a suggested MQL threshold put into the model's open draft.

    `matrix.services.model_draft_threshold_propose`: the open draft (the newest) gets the
    threshold, so clicking again or on another segment adds to the same draft; only without one
    is the live version copied into a new draft, noted "Proposed from the calibration report: ...".
    Editors and sales managers (`calibration_may_propose`) may propose; approving and publishing
    stay the editors'. `revision` is the open draft's revision the page showed.
    """
    if not calibration_may_propose(user):
        raise PermissionDenied("only editors and sales managers may propose a threshold")
    live = version_live(scoring_model=scoring_model)
    if live is None:
        raise CalibrationError(f"{scoring_model.name} has no live version to start a draft from")
    try:
        return model_draft_threshold_propose(
            scoring_model=scoring_model,
            segment=segment,
            threshold=threshold,
            user=user,
            revision=revision,
            origin="the calibration report",
        )
    except StaleRevision as exc:
        raise CalibrationError(f"{exc} (someone edited the draft since this page was opened)") from None
    except DraftError as exc:
        raise CalibrationError(str(exc)) from None
    except DocumentError as exc:
        raise CalibrationError(f"the draft would not be a valid model: {exc}") from None


# The draft a suggestion would change (the model's open draft), for the page's confirmation.
calibration_open_draft = version_open_draft


# --- score distribution -------------------------------------------------------------------------


@dataclass
class SegmentDistribution:
    key: str
    label: str
    thresholds: dict
    bands: list[Band]

    @property
    def n(self) -> int:
        return sum(b.n for b in self.bands)


@dataclass
class DistributionReport:
    scoring_model: ScoringModel
    version: ModelVersion | None
    band_width: int
    segments: list[SegmentDistribution]

    @property
    def empty(self) -> bool:
        return not any(s.n for s in self.segments)


def score_distribution(*, user, scoring_model: ScoringModel, band_width: int = 10) -> DistributionReport:
    """Current scores per segment in bands of `band_width` points (one query), with the thresholds."""
    if band_width < 1:
        raise ReportError("score bands are at least 1 point wide")
    version, specs = _live_segments(scoring_model)
    rows = (
        Score.objects.filter(scoring_model_id=scoring_model.pk)
        .filter(_owner_q(user, "lead__owner_id"))
        .annotate(point=Floor("score"))
        .values("segment", "point")
        .annotate(n=Count("id"))
        .order_by()
    )
    histograms: dict[str, dict[int, tuple[int, int]]] = {}
    for row in rows:
        histograms.setdefault(row["segment"], {})[int(row["point"])] = (row["n"], 0)
    segments = []
    known = {s.key for s in specs}
    for spec in specs:
        thresholds = {"warm": _number(spec.warm), "hot": _number(spec.hot), "mql": _number(spec.mql)}
        bands = _bands(histograms.get(spec.key, {}), band_width)
        segments.append(SegmentDistribution(spec.key, spec.label, thresholds, bands))
    # Scores of a segment the live version no longer has (scored by an older version).
    gone = sorted(set(histograms) - known)
    labels = segment_labels(scoring_model=scoring_model) if gone else {}
    for key in gone:
        segments.append(SegmentDistribution(key, labels.get(key, key), {}, _bands(histograms[key], band_width)))
    return DistributionReport(scoring_model, version, band_width, segments)
