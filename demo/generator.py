"""The demo workspace: believable leads, a year of buyer journeys and lifecycle outcomes.

`seed_demo()` (run by `manage.py seed_demo`) fills an empty workspace through the real services:
the two demo models are imported and published (`model_import`, `model_version_publish`), the
generated leads and events go in as rows of the spec's JSON shape (`leads_import`,
`events_ingest`), every lead is scored at past instants of the last 12 weeks to fill the score
history (`score_history_backfill`, through `leads_rescore`), the funnel history of the past year
is backfilled (`lifecycle_backfill`), and every lead is scored by each live version at `now`
(`leads_rescore` over `lead_ranges`), which is the work of the rescore jobs the publishes
queued: they are recorded done (`rescore_jobs_done_inline`).

Everything is derived from one `random.Random(seed)` and from `now`: the same seed and the same
`now` give the same leads, events, scores and lifecycle rows, whatever the day it runs.
"""

import json
import math
import random
import re
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from engine.conditions import holds
from engine.document import ModelSpec
from engine.single import EventData, LeadData, ScoreResult, score_lead
from leads.models import Event, Lead
from leads.rows import RowReport
from leads.selectors import lead_data
from leads.services import events_ingest, leads_import
from matrix.models import ModelVersion, ScoringModel
from matrix.selectors import version_live, version_spec, versions_live
from matrix.services import model_import
from matrix.workshop import scenario_create
from scoring.choices import RejectReason, Stage
from scoring.jobs import model_version_publish, rescore_jobs_done_inline
from scoring.models import LeadStage, Score, ScoreBreakdown, ScoreHistory, StageTransition
from scoring.services import lead_ranges, leads_rescore

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_MODELS = ("b2b-saas.json", "upsell.json")
REPS = ("rep", "rep2", "rep3")
LEAD_BATCH = 1000
EVENT_BATCH = 20000
LIFECYCLE_BATCH = 500
# The score history: the past instants (days before `now`) the demo scores every lead at. Every
# day of the last week, every week of the month before, every other week back to 12 weeks: a
# rescore a day over 90 days took 150 s for the default demo, ten times the rest of seed_demo.
HISTORY_DAYS_BACK = (84, 70, 56, 42, 28, 21, 14, 7, 6, 5, 4, 3, 2, 1)

# --- vocabulary -------------------------------------------------------------------------------------

INDUSTRIES = {
    "Software": 20,
    "IT Services": 12,
    "Internet": 9,
    "Finance": 12,
    "Healthcare": 10,
    "Retail": 9,
    "Manufacturing": 10,
    "Education": 7,
    "Media": 4,
    "Government": 3,
    "Nonprofit": 2,
    "Logistics": 2,
}
TECH_INDUSTRIES = ("Software", "IT Services", "Internet")


def _names(text: str) -> tuple[str, ...]:
    """The comma-separated names of `text`, in order (a name may hold a space: "de Vries")."""
    return tuple(name.strip() for name in text.split(","))


def _table(text: str) -> dict[str, tuple[str, ...]]:
    """One `key: name, name, ...` entry a line."""
    return {key.strip(): _names(names) for key, names in (line.split(":") for line in text.strip().splitlines())}


COMPANY_SUFFIXES = _table("""
Software: Software, Labs, Technologies, Systems, AI
IT Services: Consulting, IT Solutions, Networks, Digital Services, Cloud
Internet: Online, Digital, Apps, Web, Marketplace
Finance: Capital, Financial, Bank, Insurance, Partners
Healthcare: Health, Medical, Clinics, Biotech, Care
Retail: Retail, Stores, Outfitters, Market, Brands
Manufacturing: Industries, Manufacturing, Components, Machinery, Materials
Education: University, Academy, College, Learning, Schools
Media: Media, Studios, Publishing, Broadcasting, News
Government: County, Agency, Council, Authority, Department
Nonprofit: Foundation, Trust, Alliance, Society, Initiative
Logistics: Logistics, Freight, Shipping, Transport, Supply
""")
NAME_PREFIXES = (
    "North", "Blue", "Bright", "Iron", "Silver", "Cedar", "Summit", "Harbor", "Quantum", "Vertex",
    "Red", "Green", "Stone", "Clear", "Swift", "Golden", "Oak", "Pine", "River", "Sky",
    "Atlas", "Nova", "Polar", "Crest", "Maple", "Falcon", "Orbit", "Prime", "True", "West",
)  # fmt: skip
NAME_CORES = (
    "wind", "peak", "stone", "field", "bridge", "line", "works", "scale", "path", "forge",
    "gate", "point", "wave", "light", "view", "star", "rock", "leaf", "mark", "ridge",
)  # fmt: skip
COUNTRIES = {
    "US": 34, "GB": 11, "DE": 10, "FR": 8, "CA": 5, "NL": 4, "IN": 5, "AU": 4,
    "ES": 3, "IT": 3, "SE": 2, "BR": 3, "JP": 2, "SG": 2, "IE": 2, "CH": 2,
}  # fmt: skip
TLDS = {
    "US": "com",
    "GB": "co.uk",
    "DE": "de",
    "FR": "fr",
    "CA": "ca",
    "NL": "nl",
    "IN": "in",
    "AU": "com.au",
    "ES": "es",
    "IT": "it",
    "SE": "se",
    "BR": "com.br",
    "JP": "jp",
    "SG": "sg",
    "IE": "ie",
    "CH": "ch",
}


FIRST_NAMES = _names("""
James, Mary, Robert, Patricia, John, Jennifer, Michael, Linda, David, Elizabeth, William, Barbara,
Richard, Susan, Joseph, Jessica, Thomas, Sarah, Charles, Karen, Daniel, Nancy, Matthew, Lisa, Anthony,
Sandra, Mark, Ashley, Steven, Emily, Paul, Michelle, Andrew, Amanda, Joshua, Melissa, Kevin, Laura, Brian,
Rebecca, Oliver, Amelia, Harry, Isla, Lukas, Hannah, Felix, Lena, Louis, Camille, Hugo, Chloé, Arjun,
Priya, Rahul, Ananya, Lucas, Sofia, Mateo, Valentina, Liam, Noah, Emma, Olivia, Ava, Mia, Yuki, Haruto,
Wei, Mei, Sven, Ingrid, Lars, Freya, Pieter, Sanne, Marco, Giulia, Pablo, Lucía
""")
LAST_NAMES = _names("""
Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez, Hernandez, Lopez,
Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Martin, Lee, Thompson, White, Harris, Clark, Lewis,
Walker, Hall, Allen, Young, King, Evans, Roberts, Wright, Green, Baker, Müller, Schmidt, Schneider,
Fischer, Weber, Meyer, Wagner, Bernard, Dubois, Moreau, Laurent, Lefèvre, Sharma, Patel, Gupta, Singh,
Silva, Santos, Rossi, Russo, Bianchi, Fernández, González, de Vries, Jansen, Andersson, Johansson,
Nilsson, Sato, Suzuki, Tanaka, Chen, Wang, Tan, O'Brien
""")
# (weight, titles); the b2b model rewards director / vp / head of / chief, and punishes students.
TITLE_GROUPS = {
    "chief": (4, ("Chief Executive Officer", "Chief Technology Officer", "Chief Marketing Officer",
                  "Chief Revenue Officer", "Chief Financial Officer", "Chief Information Officer")),
    "vp": (7, ("VP of Sales", "VP Marketing", "VP Engineering", "VP of Operations", "VP Product",
               "SVP Customer Success")),
    "director": (12, ("Director of Marketing", "Sales Director", "Director of IT", "Engineering Director",
                      "Director, Demand Generation", "Director of Operations")),
    "head": (8, ("Head of Growth", "Head of Data", "Head of Sales Operations", "Head of Product", "Head of IT")),
    "manager": (22, ("Marketing Manager", "Sales Manager", "IT Manager", "Product Manager", "Operations Manager",
                     "Engineering Manager", "Account Manager")),
    "engineer": (17, ("Software Engineer", "Senior Software Engineer", "DevOps Engineer", "Data Engineer",
                      "Solutions Engineer", "Platform Engineer")),
    "analyst": (14, ("Data Analyst", "Business Analyst", "Marketing Analyst", "Financial Analyst",
                     "Sales Operations Analyst")),
    "other": (11, ("Founder", "Consultant", "Marketing Specialist", "Account Executive", "Intern", "Owner",
                   "Office Manager")),
    "student": (5, ("Student", "PhD Student", "MBA Student", "Graduate Student")),
}  # fmt: skip
SENIOR_GROUPS = ("chief", "vp", "director", "head")
LEAD_SOURCES = {"organic": 30, "paid": 22, "webinar": 12, "referral": 10, "trade_show": 10, "partner": 16}
PLANS = {"none": 55, "free": 18, "starter": 10, "team": 9, "business": 6, "enterprise": 2}
SEATS = {"free": (1, 3), "starter": (2, 12), "team": (5, 60), "business": (20, 300), "enterprise": (100, 3000)}
PRODUCT_INTERESTS = ("analytics", "automation", "integrations", "security", "collaboration", "reporting")
BLOG_POSTS = (
    "lead-scoring-101", "mql-vs-sql", "b2b-buyer-journey", "intent-data-explained", "revops-playbook",
    "email-benchmarks-2025", "account-based-marketing", "pipeline-forecasting", "sales-marketing-alignment",
    "crm-hygiene", "webinar-funnels", "pql-product-qualified-leads", "attribution-models", "churn-signals",
    "demand-gen-metrics", "content-that-converts", "cold-email-deliverability", "marketing-automation-tips",
    "data-enrichment", "customer-expansion-playbook", "pricing-page-teardown", "abm-vs-inbound",
)  # fmt: skip
SITE_PAGES = (
    "/",
    "/product",
    "/product/integrations",
    "/customers",
    "/security",
    "/about",
    "/docs/getting-started",
    "/docs/api",
    "/compare/spreadsheet",
)
ASSETS = (
    "ebook-lead-scoring-guide", "whitepaper-revenue-operations", "report-state-of-b2b-marketing",
    "roi-calculator", "case-study-northwind", "checklist-crm-migration", "template-icp-worksheet",
    "analyst-report-wave-2025", "guide-scoring-models", "benchmark-email-engagement",
)  # fmt: skip
PROSPECT_WEBINARS = (
    "scoring-that-sales-trusts",
    "from-mql-to-revenue",
    "abm-in-practice",
    "data-driven-demand-gen",
    "the-modern-revops-stack",
    "building-your-first-scoring-model",
)
CUSTOMER_WEBINARS = ("advanced-workflows", "admin-masterclass", "api-deep-dive", "whats-new-this-quarter")
FEATURES = ("dashboards", "reports", "workflows", "integrations", "exports", "alerts", "segments", "imports")
PREMIUM_FEATURES = ("sso", "audit_log", "api", "advanced_reports")
SOCIAL = ("linkedin", "x", "youtube")
SOCIAL_ACTIONS = ("like", "share", "comment", "follow")
FIRST_TOUCH_FORMS = {
    "organic": "newsletter-signup",
    "paid": "landing-page-ebook",
    "webinar": "webinar-registration",
    "referral": "contact-us",
    "trade_show": "badge-scan",
    "partner": "partner-referral",
}
TRADE_SHOWS = ("SaaStr Europa", "Dreamforce", "INBOUND", "B2B Marketing Expo", "Web Summit")
REJECT_TEXTS = {
    RejectReason.NOT_READY: ("Evaluating next fiscal year", "Still researching, asked to reconnect in Q3",
                             "Project not prioritised yet"),
    RejectReason.WRONG_FIT: ("Too small for our offer", "Industry we do not serve", "Looking for a consultant"),
    RejectReason.NO_BUDGET: ("Budget frozen until next year", "No budget owner identified", "Budget went elsewhere"),
    RejectReason.DUPLICATE: ("Already in an open opportunity", "Same person as an existing contact"),
    RejectReason.OTHER: ("Competitor doing research", "Contact left the company", "Student project",
                         "Existing customer of a partner", "Wants a free tier only", "Unreachable after 5 attempts"),
}  # fmt: skip


# --- results ----------------------------------------------------------------------------------------


@dataclass
class LifecycleCounts:
    mqls: int = 0  # leads that became MQL at some point
    stages: Counter = field(default_factory=Counter)  # current stage -> leads
    direct_sql: int = 0  # straight to SQL without an MQL
    transitions: int = 0


@dataclass
class SeedSummary:
    models: list[str] = field(default_factory=list)
    leads: int = 0
    events: int = 0
    events_rejected: int = 0
    leads_rejected: int = 0
    scores: int = 0
    history: int = 0  # score history rows written by the past rescores
    lifecycle: dict[str, LifecycleCounts] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


# --- the generator ------------------------------------------------------------------------------------


@dataclass
class Company:
    name: str
    domain: str
    industry: str
    employees: int
    annual_revenue: float
    country: str
    owner: str
    plan: str
    seats: int | None


@dataclass
class Journey:
    """How far one lead gets and when; the events are drawn from it."""

    number: int
    external_id: str
    created_at: datetime
    source: str
    propensity: float
    title_group: str
    plan: str
    considered_at: datetime | None = None
    decided_at: datetime | None = None
    active_until: datetime | None = None
    unsubscribed_at: datetime | None = None
    careers: bool = False
    surge_at: datetime | None = None
    open_rate: float = 0.0
    usage: str = ""  # for product users: "", "steady", "declining", "expanding"
    seats: int | None = None


def _weighted(rng: random.Random, table: dict) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


class _JourneyLog:
    """The events drawn for one journey, each kept only if it falls between the lead's creation and now."""

    def __init__(self, created_at: datetime, now: datetime):
        self.created_at, self.now = created_at, now
        self.out: list[tuple[datetime, str, dict]] = []

    def add(self, at: datetime, kind: str, **props) -> None:
        if self.created_at <= at <= self.now:
            self.out.append((at.replace(microsecond=0), kind, props))

    def page(self, at: datetime, url: str, **props) -> None:
        self.add(at, "page_view", url=url, **props)


class DemoGenerator:
    """Leads and events as rows of the spec's JSON shape, drawn from one random.Random.

    Call `leads()` first (it draws the companies, leads and journeys), then `events()`; both
    consume the same generator in a fixed order, so a seed and a `now` fix the output.
    """

    def __init__(self, *, rng: random.Random, now: datetime, leads: int, days: int):
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.start = self.now - days * DAY
        self.count = leads
        self.days = days
        self.journeys: list[Journey] = []
        # A newsletter every Tuesday 09:00 UTC, a prospect webinar every third Thursday at 16:00,
        # a customer webinar every fourth Wednesday at 15:00, within the window.
        self.newsletters = self._weekly(1, 9, every=1)
        self.webinars = self._weekly(3, 16, every=3)
        self.customer_webinars = self._weekly(2, 15, every=4)

    def _weekly(self, weekday: int, hour: int, every: int) -> list[datetime]:
        first = (self.start + timedelta(days=(weekday - self.start.weekday()) % 7)).replace(
            hour=hour, minute=0, second=0
        )
        if first < self.start:
            first += timedelta(days=7)
        out, t = [], first
        while t <= self.now:
            out.append(t)
            t += timedelta(days=7 * every)
        return out

    # -- leads -------------------------------------------------------------------------------------

    def _companies(self, n: int) -> list[Company]:
        rng = self.rng
        names: set[str] = set()
        out = []
        for _ in range(n):
            industry = _weighted(rng, INDUSTRIES)
            while True:
                stem = rng.choice(NAME_PREFIXES) + rng.choice(NAME_CORES)
                name = f"{stem} {rng.choice(COMPANY_SUFFIXES[industry])}"
                if name not in names:
                    names.add(name)
                    break
            country = _weighted(rng, COUNTRIES)
            # Log-normal head count: median about 100, a long tail of large enterprises.
            employees = int(_clamp(math.exp(rng.gauss(4.6, 1.7)), 2, 250_000))
            per_head = (
                rng.uniform(40_000, 120_000) if industry in ("Education", "Nonprofit") else rng.uniform(80_000, 350_000)
            )
            revenue = float(round(employees * per_head, -3))
            plan = _weighted(rng, PLANS)
            seats = None
            if plan != "none":
                lo, hi = SEATS[plan]
                seats = max(1, min(employees, int(math.exp(rng.uniform(math.log(lo), math.log(hi))))))
            slug = re.sub(r"[^a-z0-9]", "", stem.lower())
            out.append(
                Company(
                    name,
                    f"{slug}.{TLDS[country]}",
                    industry,
                    employees,
                    revenue,
                    country,
                    rng.choice(REPS),
                    plan,
                    seats,
                )
            )
        return out

    def leads(self) -> list[dict]:
        rng = self.rng
        companies = self._companies(max(1, self.count // 3))
        # A few companies bring many leads, most bring one or two.
        weights = [1.0 / (i + 1) ** 0.6 for i in range(len(companies))]
        picks = rng.choices(companies, weights=weights, k=self.count)
        emails: set[str] = set()
        rows = []
        for number, company in enumerate(picks, start=1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{_ascii(first)}.{_ascii(last)}"
            email = f"{local}@{company.domain}"
            n = 2
            while email in emails:
                email = f"{local}{n}@{company.domain}"
                n += 1
            emails.add(email)
            groups = {k: w for k, (w, _) in TITLE_GROUPS.items()}
            if company.industry == "Education":
                groups["student"] = 30
            group = _weighted(rng, groups)
            title = rng.choice(TITLE_GROUPS[group][1])
            source = _weighted(rng, LEAD_SOURCES)
            # More leads arrive recently than a year ago (the business grows).
            back = self.days * DAY * rng.random() ** 1.4
            created = self.now - max(back, 2 * HOUR)
            created = created.replace(microsecond=0)

            propensity = rng.betavariate(1.4, 4.5)
            propensity += 0.08 if group in SENIOR_GROUPS else 0
            propensity += 0.05 if company.industry in TECH_INDUSTRIES else 0
            propensity += 0.05 if 200 <= company.employees <= 5000 else 0
            propensity += 0.10 if source in ("webinar", "referral", "partner") else 0
            propensity -= 0.15 if group == "student" else 0
            journey = Journey(
                number, f"L-{number:06d}", created, source, _clamp(propensity, 0.0, 1.0), group, company.plan
            )
            journey.seats = company.seats
            self._plan(journey)
            decided = journey.decided_at is not None
            considered = journey.considered_at is not None
            budget = rng.random() < (0.55 if decided else 0.2 if considered else 0.04)
            attributes = {
                "budget_confirmed": budget,
                "plan": company.plan,
                "product_interest": rng.choice(PRODUCT_INTERESTS),
            }
            if company.seats is not None:
                attributes["seats"] = company.seats
            self.journeys.append(journey)
            rows.append(
                {
                    "id": journey.external_id,
                    "email": email,
                    "first_name": first,
                    "last_name": last,
                    "company": company.name,
                    "title": title,
                    "industry": company.industry,
                    "country": company.country,
                    "employees": company.employees,
                    "annual_revenue": company.annual_revenue,
                    "lead_source": source,
                    "owner": company.owner,
                    "created_at": _iso(created),
                    "attributes": attributes,
                }
            )
        return rows

    def _plan(self, j: Journey) -> None:
        """Where the lead gets in the funnel: awareness, consideration, decision, and when it stops."""
        rng, now = self.rng, self.now
        e = j.propensity
        student = j.title_group == "student"
        t = j.created_at + DAY * rng.expovariate(1 / 20)
        if t < now and rng.random() < 0.03 + 0.5 * e:
            j.considered_at = t
            t2 = t + DAY * rng.expovariate(1 / 18)
            if t2 < now and not student and rng.random() < 0.05 + 0.5 * e:
                j.decided_at = t2
        last_stage = j.decided_at or j.considered_at or j.created_at
        j.active_until = min(now, last_stage + DAY * rng.expovariate(1 / (10 + 30 * e)))
        j.careers = rng.random() < (0.3 if student else 0.04)
        if rng.random() < 0.04 + 0.10 * (1 - e):
            j.unsubscribed_at = j.created_at + (now - j.created_at) * rng.uniform(0.1, 1.0)
        if rng.random() < 0.06:
            surge = now - DAY * rng.uniform(0.5, 10)
            if surge > j.created_at:
                j.surge_at = surge
        j.open_rate = 0.0 if rng.random() < 0.12 else _clamp(0.04 + 0.55 * e + rng.gauss(0, 0.08), 0.0, 0.85)
        if j.plan != "none" and rng.random() < 0.7:
            j.usage = rng.choices(("steady", "declining", "expanding"), weights=(50, 30, 20))[0]

    # -- events ------------------------------------------------------------------------------------

    def events(self) -> Iterator[dict]:
        """Event rows, lead by lead; ids are unique per lead (E-<lead>-<n>, in time order)."""
        for j in self.journeys:
            raw = self._journey_events(j)
            raw.sort(key=lambda item: item[0])
            for n, (at, kind, props) in enumerate(raw, start=1):
                yield {
                    "id": f"E-{j.number:06d}-{n:04d}",
                    "lead": j.external_id,
                    "kind": kind,
                    "occurred_at": _iso(at),
                    "properties": props,
                }

    def _between(self, lo: datetime, hi: datetime) -> datetime:
        """A moment in [lo, hi], mostly in office hours when that keeps it inside the interval."""
        rng = self.rng
        hi = min(hi, self.now)
        if hi <= lo:
            return lo
        at = lo + (hi - lo) * rng.random()
        if rng.random() < 0.8:
            moved = at.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59), second=rng.randint(0, 59))
            if lo <= moved <= hi:
                at = moved
        return at.replace(microsecond=0)

    def _journey_events(self, j: Journey) -> list[tuple[datetime, str, dict]]:
        log = _JourneyLog(j.created_at, self.now)
        active_until = j.active_until or j.created_at
        self._first_touch(j, log)
        self._awareness(j, log, active_until)
        if j.considered_at:
            self._consideration(j, log, active_until)
        if j.decided_at:
            self._decision(j, log, active_until)
        self._newsletter(j, log, active_until)
        if j.careers:
            # Job seekers and students look at the careers page.
            for _ in range(self.rng.randint(1, 3)):
                log.page(
                    self._between(j.created_at, self.now),
                    self.rng.choice(("/careers", "/careers/software-engineer", "/careers/account-executive")),
                )
        if j.surge_at:
            self._surge(j, log)
        if j.usage:
            self._product_events(j, log.add)
        return log.out

    def _first_touch(self, j: Journey, log: _JourneyLog) -> None:
        """How the lead came in, by lead source."""
        rng, t0 = self.rng, j.created_at
        form = FIRST_TOUCH_FORMS[j.source]
        if j.source == "organic":
            log.page(t0, f"/blog/{rng.choice(BLOG_POSTS)}", referrer="google")
        elif j.source == "paid":
            log.page(t0, "/lp/lead-scoring-guide", utm_source=rng.choice(("google", "linkedin", "capterra")))
        if j.source == "trade_show":
            log.add(t0, "form_submit", form=form, event=rng.choice(TRADE_SHOWS))
        else:
            log.add(t0, "form_submit", form=form)
        if j.source == "webinar":
            upcoming = [w for w in self.webinars if w >= t0]
            if upcoming and rng.random() < 0.5:
                log.add(upcoming[0], "webinar_attended", webinar=rng.choice(PROSPECT_WEBINARS), audience="prospects")

    def _awareness(self, j: Journey, log: _JourneyLog, active_until: datetime) -> None:
        """Blog reading and social engagement while the lead is active, and a rare return visit later."""
        rng, e, t0 = self.rng, j.propensity, j.created_at
        weeks = (active_until - t0) / timedelta(weeks=1)
        for _ in range(_poisson(rng, weeks * (0.08 + 0.5 * e))):
            log.page(self._between(t0, active_until), f"/blog/{rng.choice(BLOG_POSTS)}")
        for _ in range(_poisson(rng, weeks * (0.02 + 0.2 * e))):
            log.add(
                self._between(t0, active_until),
                "social_engagement",
                network=rng.choice(SOCIAL),
                action=rng.choice(SOCIAL_ACTIONS),
            )
        for _ in range(_poisson(rng, weeks * 0.25)):
            log.page(self._between(t0, active_until), rng.choice(SITE_PAGES))
        for _ in range(_poisson(rng, (self.now - t0) / timedelta(weeks=1) * (0.03 + 0.1 * e))):
            at = self._between(t0, self.now)
            log.page(at, f"/blog/{rng.choice(BLOG_POSTS)}" if rng.random() < 0.6 else rng.choice(SITE_PAGES))

    def _consideration(self, j: Journey, log: _JourneyLog, active_until: datetime) -> None:
        """Content, webinars, pricing."""
        rng, e = self.rng, j.propensity
        t1, t1_end = j.considered_at, max(j.considered_at, min(active_until, j.decided_at or active_until))
        for _ in range(1 + _poisson(rng, 1.2 * e)):
            log.add(self._between(t1, t1_end + 3 * DAY), "content_download", asset=rng.choice(ASSETS))
        for w in self.webinars:
            if t1 <= w <= active_until and rng.random() < 0.1 + 0.25 * e:
                log.add(
                    w + timedelta(minutes=rng.randint(0, 20)),
                    "webinar_attended",
                    webinar=rng.choice(PROSPECT_WEBINARS),
                    audience="prospects",
                )
        for _ in range(1 + _poisson(rng, 1.5 * e)):
            log.page(self._between(t1, active_until), "/pricing")
        for _ in range(_poisson(rng, 1.5)):
            log.page(self._between(t1, active_until), rng.choice(SITE_PAGES))

    def _decision(self, j: Journey, log: _JourneyLog, active_until: datetime) -> None:
        """A demo request or a contact-sales form, usually after a last look at pricing."""
        rng, t2 = self.rng, j.decided_at
        if rng.random() < 0.7:
            log.page(t2 - timedelta(minutes=rng.randint(2, 90)), "/pricing")
        if rng.random() < 0.72:
            log.add(t2, "demo_request", form="demo-request", product=rng.choice(PRODUCT_INTERESTS))
        else:
            log.add(
                t2,
                "contact_sales",
                form="contact-sales",
                topic=rng.choice(("pricing", "security review", "procurement")),
            )
        for _ in range(_poisson(rng, 2)):
            log.page(
                self._between(t2, active_until + 7 * DAY),
                rng.choice(("/docs/getting-started", "/security", "/customers", "/pricing")),
            )

    def _newsletter(self, j: Journey, log: _JourneyLog, active_until: datetime) -> None:
        """The newsletter every other week (by lead), until an unsubscribe; opens carry the send's
        message_id, clicks follow some opens. Many sends are never opened."""
        rng = self.rng
        stop = j.unsubscribed_at or self.now
        for idx, sent in enumerate(self.newsletters):
            if sent < j.created_at or sent > stop or (idx + j.number) % 2:
                continue
            sent = sent + timedelta(seconds=rng.randint(0, 1800))
            campaign = f"newsletter-{sent:%Y-%m-%d}"
            message_id = f"{campaign}.{j.external_id}"
            log.add(sent, "email_sent", message_id=message_id, campaign=campaign)
            rate = j.open_rate if sent <= active_until else j.open_rate * 0.35
            if j.surge_at and sent >= j.surge_at - 3 * DAY:
                rate = max(rate, 0.6)
            if rng.random() < rate:
                opened = sent + timedelta(minutes=int(rng.expovariate(1 / 600)))
                log.add(opened, "email_open", message_id=message_id, campaign=campaign)
                if rng.random() < 0.12 + 0.35 * j.propensity:
                    target = "/pricing" if j.considered_at and rng.random() < 0.3 else f"/blog/{rng.choice(BLOG_POSTS)}"
                    log.add(
                        opened + timedelta(seconds=rng.randint(5, 300)),
                        "email_click",
                        message_id=message_id,
                        campaign=campaign,
                        url=target,
                    )
        if j.unsubscribed_at:
            log.add(j.unsubscribed_at, "unsubscribe", list="newsletter")

    def _surge(self, j: Journey, log: _JourneyLog) -> None:
        """A recent surge: someone picks the topic up again (or a buying committee forms)."""
        rng, s = self.rng, j.surge_at
        for _ in range(rng.randint(3, 9)):
            kind = rng.choices(("pricing", "blog", "page", "download"), weights=(3, 3, 2, 1))[0]
            at = self._between(s, s + 4 * DAY)
            if kind == "pricing":
                log.page(at, "/pricing")
            elif kind == "blog":
                log.page(at, f"/blog/{rng.choice(BLOG_POSTS)}")
            elif kind == "page":
                log.page(at, rng.choice(SITE_PAGES))
            else:
                log.add(at, "content_download", asset=rng.choice(ASSETS))
        if rng.random() < 0.3:
            log.add(self._between(s, s + 4 * DAY), rng.choice(("demo_request", "contact_sales")), form="surge")

    def _product_events(self, j: Journey, add: Callable) -> None:
        """Product usage of a lead whose company has an account (the upsell model reads these)."""
        rng, now = self.rng, self.now
        t0 = j.created_at
        end = now
        if j.usage == "declining":
            end = t0 + (now - t0) * rng.uniform(0.2, 0.9)
        rate = rng.uniform(0.5, 4.0)  # sessions a week
        weeks = (end - t0) / timedelta(weeks=1)
        for _ in range(_poisson(rng, weeks * rate)):
            at = self._between(t0, end)
            feature = rng.choice(PREMIUM_FEATURES) if rng.random() < 0.05 else rng.choice(FEATURES)
            add(at, "feature_used", feature=feature)
        for _ in range(_poisson(rng, weeks * 0.03)):
            priority = rng.choices(("low", "normal", "urgent"), weights=(40, 45, 15))[0]
            add(self._between(t0, end), "support_ticket", priority=priority, ticket=f"T-{rng.randint(10000, 99999)}")
        for w in self.customer_webinars:
            if t0 <= w <= end and rng.random() < 0.08:
                add(
                    w + timedelta(minutes=rng.randint(0, 15)),
                    "webinar_attended",
                    webinar=rng.choice(CUSTOMER_WEBINARS),
                    audience="customers",
                )
        if j.usage == "expanding":
            lo = max(t0, now - 45 * DAY)
            for _ in range(rng.randint(2, 6)):
                add(self._between(lo, now), "feature_used", feature=rng.choice(PREMIUM_FEATURES))
            for _ in range(rng.randint(0, 3)):
                add(self._between(lo, now), "seat_limit_reached", seats=j.seats or 1, limit=j.seats or 1)
            for _ in range(rng.randint(1, 3)):
                add(self._between(lo, now), "pricing_view", url="/app/billing/plans", plan=j.plan)
            if rng.random() < 0.25:
                add(self._between(lo, now), "contact_sales", form="upgrade", topic="upgrade")
        elif j.usage == "steady" and rng.random() < 0.15:
            add(self._between(t0, end), "pricing_view", url="/app/billing/plans", plan=j.plan)


def _ascii(name: str) -> str:
    table = str.maketrans({"é": "e", "è": "e", "ü": "u", "ö": "o", "ä": "a", "á": "a", "í": "i", "'": ""})
    return re.sub(r"[^a-z]", "", name.lower().translate(table))


# --- lifecycle backfill -------------------------------------------------------------------------------


class _Scorer:
    """The single-lead engine at past instants, to find when a lead first crossed its MQL line.

    Scoring at every event would be slow, so only the moments of events that can lift a score
    by 10 points or more are probed, and only where an upper bound reaches the line: fit plus
    each positive criterion's points times its matching events in the lookback (at most what
    its cap lets count), ignoring decay, half-life and negative criteria, which only lower it.
    """

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.positive = [c for c in spec.engagement_criteria if c.points > 0]
        self.limits = []
        for c in self.positive:
            if c.cap is None:
                limit = math.inf
            elif c.cap_window_days is None:
                limit = c.cap
            elif spec.lookback_days:
                limit = c.cap * (spec.lookback_days // c.cap_window_days + 1)
            else:
                limit = math.inf
            self.limits.append(limit)

        self._memo: dict[tuple, bool] = {}

    def matches(self, index: int, event: EventData) -> bool:
        """Whether positive criterion `index` counts this event (memoised: few distinct property sets)."""
        c = self.positive[index]
        if event.kind not in c.events:
            return False
        if c.where is None:
            return True
        try:
            key = (index, tuple(sorted(event.properties.items())))
            hash(key)
        except TypeError:
            return holds(c.where, event.properties.get)
        if key not in self._memo:
            self._memo[key] = holds(c.where, event.properties.get)
        return self._memo[key]

    def lead(self, lead: LeadData, events: list[EventData]) -> "_LeadProbe":
        return _LeadProbe(self, lead, events)


class _LeadProbe:
    def __init__(self, scorer: _Scorer, lead: LeadData, events: list[EventData]):
        spec = scorer.spec
        self.scorer, self.spec, self.lead, self.events = scorer, spec, lead, events
        self.times = [e.occurred_at for e in events]
        self.fit = sum(c.points for c in spec.fit_criteria if holds(c.when, lead.get))
        self.segment = next(s for s in spec.segments if holds(s.when, lead.get))
        self.matches: list[list[datetime]] = [[] for _ in scorer.positive]
        triggers = set()
        for event in events:
            for i, c in enumerate(scorer.positive):
                if scorer.matches(i, event):
                    self.matches[i].append(event.occurred_at)
                    if c.points >= 10:
                        triggers.add(event.occurred_at)
        self.triggers = sorted(triggers)
        self._cache: dict[datetime, ScoreResult] = {}

    def may_be_mql(self, when: datetime) -> bool:
        horizon = when - timedelta(days=self.spec.lookback_days) if self.spec.lookback_days else None
        bound = self.fit
        for c, limit, times in zip(self.scorer.positive, self.scorer.limits, self.matches, strict=True):
            if times:
                count = bisect_right(times, when) - (bisect_left(times, horizon) if horizon else 0)
                bound += c.points * min(count, limit)
        return bound >= self.segment.mql

    def at(self, when: datetime) -> ScoreResult:
        if when not in self._cache:
            self._cache[when] = score_lead(self.spec, self.lead, self.events[: bisect_right(self.times, when)], when)
        return self._cache[when]

    def mql_at(self, when: datetime) -> bool:
        return self.may_be_mql(when) and self.at(when).mql

    def first_mql(self, now: datetime) -> datetime | None:
        for when in [*self.triggers, now]:
            if when <= now and self.mql_at(when):
                return when
        return None


def lifecycle_backfill(
    *, rng: random.Random, versions: list[ModelVersion], now: datetime, progress: Callable[[str], None]
) -> None:
    """Historic funnel rows for the demo: LeadStage and StageTransition, written with bulk_create.

    This is a backfill of the past, not a live decision: the lifecycle services record sales'
    decisions as they are taken, and the rescore (`leads_rescore`) records MQL crossings at its
    as_of. So it writes in bulk what the funnel would have recorded over the year, and runs
    after the score history (whose crossings, recorded at day granularity, it replaces) and
    before the rescore at `now`, which then finds these rows and leaves them be (it moves a lead
    to MQL only from the lead or recycled stage). For each lead and model:

    - MQL: the first instant at which the single-lead engine scores the lead as MQL (probing the
      moments of its high-value events, and `now`); a lead -> mql transition with that score,
      recorded by the system (no actor, as the rescore records it).
    - Then, unless it is still waiting (recent MQLs mostly are, a few old ones are stale), the
      owner accepts it (-> sql) or rejects it with a reason some hours or days later; acceptance
      is likelier with a better fit and a higher score. Some not-now rejections are recycled
      later (never one that is MQL again at `now`, which the rescore would move back to MQL).
    - Some referral / partner leads that never became MQL went straight to SQL.

    Every instant lies between the lead's created_at and `now`; sales actions are by the lead's
    owner. Leads are taken in external-id order and models in the order given, so one seeded
    generator gives the same rows every time.
    """
    scorers = {v.pk: _Scorer(version_spec(version=v)) for v in versions}
    ids = list(Lead.objects.order_by("external_id").values_list("id", flat=True))
    stages: list[LeadStage] = []
    transitions: list[StageTransition] = []
    for i in range(0, len(ids), LIFECYCLE_BATCH):
        chunk = ids[i : i + LIFECYCLE_BATCH]
        leads = {lead.pk: lead for lead in Lead.objects.filter(pk__in=chunk).select_related("owner")}
        events: dict[int, list[EventData]] = {pk: [] for pk in chunk}
        for pk, lead_id, xid, kind, at, props in (
            Event.objects.filter(lead_id__in=chunk)
            .order_by("lead_id", "occurred_at", "id")
            .values_list("id", "lead_id", "external_id", "kind", "occurred_at", "properties")
        ):
            events[lead_id].append(EventData(pk, xid, kind, at, props or {}))
        for pk in chunk:
            data = lead_data(lead=leads[pk])
            for version in versions:
                probe = scorers[version.pk].lead(data, events[pk])
                _lead_lifecycle(rng, probe, version, leads[pk], now, stages, transitions)
        progress(f"lifecycle: {min(i + LIFECYCLE_BATCH, len(ids))}/{len(ids)} leads")
    LeadStage.objects.bulk_create(stages, batch_size=1000)
    StageTransition.objects.bulk_create(transitions, batch_size=1000)


def _lead_lifecycle(rng, probe: _LeadProbe, version, lead, now, stages, transitions) -> None:
    spec = probe.spec
    model_id = version.scoring_model_id
    owner = lead.owner

    def move(frm: str, to: str, at: datetime, actor=None, reason="", text="") -> None:
        transitions.append(
            StageTransition(
                lead=lead,
                scoring_model_id=model_id,
                from_stage=frm,
                to_stage=to,
                score=probe.at(at).score,
                version=version,
                reason=reason,
                reason_text=text,
                actor=actor,
                occurred_at=at,
            )
        )

    def place(stage: str, at: datetime, **fields) -> LeadStage:
        row = LeadStage(lead=lead, scoring_model_id=model_id, stage=stage, changed_at=at, **fields)
        stages.append(row)
        return row

    mql_at = probe.first_mql(now)
    if mql_at is None:
        # Referrals and partner introductions are often qualified by a rep at once, never an MQL.
        if lead.lead_source in ("referral", "partner") and probe.fit > 0 and rng.random() < 0.12:
            at = (lead.created_at + HOUR * rng.uniform(2, 240)).replace(microsecond=0)
            if at <= now:
                move(Stage.LEAD, Stage.SQL, at, actor=owner)
                place(Stage.SQL, at, accepted_at=at, changed_by=owner)
        return

    mql = probe.at(mql_at)
    stage = place(Stage.MQL, mql_at, mql_at=mql_at, mql_score=mql.score, mql_version=version, mql_segment=mql.segment)
    move(Stage.LEAD, Stage.MQL, mql_at)

    recent = now - mql_at < 3 * DAY
    if rng.random() < (0.7 if recent else 0.06):
        return  # still waiting for the owner
    decided = (mql_at + HOUR * min(rng.lognormvariate(math.log(30), 1.0), 24 * 21)).replace(microsecond=0)
    if decided > now:
        return
    segment = probe.segment
    margin = float(mql.score) - segment.mql
    p_accept = 0.1 + 0.4 * _clamp(probe.fit / (spec.grade_fit[0] or 1), 0, 1)
    p_accept += 0.25 * _clamp(margin / max(segment.mql, 1), 0, 1)
    if rng.random() < p_accept:
        move(Stage.MQL, Stage.SQL, decided, actor=owner)
        stage.stage, stage.accepted_at, stage.changed_by, stage.changed_at = Stage.SQL, decided, owner, decided
        return

    budget = bool((lead.attributes or {}).get("budget_confirmed"))
    weights = {
        RejectReason.NOT_READY: 2.5 if float(mql.engagement) < spec.grade_engagement[1] else 1.2,
        RejectReason.WRONG_FIT: 3.0 if probe.fit < spec.grade_fit[1] else 0.5,
        RejectReason.NO_BUDGET: 0.2 if budget else 1.8,
        RejectReason.DUPLICATE: 0.3,
        RejectReason.OTHER: 0.7,
    }
    reason = _weighted(rng, weights)
    text = rng.choice(REJECT_TEXTS[reason]) if reason == RejectReason.OTHER or rng.random() < 0.3 else ""
    move(Stage.MQL, Stage.REJECTED, decided, actor=owner, reason=reason, text=text)
    stage.stage, stage.rejected_at, stage.reject_reason, stage.reject_text = Stage.REJECTED, decided, reason, text
    stage.changed_by, stage.changed_at = owner, decided

    # Not-now rejections go back to nurture after a while.
    if reason in (RejectReason.NOT_READY, RejectReason.NO_BUDGET) and rng.random() < 0.4:
        back = decided + DAY * rng.uniform(14, 120)
        if back <= now and not probe.mql_at(now):
            move(Stage.REJECTED, Stage.RECYCLED, back, actor=owner)
            stage.stage, stage.changed_by, stage.changed_at = Stage.RECYCLED, owner, back


def history_instants(*, now: datetime, days: int) -> list[datetime]:
    """The past instants of the demo's score history (HISTORY_DAYS_BACK), oldest first, none
    further back than `days`."""
    return [now - k * DAY for k in HISTORY_DAYS_BACK if k <= days]


def score_history_backfill(
    *, versions: list[ModelVersion], now: datetime, days: int, progress: Callable[[str], None]
) -> int:
    """The scores of the past weeks as the rescores would have written them (`history_instants`).

    Each version rescores every lead at each past instant, oldest first (`leads_rescore`, the
    real set-based path), so ScoreHistory gets a row wherever a score or tier changed since the
    instant before, exactly as the real rescore writes it, and the lead's score chart and "Since
    yesterday" show movement. The daily rescores of the last week reuse the counts stored the
    day before (`reuse=True`, as a job's chunks do).

    A lead created after an instant did not exist then: its score, breakdown and history row of
    that instant are deleted again (three set-based statements), so its history starts with its
    first score after it was created, as a new lead's does. (Scoring every lead and deleting a
    few is faster on SQLite than naming the ones that existed: a pk range or a list of ids takes
    the rescore's writes off the (lead, model) index, twice the time.)

    The rescore also records the MQL crossings it sees, at these instants; the funnel history is
    `lifecycle_backfill`'s, at the exact instants, so those rows are removed again at the end (no
    alert was sent for them: `alerts=False`). Returns the number of history rows written.
    """
    models = [v.scoring_model_id for v in versions]
    instants = history_instants(now=now, days=days)
    previous = None
    for done, as_of in enumerate(instants, start=1):
        # Counts stored a day before mostly still hold; a week before, too few do for the reuse
        # statements to cost less than counting every lead afresh (measured on SQLite).
        reuse = previous is not None and as_of - previous <= DAY
        previous = as_of
        for version in versions:
            leads_rescore(version=version, as_of=as_of, alerts=False, reuse=reuse)
        unborn = Lead.objects.filter(created_at__gt=as_of).values("id")
        ScoreHistory.objects.filter(scoring_model_id__in=models, as_of=as_of, lead_id__in=unborn).delete()
        ScoreBreakdown.objects.filter(score__scoring_model_id__in=models, score__lead_id__in=unborn).delete()
        _scores_delete(models=models, lead_ids=unborn)
        progress(f"score history: {done}/{len(instants)} past instants ({as_of:%Y-%m-%d})")
    LeadStage.objects.filter(scoring_model_id__in=models).delete()
    StageTransition.objects.filter(scoring_model_id__in=models).delete()
    return ScoreHistory.objects.filter(scoring_model_id__in=models).count()


def _scores_delete(*, models: list[int], lead_ids: QuerySet) -> None:
    """DELETE the scores of these models and leads in one statement (their breakdowns are gone
    already; QuerySet.delete() would read every row first to look for the breakdowns)."""
    ids, params = lead_ids.query.sql_with_params()
    marks = ", ".join(["%s"] * len(models))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Score._meta.db_table} WHERE scoring_model_id IN ({marks}) AND lead_id IN ({ids})",
            [*models, *params],
        )


def lifecycle_counts(*, versions: list[ModelVersion]) -> dict[str, LifecycleCounts]:
    """What the funnel holds now, per model (read back, so it counts what was really stored)."""
    out = {}
    for version in versions:
        rows = LeadStage.objects.filter(scoring_model_id=version.scoring_model_id)
        counts = LifecycleCounts(
            mqls=rows.filter(mql_at__isnull=False).count(),
            stages=Counter(dict(rows.values_list("stage").annotate(n=Count("id")).order_by())),
            direct_sql=rows.filter(mql_at__isnull=True, stage=Stage.SQL).count(),
            transitions=StageTransition.objects.filter(scoring_model_id=version.scoring_model_id).count(),
        )
        out[version.scoring_model.slug] = counts
    return out


# --- orchestration ------------------------------------------------------------------------------------


def demo_documents() -> list[dict]:
    return [json.loads((FIXTURES / name).read_text(encoding="utf-8")) for name in DEMO_MODELS]


def demo_models_ensure(*, user=None) -> list[ModelVersion]:
    """Import and publish each demo model, unless its live version already holds the same document."""
    versions = []
    for document in demo_documents():
        model = ScoringModel.objects.filter(slug=document["slug"]).first()
        live = version_live(scoring_model=model) if model else None
        if live is not None and live.document == document:
            versions.append(live)
            continue
        draft = model_import(data=document, user=user, note="demo workspace (seed_demo)")
        versions.append(model_version_publish(version=draft, user=user))
    return versions


# Example buyers of the scenario simulator, saved with the main demo model (matrix/workshop.py):
# the kinds and properties are those the generated journeys use, so the model reads them the same.
DEMO_SCENARIOS = json.loads((FIXTURES / "scenarios.json").read_text(encoding="utf-8"))


def demo_scenarios_ensure(*, scoring_model: ScoringModel, user=None) -> int:
    """Save the demo scenarios with the model, those not there yet (by name). Returns how many were added."""
    have = set(scoring_model.scenarios.values_list("name", flat=True))
    added = 0
    for scenario in DEMO_SCENARIOS:
        if scenario["name"] not in have:
            scenario_create(scoring_model=scoring_model, user=user, **json.loads(json.dumps(scenario)))
            added += 1
    return added


def seed_demo(
    *,
    leads: int,
    days: int,
    seed: int,
    now: datetime,
    user=None,
    chunk_size: int | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> SeedSummary:
    """Build the demo workspace (models, leads, events, lifecycle, scores) in one transaction.

    All or nothing: a failure leaves the database as it was. The publishes also queue their
    rescore jobs; scoring every lead here does their work, so they are recorded done (scored as
    of `now`) and a worker that receives their message finds nothing left to do.
    """
    rng = random.Random(seed)
    now = now.astimezone(UTC).replace(microsecond=0)
    chunk_size = chunk_size or settings.RESCORE_CHUNK_SIZE
    summary = SeedSummary()
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        summary.seconds[name] = time.monotonic() - clock
        clock = time.monotonic()

    with transaction.atomic():
        demo = demo_models_ensure(user=user)
        demo_scenarios_ensure(scoring_model=demo[0].scoring_model, user=user)
        summary.models = [f"{v.scoring_model.slug} v{v.number}" for v in demo]
        progress(f"models: {', '.join(summary.models)} published")
        lap("models")

        gen = DemoGenerator(rng=rng, now=now, leads=leads, days=days)
        lead_rows = gen.leads()
        report = RowReport()
        for i in range(0, len(lead_rows), LEAD_BATCH):
            part = lead_rows[i : i + LEAD_BATCH]
            leads_import(rows=((i + n, row) for n, row in enumerate(part, start=1)), report=report)
            progress(f"leads: {report.accepted}/{len(lead_rows)}")
        summary.leads, summary.leads_rejected = report.accepted, len(report.rejected)
        lap("leads")

        report = RowReport()
        batch: list[tuple[int, dict]] = []
        for n, row in enumerate(gen.events(), start=1):
            batch.append((n, row))
            if len(batch) >= EVENT_BATCH:
                events_ingest(rows=batch, report=report)
                progress(f"events: {report.accepted}")
                batch = []
        if batch:
            events_ingest(rows=batch, report=report)
        progress(f"events: {report.accepted}")
        summary.events, summary.events_rejected = report.accepted, len(report.rejected)
        lap("events")

        summary.history = score_history_backfill(versions=demo, now=now, days=days, progress=progress)
        lap("history")

        # The funnel history next: the rescore below then finds each lead's funnel stage in place.
        lifecycle_backfill(rng=rng, versions=demo, now=now, progress=progress)
        lap("lifecycle")

        ranges = lead_ranges(chunk_size=chunk_size)
        total = sum(n for _, _, n in ranges)
        for version in versions_live():
            started, done = timezone.now(), 0
            for lo, hi, n in ranges:
                # First scores are not news to anyone: no alerts (the service sends none for them anyway).
                summary.scores += leads_rescore(version=version, as_of=now, id_range=(lo, hi), alerts=False)
                done += n
                progress(f"scores {version.scoring_model.slug} v{version.number}: {done}/{total}")
            # Its publish above queued a rescore job: every lead is scored now, so that job is done.
            rescore_jobs_done_inline(
                versions=[version], as_of=now, started_at=started, total_leads=total, chunks=len(ranges)
            )
        lap("scores")
        summary.lifecycle = lifecycle_counts(versions=demo)
    return summary
