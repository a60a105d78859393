"""The project's table base (NetBox's BaseTable): pagination, column sets and safe exports.

Every list page's table subclasses `BaseTable` and declares, NetBox-style, in its `Meta`:

- `fields`: every column the table can show, in display order (exports carry all of them);
- `default_columns`: the columns shown on the page unless the request asks for others.

`BaseTable.configure(request)` applies the request's sorting and pagination (page size from
`PER_PAGE_CHOICES`), and `export_response(fmt, filename)` answers a CSV or XLSX download built
by django-tables2's TableExport, with every text cell that a spreadsheet would run as a formula
escaped (see `escape_formula`).
"""

from datetime import UTC, datetime

import django_tables2 as tables
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import QuerySet
from django.http import HttpResponse
from django_tables2 import RequestConfig
from django_tables2.export import TableExport
from tablib import Dataset

PER_PAGE_CHOICES = (25, 50, 100, 250)
DEFAULT_PER_PAGE = 50
EXPORT_FORMATS = (TableExport.CSV, TableExport.XLSX)
# An export is built in memory; past this many rows we ask the user to narrow the filters.
EXPORT_MAX_ROWS = 100_000
# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): = + - @, and tab or
# carriage return, which some spreadsheets skip before looking at the next character.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportTooLarge(ValueError):
    """The rows asked for exceed EXPORT_MAX_ROWS."""


def escape_formula(value):
    """Text that a spreadsheet would evaluate gets a leading apostrophe, so it stays text.

    Numbers are left as numbers: a number is never a formula, and a negative change of score
    must stay sortable in the spreadsheet.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_cell(value):
    """One exported cell: datetimes in UTC without offset (XLSX cannot store one), text escaped."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.replace(microsecond=0)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return escape_formula(value)


class SafeTableExport(TableExport):
    """TableExport (tablib; XLSX through openpyxl) whose every header and cell is escaped."""

    def table_to_dataset(self, table, exclude_columns, dataset_kwargs=None):
        dataset = Dataset(**(dataset_kwargs or {}))
        for i, row in enumerate(table.as_values(exclude_columns=exclude_columns)):
            # An empty cell shows the table's default ("—") on the page, and nothing in a file.
            cells = ["" if i and value == table.default else export_cell(value) for value in row]
            if i == 0:
                dataset.headers = cells
            else:
                dataset.append(cells)
        return dataset


class BaseTable(tables.Table):
    """Pagination defaults, the `Meta.fields` / `Meta.default_columns` convention, exports."""

    export_class = SafeTableExport

    class Meta:
        template_name = "tables/table.html"
        attrs = {"class": "striped data-table"}
        per_page = DEFAULT_PER_PAGE
        fields: tuple[str, ...] = ()
        default_columns: tuple[str, ...] = ()
        empty_text = "Nothing matches these filters."

    def __init__(self, *args, visible_columns=None, **kwargs):
        fields = tuple(getattr(self.Meta, "fields", ()) or ())
        if fields:
            kwargs.setdefault("sequence", (*fields, "..."))
        super().__init__(*args, **kwargs)
        shown = tuple(visible_columns or getattr(self.Meta, "default_columns", ()) or fields)
        if shown:
            for name in self.columns.names():
                if name not in shown:
                    self.columns.hide(name)

    # Every ordering ends with the primary key: rows with equal values (many leads share a
    # score) keep one order, so no row appears on two pages or on none.
    @property
    def order_by(self):
        return self._order_by

    @order_by.setter
    def order_by(self, value):
        tables.Table.order_by.fset(self, value)
        data = getattr(self.data, "data", None)
        if isinstance(data, QuerySet):
            ordering = list(data.query.order_by)
            if "pk" not in ordering and "-pk" not in ordering:
                self.data.data = data.order_by(*ordering, "pk")

    def configure(self, request, *, paginate: bool = True) -> "BaseTable":
        """Apply the request's `sort`, then its `page` and `per_page` (one of PER_PAGE_CHOICES).

        A page number past the end shows the last page, one that is not a number the first.
        """
        RequestConfig(request, paginate=False).configure(self)
        if paginate:
            try:
                per_page = int(request.GET.get("per_page", ""))
            except ValueError:
                per_page = 0
            if per_page not in PER_PAGE_CHOICES:
                per_page = self.Meta.per_page
            try:
                self.paginate(page=request.GET.get("page", 1), per_page=per_page)
            except PageNotAnInteger:
                self.paginate(page=1, per_page=per_page)
            except EmptyPage:
                self.paginate(page=self.paginator.num_pages, per_page=per_page)
        return self

    def export_response(self, export_format: str, filename: str) -> HttpResponse:
        """The table's rows (all pages) as a download; raises ExportTooLarge past EXPORT_MAX_ROWS."""
        if export_format not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {export_format!r}")
        data = self.data.data
        if isinstance(data, QuerySet) and data[EXPORT_MAX_ROWS : EXPORT_MAX_ROWS + 1].exists():
            raise ExportTooLarge(f"more than {EXPORT_MAX_ROWS:,} rows: narrow the filters to export them")
        exporter = self.export_class(
            export_format=export_format, table=self, dataset_kwargs={"title": self.export_title()}
        )
        return exporter.response(filename=f"{filename}.{export_format}")

    def export_title(self) -> str:
        try:
            return str(self.Meta.model._meta.verbose_name_plural).title()[:31]
        except AttributeError:
            return "Export"
