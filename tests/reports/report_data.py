"""Known lifecycles for the report tests, with fixed dates and outcomes worked out by hand.

The model ("reports-model", published through `model_import` / `model_version_publish`) has two
segments: enterprise (warm 45, hot 80, MQL 70) and default (warm 30, hot 60, MQL 50). Leads,
scores and the funnel history are bulk-created rows, as `lifecycle_backfill` writes them for the
demo. Times are UTC; the period of the tests is 2025-01-01 .. 2025-02-28.

    lead  owner segment  created     MQL (score)          outcome                    time to SQL
    A1    rep   default  01-04       01-05 10:00 (55)     accepted +10 h             10 h
    A2    rep   default  01-09       01-10 10:00 (62)     accepted +20 h             20 h
    A3    rep2  enterp.  01-14       01-15 10:00 (75)     accepted +40 h             40 h
    A4    rep2  default  01-19       01-20 10:00 (51)     rejected wrong_fit +5 h
    A5    rep   default  01-24       01-25 10:00 (58)     pending
    B1    rep2  default  02-02       02-03 10:00 (66)     accepted +100 h            100 h
    B2    rep   default  02-09       02-10 10:00 (53)     rejected no_budget +24 h, recycled 02-20
    B3    rep2  enterp.  02-13       02-14 10:00 (71)     rejected not_ready +3 h
    R1    rep2  default  2024-11-01  2024-12-01, rejected 2024-12-02, recycled, MQL again 02-20 (57): pending
    D1    rep   default  01-11       never                straight to SQL 01-12 10:00
    O1    rep   default  03-01       03-05 10:00 (60)     accepted (outside the period)
    N1    rep   default  01-08       never (score 20)
    N2    rep2  enterp.  02-08       never (score 40)

January: 5 MQLs, 3 accepted, 1 rejected, 1 pending, rate 60 %, time to SQL [10, 20, 40] h:
median 20 h, p75 30 h. February: 4 MQLs (B1, B2, B3, R1), 1 accepted, 2 rejected, 1 pending,
rate 25 %, median = p75 = 100 h. Both: 9 MQLs, 4 accepted (4/9), median 30 h, p75 55 h; one
direct SQL (D1), so 5 SQLs; 11 leads created (7 in January, 4 in February).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from leads.models import Lead
from matrix.models import ModelVersion
from matrix.services import model_import
from scoring.choices import RejectReason, Stage
from scoring.jobs import model_version_publish
from scoring.models import LeadStage, Score, StageTransition

SLUG = "reports-model"
H = timedelta(hours=1)


def at(month: int, day: int, hour: int = 10, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def model_document() -> dict:
    return {
        "name": "Reports model",
        "slug": SLUG,
        "description": "The report tests' model.",
        "lookback_days": 90,
        "half_life_days": None,
        "engagement_floor": 0,
        "criteria": [
            {"key": "software", "label": "Industry: software", "dimension": "fit", "points": 10,
             "when": {"field": "industry", "op": "eq", "value": "Software"}},
            {"key": "webinar", "label": "Webinar attended", "dimension": "engagement",
             "event": "webinar_attended", "where": None, "points": 30, "cap": None, "cap_window_days": None},
        ],
        "decay": [],
        "segments": [
            {"key": "enterprise", "label": "Enterprise", "when": {"field": "employees", "op": "gte", "value": 1000},
             "thresholds": {"warm": 45, "hot": 80, "mql": 70}},
            {"key": "default", "label": "Mid-market", "when": None,
             "thresholds": {"warm": 30, "hot": 60, "mql": 50}},
        ],
        "grades": {"fit": {"A": 40, "B": 20, "C": 10}, "engagement": {"4": 60, "3": 40, "2": 20}},
    }  # fmt: skip


@dataclass(frozen=True)
class Life:
    xid: str
    owner: str
    segment: str
    created: datetime
    score: float  # current score
    industry: str = "Software"
    source: str = "organic"
    country: str = "US"
    interest: str = "analytics"
    mql_at: datetime | None = None
    mql_score: float | None = None
    outcome: str = ""  # "sql", "rejected", "recycled" (rejected then recycled), "" pending / never
    decided: timedelta = timedelta(0)
    reason: str = ""
    direct_sql_at: datetime | None = None


LIVES = [
    Life("A1", "rep", "default", at(1, 4), 55, mql_at=at(1, 5), mql_score=55, outcome="sql", decided=10 * H,
         source="webinar", interest="automation"),
    Life("A2", "rep", "default", at(1, 9), 62, mql_at=at(1, 10), mql_score=62, outcome="sql", decided=20 * H,
         country="GB"),
    Life("A3", "rep2", "enterprise", at(1, 14), 75, mql_at=at(1, 15), mql_score=75, outcome="sql", decided=40 * H,
         industry="Finance", interest="=HYPERLINK(\"http://x\")"),
    Life("A4", "rep2", "default", at(1, 19), 51, mql_at=at(1, 20), mql_score=51, outcome="rejected", decided=5 * H,
         reason=RejectReason.WRONG_FIT, industry="Retail", source="paid"),
    Life("A5", "rep", "default", at(1, 24), 58, mql_at=at(1, 25), mql_score=58),
    Life("B1", "rep2", "default", at(2, 2), 66, mql_at=at(2, 3), mql_score=66, outcome="sql", decided=100 * H,
         industry="Finance"),
    Life("B2", "rep", "default", at(2, 9), 53, mql_at=at(2, 10), mql_score=53, outcome="recycled", decided=24 * H,
         reason=RejectReason.NO_BUDGET, source="paid"),
    Life("B3", "rep2", "enterprise", at(2, 13), 71, mql_at=at(2, 14), mql_score=71, outcome="rejected",
         decided=3 * H, reason=RejectReason.NOT_READY, industry="Finance"),
    Life("R1", "rep2", "default", at(11, 1, year=2024), 57, mql_at=at(2, 20), mql_score=57),
    Life("D1", "rep", "default", at(1, 11), 30, direct_sql_at=at(1, 12), source="referral"),
    Life("O1", "rep", "default", at(3, 1), 60, mql_at=at(3, 5), mql_score=60, outcome="sql", decided=7 * H),
    Life("N1", "rep", "default", at(1, 8), 20, industry="Retail", interest=""),
    Life("N2", "rep2", "enterprise", at(2, 8), 40, industry="Retail"),
]  # fmt: skip
START, END = datetime(2025, 1, 1).date(), datetime(2025, 2, 28).date()


@dataclass
class ReportWorld:
    version: ModelVersion
    leads: dict[str, Lead]

    @property
    def scoring_model(self):
        return self.version.scoring_model


def report_world(*, users: dict, lives: list[Life] = LIVES) -> ReportWorld:
    """Publish the model and bulk-create the leads, scores, stages and transitions of `lives`."""
    version = model_version_publish(version=model_import(data=model_document(), note="reports"), user=None)
    model_id = version.scoring_model_id
    leads = Lead.objects.bulk_create(
        Lead(
            external_id=life.xid,
            email=f"{life.xid.lower()}@example.com",
            industry=life.industry,
            country=life.country,
            lead_source=life.source,
            owner=users[life.owner],
            created_at=life.created,
            attributes={"product_interest": life.interest} if life.interest else {},
        )
        for life in lives
    )
    by_xid = {lead.external_id: lead for lead in leads}
    scores, stages, moves = [], [], []
    for life in lives:
        lead = by_xid[life.xid]
        value = Decimal(str(life.score))
        scores.append(
            Score(lead=lead, scoring_model_id=model_id, version=version, version_number=version.number,
                  as_of=at(3, 31), score=value, fit=Decimal(0), engagement=value, segment=life.segment,
                  tier="cold", grade="C", mql=False, computed_at=at(3, 31))
        )  # fmt: skip

        def move(frm, to, when, score=None, reason="", lead=lead):
            moves.append(
                StageTransition(lead=lead, scoring_model_id=model_id, from_stage=frm, to_stage=to,
                                score=score, version=version, reason=reason, occurred_at=when)
            )  # fmt: skip

        if life.direct_sql_at:
            move(Stage.LEAD, Stage.SQL, life.direct_sql_at)
            stages.append(LeadStage(lead=lead, scoring_model_id=model_id, stage=Stage.SQL,
                                    accepted_at=life.direct_sql_at, changed_at=life.direct_sql_at))  # fmt: skip
            continue
        if life.mql_at is None:
            continue
        stage = LeadStage(lead=lead, scoring_model_id=model_id, stage=Stage.MQL, mql_at=life.mql_at,
                          mql_score=Decimal(str(life.mql_score)), mql_version=version,
                          mql_segment=life.segment, changed_at=life.mql_at)  # fmt: skip
        if life.xid == "R1":
            # An earlier episode: MQL, rejected and recycled in December, then an MQL again in February.
            move(Stage.LEAD, Stage.MQL, at(12, 1, year=2024), Decimal(52))
            move(Stage.MQL, Stage.REJECTED, at(12, 2, year=2024), reason=RejectReason.NOT_READY)
            move(Stage.REJECTED, Stage.RECYCLED, at(12, 20, year=2024))
            stage.rejected_at, stage.reject_reason = at(12, 2, year=2024), RejectReason.NOT_READY
            move(Stage.RECYCLED, Stage.MQL, life.mql_at, stage.mql_score)
        else:
            move(Stage.LEAD, Stage.MQL, life.mql_at, stage.mql_score)
        decided = life.mql_at + life.decided
        if life.outcome == "sql":
            move(Stage.MQL, Stage.SQL, decided)
            stage.stage, stage.accepted_at, stage.changed_at = Stage.SQL, decided, decided
        elif life.outcome in ("rejected", "recycled"):
            move(Stage.MQL, Stage.REJECTED, decided, reason=life.reason)
            stage.stage, stage.rejected_at, stage.reject_reason = Stage.REJECTED, decided, life.reason
            if life.outcome == "recycled":
                move(Stage.REJECTED, Stage.RECYCLED, at(2, 20))
                stage.stage = Stage.RECYCLED
        stages.append(stage)
    Score.objects.bulk_create(scores)
    LeadStage.objects.bulk_create(stages)
    StageTransition.objects.bulk_create(moves)
    return ReportWorld(version, by_xid)
