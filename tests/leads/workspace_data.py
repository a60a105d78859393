"""A small rep workspace built through the real services, shared by the workspace tests.

`workspace_build(owners)` imports and publishes a model (`model_import`, `model_version_publish`),
imports leads (`leads_import`) and their events (`events_ingest`), and scores them twice
(`leads_rescore`): two days before `as_of` and at `as_of`, so ScoreHistory holds a score from
"yesterday" and the rescore itself moves the hot lead to MQL. Every number below is worked out
by hand in the comments, so the tests can assert exact lines and totals.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from leads.models import Lead
from leads.services import events_ingest, leads_import
from matrix.models import ModelVersion
from matrix.services import model_import
from scoring.jobs import model_version_publish
from scoring.services import leads_rescore

SLUG = "new-biz"


def model_document(slug: str = SLUG, name: str = "New business") -> dict:
    return {
        "name": name,
        "slug": slug,
        "description": "The rep workspace tests' model.",
        "lookback_days": 90,
        "half_life_days": None,
        "engagement_floor": 0,
        "criteria": [
            {"key": "decision-maker", "label": "Decision-maker title", "dimension": "fit", "points": 15,
             "when": {"any": [{"field": "title", "op": "contains", "value": "vp"},
                              {"field": "title", "op": "contains", "value": "director"}]}},
            {"key": "software", "label": "Industry: software", "dimension": "fit", "points": 10,
             "when": {"field": "industry", "op": "eq", "value": "Software"}},
            {"key": "student", "label": "Student", "dimension": "fit", "points": -20,
             "when": {"field": "title", "op": "contains", "value": "student"}},
            {"key": "pricing-visit", "label": "Pricing page visit", "dimension": "engagement",
             "event": "page_view", "where": {"field": "url", "op": "contains", "value": "/pricing"},
             "points": 20, "cap": 2, "cap_window_days": 30},
            {"key": "webinar", "label": "Webinar attended", "dimension": "engagement",
             "event": "webinar_attended", "where": None, "points": 30, "cap": None, "cap_window_days": None},
            {"key": "email-open", "label": "E-mail opened", "dimension": "engagement",
             "event": "email_open", "where": None, "points": 5, "cap": 3, "cap_window_days": 30},
            {"key": "demo-request", "label": "Demo request", "dimension": "engagement",
             "event": "demo_request", "where": None, "points": 50, "cap": 1, "cap_window_days": None},
        ],
        "decay": [
            {"key": "inactivity", "label": "Inactivity", "type": "inactivity_step", "events": None,
             "every_days": 30, "points": -10},
            {"key": "no-web-visit", "label": "No web visit", "type": "inactivity_once", "events": ["page_view"],
             "after_days": 45, "points": -15},
        ],
        "segments": [
            {"key": "enterprise", "label": "Enterprise", "when": {"field": "employees", "op": "gte", "value": 1000},
             "thresholds": {"warm": 45, "hot": 80, "mql": 70}},
            {"key": "default", "label": "Mid-market", "when": None,
             "thresholds": {"warm": 30, "hot": 60, "mql": 50}},
        ],
        "grades": {"fit": {"A": 25, "B": 15, "C": 5}, "engagement": {"4": 60, "3": 40, "2": 15}},
    }  # fmt: skip


@dataclass
class Workspace:
    version: ModelVersion
    as_of: datetime
    leads: dict[str, Lead]

    @property
    def scoring_model(self):
        return self.version.scoring_model


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def workspace_build(*, rep, rep2, as_of: datetime | None = None) -> Workspace:
    """Five leads of `rep`, one of `rep2`, one unassigned; scored yesterday-ish and at `as_of`.

    Stored scores at `as_of` (score = fit + engagement):
      L-HOT    Hana Hot, VP Sales, Software, 300 employees (default segment)
               fit 15 + 10; pricing 2 x 20 (a third visit is capped), demo 50, e-mail open 5
               -> 25 + 95 = 120, hot, A4, MQL (two days before: 25 + 20 + 5 = 50, warm and
               already MQL, the line of its segment being 50).
               Also: a page view 120 days ago (outside the 90-day lookback), a form submission
               (no criterion), a pricing visit one hour after as_of (after as_of).
      L-DECAY  Dora Decay, Engineer, Retail: webinar 30 + pricing 20, both 64 days ago;
               decay: inactivity -10 x floor(64/30) = -20, no web visit for 64 >= 45 days -15
               -> 0 + 15 = 15, cold, D2.
      L-WARM   Walt Warm, Director, Software, 2000 employees (enterprise): pricing 20 five days
               ago, two e-mail opens 10 -> 25 + 30 = 55, warm (hot at 80, MQL at 70), A2.
      L-COLD   Cole Cold, PhD Student, Education, no events -> -20, cold, D1; its company
               is a spreadsheet formula (the export must escape it).
      L-MEGA   Mia Mega, VP, Retail, 1500 employees, rep's: demo 50 + pricing 20 + webinar 30
               two days ago -> 15 + 100 = 115, hot, B4, MQL.
      L-OTHER  Olga Other, VP, Software (rep2's): pricing 20 + demo 50 -> 25 + 70 = 95, hot, A4.
      L-FREE   Fred Free, no owner, Director: e-mail open 5, but no web visit ever (100 days
               since created): the -15 is limited to the 5 above the floor -> 15 + 0 = 15, cold, B1.
    """
    as_of = (as_of or timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    version = model_version_publish(version=model_import(data=model_document()))
    created = _iso(as_of - timedelta(days=100))
    # id, first and last name, company, title, industry, employees, country, lead source, owner
    people = [
        ("L-HOT", "Hana", "Hot", "Acme Software", "VP Sales", "Software", 300, "US", "webinar", rep),
        ("L-DECAY", "Dora", "Decay", "Shop & Co", "Engineer", "Retail", 50, "DE", "organic", rep),
        ("L-WARM", "Walt", "Warm", "BigCo", "Director of IT", "Software", 2000, "GB", "referral", rep),
        ("L-COLD", "Cole", "Cold", '=HYPERLINK("http://x")', "PhD Student", "Education", 5, "FR", "organic", rep),
        ("L-MEGA", "Mia", "Mega", "MegaMart", "VP Operations", "Retail", 1500, "US", "partner", rep),
        ("L-OTHER", "Olga", "Other", "Other Inc", "VP Marketing", "Software", 200, "US", "webinar", rep2),
        ("L-FREE", "Fred", "Free", "Free Ltd", "Director", "Retail", 20, "US", "organic", None),
    ]
    rows = [
        (i, {"id": xid, "first_name": first, "last_name": last, "email": f"{first.lower()}@{last.lower()}.example",
             "company": company, "title": title, "industry": industry, "employees": employees, "country": country,
             "lead_source": source, "created_at": created, **({"owner": owner.username} if owner else {})})
        for i, (xid, first, last, company, title, industry, employees, country, source, owner) in enumerate(people)
    ]  # fmt: skip
    report, _ = leads_import(rows=rows)
    assert not report.rejected, report.rejected

    def at(days=0.0, hours=0.0) -> str:
        return _iso(as_of - timedelta(days=days, hours=hours))

    events = [
        # L-HOT: two pricing visits and a demo in the last three days, a capped third visit.
        ("E-H1", "L-HOT", "page_view", at(hours=5), {"url": "/pricing"}),
        ("E-H2", "L-HOT", "page_view", at(days=1), {"url": "/pricing/enterprise"}),
        ("E-H3", "L-HOT", "page_view", at(days=2, hours=1), {"url": "/pricing"}),
        ("E-H4", "L-HOT", "demo_request", at(days=1, hours=2), {"form": "demo"}),
        ("E-H5", "L-HOT", "email_open", at(days=10), {"message_id": "m-1"}),
        ("E-H6", "L-HOT", "page_view", at(days=120), {"url": "/blog/old-post"}),
        ("E-H7", "L-HOT", "form_submit", at(days=4), {"form": "newsletter"}),
        ("E-H8", "L-HOT", "page_view", at(hours=-1), {"url": "/pricing"}),
        # L-DECAY: active 64 days ago, silent since.
        ("E-D1", "L-DECAY", "webinar_attended", at(days=64, hours=1), {"webinar": "Q1 launch"}),
        ("E-D2", "L-DECAY", "page_view", at(days=64, hours=2), {"url": "/pricing"}),
        # L-WARM
        ("E-W1", "L-WARM", "page_view", at(days=5), {"url": "/pricing"}),
        ("E-W2", "L-WARM", "email_open", at(days=6), {"message_id": "m-2"}),
        ("E-W3", "L-WARM", "email_open", at(days=7), {"message_id": "m-3"}),
        # L-MEGA
        ("E-M1", "L-MEGA", "demo_request", at(days=2), {}),
        ("E-M2", "L-MEGA", "page_view", at(days=2, hours=1), {"url": "/pricing"}),
        ("E-M3", "L-MEGA", "webinar_attended", at(days=2, hours=3), {"asset": "webinar-recording"}),
        # L-OTHER
        ("E-O1", "L-OTHER", "page_view", at(days=1), {"url": "/pricing"}),
        ("E-O2", "L-OTHER", "demo_request", at(days=1, hours=1), {}),
        # L-FREE
        ("E-F1", "L-FREE", "email_open", at(days=3), {"message_id": "m-9"}),
    ]
    report, _ = events_ingest(
        rows=[
            (i, {"id": xid, "lead": lead, "kind": kind, "occurred_at": when, "properties": props})
            for i, (xid, lead, kind, when, props) in enumerate(events)
        ]
    )
    assert not report.rejected, report.rejected
    # Two days earlier (ScoreHistory's "yesterday"), then now; no alerts: no mail to send in tests.
    leads_rescore(version=version, as_of=as_of - timedelta(days=2), alerts=False)
    leads_rescore(version=version, as_of=as_of, alerts=False)
    leads = {lead.external_id: lead for lead in Lead.objects.select_related("owner")}
    return Workspace(
        version=ModelVersion.objects.select_related("scoring_model").get(pk=version.pk), as_of=as_of, leads=leads
    )
