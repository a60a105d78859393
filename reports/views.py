"""The manager reports' pages (docs/reports.md): a filter form, a chart and a table each, CSV export.

The views only read the form, call a selector of reports/selectors.py with the user asking (which
narrows a rep to their own leads) and lay the result out; `?format=csv` returns the table of the
page (`&table=` picks one where a page has two) with formula-looking cells escaped.
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from leads.selectors import user_sees_all_leads
from matrix.choices import VersionStatus
from matrix.models import ScoringModel
from matrix.selectors import version_live, version_spec_or_note
from reports import charts as charts_svg
from reports import selectors as reports
from scoring.selectors import segment_labels

VIEW_PERMISSION = "scoring.view_leadstage"
EDIT_PERMISSION = "matrix.edit_draft"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The report pages, name -> (label in the reports' menu, view), in the menu's order: filled by
# @report_page below and mounted by reports/urls.py.
PAGES: dict[str, tuple[str, Callable]] = {}


# --- forms ------------------------------------------------------------------------------------------


def _live_models():
    return ScoringModel.objects.filter(versions__status=VersionStatus.PUBLISHED).distinct().order_by("name")


class IsoDateField(forms.DateField):
    """A date typed and shown as YYYY-MM-DD, the one date format of the pages.

    Not `<input type="date">`: Chromium draws it in the browser's locale ("12/03/2026" for
    en-US) whatever the page's `lang` says, beside pages that write 2026-12-03. A text input
    with a pattern and a placeholder reads the same everywhere; the form checks the format.
    """

    def __init__(self, **kwargs):
        widget = forms.DateInput(
            format="%Y-%m-%d",
            attrs={
                "type": "text",
                "placeholder": "YYYY-MM-DD",
                "pattern": r"\d{4}-\d{2}-\d{2}",
                "title": "A date as YYYY-MM-DD, e.g. 2026-12-03",
                "inputmode": "numeric",
                "autocomplete": "off",
                "size": 10,
            },
        )
        super().__init__(
            required=False,
            input_formats=["%Y-%m-%d"],
            widget=widget,
            error_messages={"invalid": "Enter the date as YYYY-MM-DD, e.g. 2026-12-03."},
            **kwargs,
        )


class LiveModelForm(forms.Form):
    """A choice among the live models; the first by name when none is chosen."""

    model = forms.ModelChoiceField(queryset=ScoringModel.objects.none(), to_field_name="slug", required=False)

    def __init__(self, data, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.fields["model"].queryset = _live_models()
        self.fields["model"].empty_label = None

    def clean(self):
        data = super().clean()
        data["model"] = data.get("model") or self.fields["model"].queryset.first()
        return data


class ReportForm(LiveModelForm):
    """Model and period; every field has a default, so a page opened bare shows the last year."""

    start = IsoDateField(label="Start")
    end = IsoDateField(label="End")

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or (data["end"] - timedelta(days=364)).replace(day=1)
        if data["start"] > data["end"]:
            raise forms.ValidationError("The start date is after the end date.")
        if (data["end"] - data["start"]).days > 366 * 5:
            raise forms.ValidationError("Choose a period of at most five years.")
        return data


class MaturityField(forms.DecimalField):
    """The maturity window in days (empty: the model's default, see reports.maturity_window)."""

    def __init__(self, **kwargs):
        super().__init__(
            min_value=0,
            max_value=reports.MATURITY_MAX.days,
            max_digits=5,
            decimal_places=1,
            required=False,
            label="Maturity window (days)",
            help_text=(
                "MQLs younger than this are left out of rates. Empty: the 75th percentile of time to SQL "
                "(14 days with under 20 accepted MQLs)."
            ),
            widget=forms.NumberInput(attrs={"step": "0.5", "placeholder": "auto"}),
            **kwargs,
        )


class BandField(forms.IntegerField):
    """The width of a score band (empty: 10 points)."""

    def __init__(self, **kwargs):
        super().__init__(
            min_value=1,
            max_value=100,
            required=False,
            label="Band width",
            widget=forms.NumberInput(attrs={"placeholder": "10"}),
            **kwargs,
        )

    def clean(self, value):
        return super().clean(value) or 10


def _maturity(data: dict) -> reports.Maturity:
    days = data.get("mature")
    window = timedelta(days=float(days)) if days is not None else None
    return reports.maturity_window(scoring_model=data["model"], window=window)


class ConversionForm(ReportForm):
    grain = forms.ChoiceField(choices=[("month", "Month"), ("week", "Week")], required=False)
    mature = MaturityField()

    def clean(self):
        data = super().clean()
        data["grain"] = data.get("grain") or "month"
        return data


class BreakdownForm(ReportForm):
    dimension = forms.ChoiceField(choices=list(reports.DIMENSIONS.items()), required=False, label="By")
    attribute = forms.RegexField(
        regex=reports.ATTRIBUTE_KEY,
        required=False,
        label="Attribute key",
        help_text="For 'Lead attribute': a key of the lead's attributes.",
        error_messages={"invalid": "Letters, digits, '_', '.' or '-' only."},
    )
    mature = MaturityField()

    def clean(self):
        data = super().clean()
        data["dimension"] = data.get("dimension") or "segment"
        data["attribute"] = data.get("attribute") or reports.DEFAULT_ATTRIBUTE
        return data


class CalibrationForm(ReportForm):
    basis = forms.ChoiceField(
        choices=[("mql", "Score at MQL (MQLs of the period)"), ("current", "Current score (leads created)")],
        required=False,
    )
    band = BandField()
    target = forms.ChoiceField(choices=[("rate", "Conversion rate"), ("volume", "MQL volume")], required=False)
    rate = forms.DecimalField(
        min_value=0,
        max_value=100,
        required=False,
        label="Target rate (%)",
        widget=forms.NumberInput(attrs={"placeholder": "30"}),
    )
    volume = forms.IntegerField(min_value=0, required=False, label="Target MQLs per segment")
    min_n = forms.IntegerField(
        min_value=1,
        required=False,
        label="Fewest MQLs",
        widget=forms.NumberInput(attrs={"placeholder": str(reports.SMALL_SAMPLE)}),
    )
    mature = MaturityField()

    def clean(self):
        data = super().clean()
        data["basis"] = data.get("basis") or "mql"
        data["target"] = data.get("target") or "rate"
        data["rate"] = data["rate"] if data.get("rate") is not None else Decimal(30)
        data["min_n"] = data.get("min_n") or reports.SMALL_SAMPLE
        if data["target"] == "volume" and data.get("volume") is None:
            self.add_error("volume", "Give the MQL volume to aim for.")
        return data


class DistributionForm(LiveModelForm):
    band = BandField()


class DraftForm(forms.Form):
    model = forms.SlugField()
    segment = forms.CharField(max_length=100)
    threshold = forms.DecimalField(max_digits=12, decimal_places=2)
    # The open draft's revision the page showed (empty when it offered a new draft).
    revision = forms.IntegerField(required=False, min_value=1)
    back = forms.CharField(required=False, max_length=2000)


# --- tables and CSV ---------------------------------------------------------------------------------


def pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def hours(value) -> str:
    # Always hours: these columns and the chart say "(h)", and a column mixing "3.2 d" with
    # "67.2 h" cannot be compared at a glance.
    if value is None:
        return "—"
    return f"{value:,.1f} h"


def num(value) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclass
class Column:
    header: str
    value: Callable
    fmt: Callable = num
    numeric: bool = True
    wide: bool = False  # a sentence (a note): kept readable instead of squeezed to a word a line
    # What the CSV holds when it differs from what the page shows: a segment's key (stable, as in
    # the API and export_scores) where the page shows its label.
    export: Callable | None = None


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list
    caption: str = ""

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    def cells(self) -> list[list[tuple[str, str]]]:
        """Each row's cells as (text, CSS class)."""
        kinds = ["num" if c.numeric else "wide" if c.wide else "" for c in self.columns]
        return [[(c.fmt(c.value(row)), kind) for c, kind in zip(self.columns, kinds, strict=True)] for row in self.rows]

    def raw(self) -> list[list]:
        out = []
        for row in self.rows:
            values = []
            for c in self.columns:
                v = (c.export or c.value)(row)
                values.append(round(v, 4) if isinstance(v, float) else v)
            out.append(values)
        return out


def csv_cell(value):
    """A cell as written to CSV: text that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(table: Table, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerow([csv_cell(h) for h in table.header])
    for row in table.raw():
        writer.writerow([csv_cell(v) for v in row])
    return response


def _csv_or_page(request, template: str, context: dict, tables: list[Table], stem: str):
    if request.GET.get("format") == "csv" and tables:
        wanted = request.GET.get("table") or tables[0].name
        table = next((t for t in tables if t.name == wanted), tables[0])
        return csv_response(table, f"{stem}-{table.name}")
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    menu = [(name, label) for name, (label, _) in PAGES.items()]
    context.update(tables=tables, query=query.urlencode(), reports=menu)
    return render(request, template, context)


def _live_unreadable(context: dict, scoring_model) -> bool:
    """True (and the note in `context["unreadable"]`) when the live version's stored rules no longer
    validate: the calibration and the distribution need its thresholds, so they are not drawn
    (docs/scoring.md, "When scoring fails"); the other reports read only stored figures."""
    version = version_live(scoring_model=scoring_model)
    note = version_spec_or_note(version=version)[1] if version else None
    if note:
        context["unreadable"] = f"{scoring_model.name} version {version.number}: {note}"
    return bool(note)


def _scope(user) -> str:
    return "all owners" if user_sees_all_leads(user=user) else "your own leads"


def _funnel_columns(first: str, mark_young: bool = False, export: Callable | None = None) -> list[Column]:
    def label(row) -> str:
        return f"{row.label} (not yet mature)" if mark_young and row.key is not None and not row.matured else row.label

    return [
        Column(first, label, str, numeric=False, export=export),
        Column("Leads", lambda r: r.leads),
        Column("MQLs (n)", lambda r: r.mqls),
        Column("Accepted", lambda r: r.accepted),
        Column("Rejected", lambda r: r.rejected),
        Column("Pending", lambda r: r.pending),
        Column("Too recent", lambda r: r.immature),
        Column("Direct SQLs", lambda r: r.direct_sqls),
        Column("SQLs", lambda r: r.sqls),
        Column("MQL→SQL rate", lambda r: r.rate, pct),
        Column("Median time to SQL (h)", lambda r: r.median_hours, hours),
        Column("75th pct time to SQL (h)", lambda r: r.p75_hours, hours),
    ]


def _per_segment(name: str, item: str, pairs: list[tuple], columns: list[Column]) -> Table:
    """A table a row per segment and one of its items (a rejection reason, a score band): the
    segment (its key in the CSV), the item, then `columns` of each (segment, item) pair."""
    return Table(
        name,
        [
            Column("Segment", lambda x: x[0].label, str, numeric=False, export=lambda x: x[0].key),
            Column(item, lambda x: x[1].label, str, numeric=False),
            *columns,
        ],
        pairs,
        f"Per segment and {item.lower()}",
    )


def _outcome_columns(name: str, outcome: Callable) -> list[Column]:
    """The columns of an MQL threshold and what it gives (`outcome(segment)`, None: no such threshold)."""

    def part(attribute: str) -> Callable:
        return lambda s: getattr(outcome(s), attribute, None)

    return [
        Column(f"{name} threshold", part("threshold")),
        Column(f"{name} MQLs", part("mqls")),
        Column(f"{name} SQLs", part("sqls")),
        Column(f"{name} rate", part("rate"), pct),
    ]


def _period(request, data: dict) -> dict:
    """What every report over a period is asked for: by whom (a rep sees their own leads), the model
    and the period."""
    return {"user": request.user, "scoring_model": data["model"], "start": data["start"], "end": data["end"]}


def _rate_chart(title: str, bars: list[tuple[str, float | None]], *, empty: str, y_label: str = "rate"):
    """A bar a group (label, rate), on a 0 to 100 % axis."""
    return charts_svg.bar_chart(
        title=title,
        labels=[label for label, _ in bars],
        series=[("rate", [rate for _, rate in bars])],
        fmt=charts_svg.percent,
        y_max=1.0,
        y_label=y_label,
        empty=empty,
    )


def report_page(name: str, label: str, form_class: type[forms.Form], *, needs_rules: bool = False):
    """The frame of every report page, around `build(request, data, context) -> tables`; the page
    joins PAGES as `name`, shown as `label` in the menu.

    It reads `form_class` from the query and calls `build` only when the form is valid, a model
    is live and, for a report that `needs_rules`, the live version's rules still validate; `build`
    adds what the page shows to `context` and returns its tables. The page is
    templates/reports/<name>.html, or with `?format=csv` one of the tables.
    """

    def decorate(build: Callable[[HttpRequest, dict, dict], list[Table]]):
        @require_GET
        @permission_required(VIEW_PERMISSION, raise_exception=True)
        @wraps(build)
        def page(request):
            form = form_class(request.GET)
            context = {
                "form": form,
                "scope": _scope(request.user),
                "no_model": not _live_models().exists(),
                "active": name,
                "report_title": label,
            }
            tables = []
            model = form.cleaned_data["model"] if form.is_valid() else None
            if model and not (needs_rules and _live_unreadable(context, model)):
                tables = build(request, form.cleaned_data, context)
            return _csv_or_page(request, f"reports/{name}.html", context, tables, name)

        PAGES[name] = (label, page)
        return page

    return decorate


# --- pages ------------------------------------------------------------------------------------------


@require_GET
@permission_required(VIEW_PERMISSION, raise_exception=True)
def index(request):
    return redirect("reports:conversion")


@report_page("conversion", "Conversion", ConversionForm)
def conversion(request, data: dict, context: dict) -> list[Table]:
    maturity = _maturity(data)
    report = reports.conversion_report(
        **_period(request, data),
        grain=data["grain"],
        maturity=maturity,
    )
    labels = [f"{p.key:%d %b}" if report.grain == "week" else p.label for p in report.periods]
    shaded = [not p.matured for p in report.periods]

    def charted(period, value):
        # A period that is not yet mature is drawn only when its rate rests on a fair number
        # of mature MQLs: a handful just past the window, none accepted yet, would plot the
        # very 0 % drop the maturity window exists to avoid. The table still lists it.
        return value if period.matured or period.mature >= reports.SMALL_SAMPLE else None

    context.update(
        maturity=maturity,
        young=report.totals.immature,
        report=report,
        headline={
            "rate": pct(report.totals.rate),
            "median": hours(report.totals.median_hours),
            "p75": hours(report.totals.p75_hours),
        },
        volume_chart=charts_svg.bar_chart(
            title="MQLs and SQLs per period (by MQL date; direct SQLs by their date)",
            labels=labels,
            series=[("MQLs", [p.mqls for p in report.periods]), ("SQLs", [p.sqls for p in report.periods])],
            y_label="leads",
            shaded=shaded,
        ),
        rate_chart=charts_svg.line_chart(
            title="MQL→SQL conversion rate per MQL cohort (mature MQLs only)",
            labels=labels,
            series=[("rate", [charted(p, p.rate) for p in report.periods])],
            fmt=charts_svg.percent,
            y_max=1.0,
            y_label="rate",
            empty="No MQL of this period is old enough to count yet.",
            shaded=shaded,
        ),
        time_chart=charts_svg.line_chart(
            title="Time from MQL to SQL (hours)",
            labels=labels,
            series=[
                ("median", [charted(p, p.median_hours) for p in report.periods]),
                ("75th percentile", [charted(p, p.p75_hours) for p in report.periods]),
            ],
            y_label="hours",
            empty="No mature MQL was accepted in this period.",
            shaded=shaded,
        ),
    )
    return [
        Table(
            "periods",
            _funnel_columns("Period", mark_young=True),
            [*report.periods, report.totals],
            "Per period, then all",
        ),
    ]


@report_page("breakdown", "Breakdowns", BreakdownForm)
def breakdown(request, data: dict, context: dict) -> list[Table]:
    report = reports.conversion_breakdown(
        **_period(request, data),
        dimension=data["dimension"],
        attribute=data["attribute"],
        maturity=(maturity := _maturity(data)),
    )
    shown = report.rows[:20]
    context.update(
        report=report,
        maturity=maturity,
        young=sum(r.immature for r in report.rows),
        small_sample=reports.SMALL_SAMPLE,
        chart=_rate_chart(
            f"MQL→SQL rate by {report.title} (n = MQLs; top {len(shown)} by volume)",
            [(f"{r.label} (n={num(r.mqls)})", r.rate) for r in shown],
            empty="No MQLs in this period.",
        ),
    )
    # A segment's key in the CSV, its label on the page; other groups are what is stored.
    columns = _funnel_columns(report.title, export=lambda r: r.key)
    rate_at = next(i for i, c in enumerate(columns) if c.header == "MQL→SQL rate")
    columns.insert(rate_at + 1, Column("Small sample", lambda r: "yes" if r.small_sample else "", str, numeric=False))
    return [Table("groups", columns, report.rows, f"By {report.title}, most MQLs first")]


@report_page("rejections", "Rejection reasons", ReportForm)
def rejections(request, data: dict, context: dict) -> list[Table]:
    report = reports.rejection_reasons(**_period(request, data))
    names = [label for _, label in reports.RejectReason.choices]
    rows = [(s.label, [r.count for r in s.reasons[: len(names)]]) for s in [*report.segments, report.total]]
    context.update(
        report=report,
        chart=charts_svg.stacked_shares(
            title="Rejection reasons: share of each segment's rejections",
            names=names,
            rows=rows,
            empty="No MQL of this period was rejected.",
        ),
    )
    return [
        _per_segment(
            "reasons",
            "Reason",
            [(s, r) for s in [*report.segments, report.total] for r in s.reasons],
            [
                Column("Rejections", lambda x: x[1].count),
                Column("Share of segment's rejections", lambda x: x[1].share, pct),
                Column("Segment rejections", lambda x: x[0].rejected),
                Column("Segment MQLs (n)", lambda x: x[0].mqls),
            ],
        )
    ]


@report_page("calibration", "Threshold calibration", CalibrationForm, needs_rules=True)
def calibration(request, data: dict, context: dict) -> list[Table]:
    context["can_draft"] = reports.calibration_may_propose(request.user)
    target_value = float(data["rate"]) / 100 if data["target"] == "rate" else float(data["volume"])
    report = reports.calibration_report(
        **_period(request, data),
        basis=data["basis"],
        band_width=data["band"],
        target=data["target"],
        target_value=target_value,
        min_n=data["min_n"],
        maturity=(maturity := _maturity(data)),
    )
    basis = "score at MQL" if report.basis == "mql" else "current score"
    charts = [
        (
            s,
            _rate_chart(
                f"{s.label}: SQL rate by score band ({basis})",
                [(f"{b.label} (n={num(b.n)})", b.rate) for b in s.bands],
                y_label="SQL rate",
                empty="No leads in this segment for the period.",
            ),
        )
        for s in report.segments
    ]
    target_text = pct(target_value) if data["target"] == "rate" else num(int(target_value))
    context.update(
        report=report,
        charts=charts,
        target_text=target_text,
        maturity=maturity,
        young=report.young,
        open_draft=reports.calibration_open_draft(scoring_model=data["model"]) if context["can_draft"] else None,
    )
    return [
        Table(
            "suggestions",
            [
                Column("Segment", lambda s: s.label, str, numeric=False, export=lambda s: s.key),
                *_outcome_columns("Current", lambda s: s.current),
                *_outcome_columns("Suggested", lambda s: s.suggested),
                Column("Note", lambda s: s.note, str, numeric=False, wide=True),
            ],
            report.segments,
            "Per segment: the current MQL threshold and the suggestion",
        ),
        _per_segment(
            "bands",
            "Score band",
            [(s, b) for s in report.segments for b in s.bands],
            [
                Column("Leads (n)", lambda x: x[1].n),
                Column("SQLs", lambda x: x[1].sqls),
                Column("SQL rate", lambda x: x[1].rate, pct),
            ],
        ),
    ]


def _draft_link(user, draft) -> str:
    """Where the confirmation leads: the draft editor for editors, the version's page for others."""
    slug = draft.scoring_model.slug
    if user.has_perm(EDIT_PERMISSION):
        return reverse("matrix:draft", args=[slug])
    return f"{reverse('matrix:detail', args=[slug])}?version={draft.number}"


@require_POST
@permission_required(VIEW_PERMISSION, raise_exception=True)
def calibration_draft(request):
    """Put a suggested threshold into the open draft (or a new one); editors and sales managers."""
    if not reports.calibration_may_propose(request.user):
        raise PermissionDenied("only editors and sales managers may propose a threshold")
    form = DraftForm(request.POST)
    back = reverse("reports:calibration")
    if not form.is_valid():
        messages.error(request, "The suggestion could not be read; nothing was created.")
        return redirect(back)
    data = form.cleaned_data
    # Rebuilt from its parameters, so `back` can only ever lead to the calibration page.
    query = QueryDict(data["back"] or "").urlencode()
    back = f"{back}?{query}" if query else back
    scoring_model = get_object_or_404(ScoringModel, slug=data["model"])
    try:
        done = reports.calibration_draft_create(
            scoring_model=scoring_model,
            segment=data["segment"],
            threshold=data["threshold"],
            user=request.user,
            revision=data["revision"],
        )
    except reports.CalibrationError as exc:
        messages.error(request, f"No draft changed: {exc}.")
        return redirect(back)
    draft, threshold = done.draft, num(data["threshold"])
    segment = segment_labels(scoring_model=scoring_model).get(data["segment"], data["segment"])
    if done.created:
        what = format_html("Draft v{} of {} created: {}.", draft.number, scoring_model.name, draft.note)
    elif done.changed:
        what = format_html(
            "Open draft v{} of {} now has MQL threshold {} for segment {} (was {}).",
            draft.number,
            scoring_model.name,
            threshold,
            segment,
            num(done.old),
        )
    else:
        what = format_html(
            "Open draft v{} of {} already has MQL threshold {} for segment {}: nothing changed.",
            draft.number,
            scoring_model.name,
            threshold,
            segment,
        )
    sign = "" if not done.changed else " Both editors (marketing and sales) must approve it before it is published."
    messages.success(
        request,
        format_html('{}{} <a href="{}">Open draft v{}</a>', what, sign, _draft_link(request.user, draft), draft.number),
    )
    return redirect(back)


@report_page("distribution", "Score distribution", DistributionForm, needs_rules=True)
def distribution(request, data: dict, context: dict) -> list[Table]:
    report = reports.score_distribution(user=request.user, scoring_model=data["model"], band_width=data["band"])
    charts = []
    for s in report.segments:
        markers = [(float(v), name.upper() if name == "mql" else name, name) for name, v in s.thresholds.items()]
        charts.append(
            (
                s,
                charts_svg.histogram(
                    # Short enough for the chart's width; the markers name the thresholds.
                    title=f"{s.label}: current scores (n={num(s.n)})",
                    bands=[(b.start, b.width, b.n) for b in s.bands],
                    markers=markers,
                    empty="No lead of this segment is scored.",
                ),
            )
        )
    context.update(report=report, charts=charts)
    return [
        _per_segment(
            "bands",
            "Score band",
            [(s, b) for s in report.segments for b in s.bands],
            [
                Column("Leads", lambda x: x[1].n),
                Column("Warm", lambda x: x[0].thresholds.get("warm")),
                Column("Hot", lambda x: x[0].thresholds.get("hot")),
                Column("MQL", lambda x: x[0].thresholds.get("mql")),
            ],
        )
    ]
