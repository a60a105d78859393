"""The project's table base (NetBox's BaseTable): pagination, column sets and safe exports.

Every list page's table subclasses `BaseTable` and declares, NetBox-style, in its `Meta`:

- `fields`: every column the table can show, in display order (exports carry all of them);
- `default_columns`: the columns shown on the page unless the request asks for others.

`BaseTable.configure(request)` applies the request's sorting and pagination (page size from
`PER_PAGE_CHOICES`, pages from `CappedCountPaginator`, so a list of a million leads never counts
them all), and `export_response(fmt, filename)` answers a CSV or XLSX download of every row
(the cells django-tables2's `as_values` gives, read column by column, see `BaseTable.export_rows`),
with every text cell that a spreadsheet would run as a formula escaped (see `escape_formula`).
A CSV streams as its rows are read; an XLSX is written row by row (leadscoring/xlsx.py).
"""

import csv
import inspect
import io
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import django_tables2 as tables
from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.encoding import force_str
from django_tables2 import RequestConfig
from django_tables2.export import TableExport
from django_tables2.paginators import LazyPaginator
from django_tables2.rows import BoundRow
from django_tables2.utils import Accessor

from leadscoring.xlsx import xlsx_bytes

PER_PAGE_CHOICES = (25, 50, 100, 250)
# 25 rows hold a morning's calls; rendering cells is most of the list's server time at 1M leads,
# so the default page renders half of what 50 rows would (more rows are one click away).
DEFAULT_PER_PAGE = 25
EXPORT_FORMATS = (TableExport.CSV, TableExport.XLSX)
CONTENT_TYPES = {fmt: TableExport.FORMATS[fmt] for fmt in EXPORT_FORMATS}
# Past this many rows an export (CSV or XLSX; an XLSX is built whole in memory) is refused: narrow the filters.
EXPORT_MAX_ROWS = 100_000
# Rows read from the database, and CSV lines sent, at a time.
EXPORT_BATCH = 1_000
# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): = + - @, and tab or
# carriage return, which some spreadsheets skip before looking at the next character.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Lists count their rows up to this many; past it the page says "more than 1,000" and pages on
# lazily. Counting stops early: a rep's 1,001 hot leads at 1M leads take ~3 ms, 10,001 ~30 ms.
COUNT_CAP = 1_000


class CappedPage(Page):
    """A page whose end index comes from its own rows (the paginator's count may be capped)."""

    def end_index(self):
        return self.start_index() + len(self.object_list) - 1 if self.object_list else 0


class CappedCountPaginator(LazyPaginator):
    """Exact pages up to COUNT_CAP rows, lazy ones (django-tables2's LazyPaginator) past it.

    `COUNT(*)` over every matching lead grows with the leads (about 190 ms for 100k); a count
    that stops at COUNT_CAP + 1 rows costs the same whatever the total. Below the cap the list
    behaves like Django's Paginator (a total, a last page); above it the total reads
    "more than 1,000" and the pages are found by looking one row ahead, so no query reads every row.
    """

    cap = COUNT_CAP

    def __init__(self, object_list, per_page, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._capped_count = None

    def _count_upto(self, limit: int | None) -> int:
        rows = self.object_list
        # The table hands over its BoundRows; the queryset is underneath.
        data = getattr(getattr(rows, "data", None), "data", None)
        if isinstance(data, QuerySet):
            # Only the key is selected, so the list's per-row subqueries are not computed.
            rows = data.order_by().values("pk")
            return rows.count() if limit is None else rows[:limit].count()
        return len(rows) if limit is None else min(len(rows), limit)

    @property
    def count(self) -> int:
        """The number of rows, or COUNT_CAP + 1 when there are more than COUNT_CAP."""
        if self._capped_count is None:
            self._capped_count = self._count_upto(self.cap + 1)
        return self._capped_count

    @property
    def count_capped(self) -> bool:
        return self.count > self.cap

    @property
    def num_pages(self):
        if self.count_capped:
            return self._num_pages
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, math.ceil(max(self.count - self.orphans, 0) / self.per_page))

    def last_page(self) -> int:
        """The last page's number; past the cap this counts every row, once (a rare request)."""
        if not self.count_capped:
            return self.num_pages
        return max(1, math.ceil(self._count_upto(None) / self.per_page))

    def page(self, number):
        if self.count_capped:
            page = super().page(number)
            return self._get_page(page.object_list, page.number, self)
        number = self.validate_number(number)
        if number > self.num_pages and not (number == 1 and self.allow_empty_first_page):
            raise EmptyPage("That page contains no results")
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self.object_list[bottom:top], number, self)

    def is_last_page(self, number):
        return number == self.num_pages if not self.count_capped else super().is_last_page(number)

    def _get_page(self, *args, **kwargs):
        return CappedPage(*args, **kwargs)


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


class _Lines:
    """A file whose writes are kept, for csv.writer to fill a batch of lines at a time."""

    def __init__(self):
        self.buffer = io.StringIO()

    def write(self, text):
        self.buffer.write(text)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


class BaseTable(tables.Table):
    """Pagination defaults, the `Meta.fields` / `Meta.default_columns` convention, exports."""

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
            paginate = partial(self.paginate, paginator_class=CappedCountPaginator, per_page=per_page)
            try:
                paginate(page=request.GET.get("page", 1))
            except PageNotAnInteger:
                paginate(page=1)
            except EmptyPage:
                paginate(page=self.paginator.last_page())
        return self

    def export_response(self, export_format: str, filename: str) -> HttpResponse:
        """The table's rows (all pages) as a download; raises ExportTooLarge past EXPORT_MAX_ROWS."""
        if export_format not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {export_format!r}")
        data = self.data.data
        if isinstance(data, QuerySet) and data[EXPORT_MAX_ROWS : EXPORT_MAX_ROWS + 1].exists():
            raise ExportTooLarge(f"more than {EXPORT_MAX_ROWS:,} rows: narrow the filters to export them")
        rows = self.export_rows()
        if export_format == TableExport.CSV:
            response = StreamingHttpResponse(_csv_lines(rows), content_type=CONTENT_TYPES[export_format])
        else:
            workbook = xlsx_bytes(rows, title=self.export_title())
            response = HttpResponse(workbook, content_type=CONTENT_TYPES[export_format])
        response["Content-Disposition"] = f'attachment; filename="{filename}.{export_format}"'
        return response

    def export_rows(self) -> Iterator[list]:
        """The header, then one row of cells per record, every exported column (shown or not).

        The cells are those of django-tables2's `as_values` (a column's `value_<name>` on the
        table, else its `value()`; an empty value is no cell), passed through `export_cell`. They
        are read column by column with what each column needs worked out once: `as_values` builds
        a row object per record and inspects a method's signature per cell, 2 ms a lead (10 s for
        the demo's 5,000).
        """
        columns = [c for c in self.columns.iterall() if not c.column.exclude_from_export]
        yield [export_cell(force_str(c.header, strings_only=True)) for c in columns]
        readers = [self._export_reader(c) for c in columns]
        data = self.data.data
        records = data.iterator(chunk_size=EXPORT_BATCH) if isinstance(data, QuerySet) else iter(self.data)
        for record in records:
            cells = []
            for read in readers:
                value = force_str(read(record), strings_only=True)
                # An empty cell shows the table's default ("—") on the page, and nothing in a file.
                cells.append("" if value == self.default else export_cell(value))
            yield cells

    def _export_reader(self, bound_column) -> Callable:
        """A function of a record giving the column's export value, as BoundRow.get_cell_value does."""
        column, accessor = bound_column.column, Accessor(bound_column.accessor)
        model = getattr(self._meta, "model", None)
        field = accessor.get_field(model) if model is not None else None
        if getattr(field, "choices", None):
            # The get_FOO_display() lookup of django-tables2: the row object's own way.
            return lambda record: BoundRow(record, table=self).get_cell_value(bound_column.name)
        resolve = _resolver(accessor)
        value_of = bound_column.value
        plain = value_of == column.value and type(column).value is tables.Column.value
        if plain and type(column).render is tables.Column.render:
            call = None  # Column.value() is Column.render(value): the value itself
        else:
            parameters = inspect.signature(value_of).parameters
            every = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
            wanted = {"value", "record", "column", "bound_column", "bound_row", "table"}
            names = wanted if every else wanted & set(parameters)

            if names == {"value"}:
                call = lambda record, value: value_of(value=value)  # noqa: E731 - the common cases, kept cheap
            elif names == {"record"}:
                call = lambda record, value: value_of(record=record)  # noqa: E731
            else:

                def call(record, value):
                    given = {"value": value, "record": record, "column": column, "bound_column": bound_column}
                    given["table"] = self
                    if "bound_row" in names:
                        given["bound_row"] = BoundRow(record, table=self)
                    return value_of(**{name: given[name] for name in names})

        empty = column.empty_values

        def read(record):
            value = resolve(record)
            if value in empty:
                return None
            return value if call is None else call(record, value)

        return read

    def export_title(self) -> str:
        try:
            return str(self.Meta.model._meta.verbose_name_plural).title()[:31]
        except AttributeError:
            return "Export"


def _resolver(accessor: Accessor) -> Callable:
    """Accessor.resolve, with a plain attribute read first (most columns name a field)."""
    name = str(accessor)
    if accessor.SEPARATOR in name or accessor.LEGACY_SEPARATOR in name:
        return lambda record: accessor.resolve(record, quiet=True)

    def resolve(record):
        try:
            value = getattr(record, name)
        except Exception:  # a dict, a missing relation: the accessor's own rules
            return accessor.resolve(record, quiet=True)
        return accessor.resolve(record, quiet=True) if callable(value) else value

    return resolve


def _csv_lines(rows: Iterator[list]) -> Iterator[str]:
    """CSV text (the excel dialect, as tablib wrote it), a batch of lines at a time."""
    lines = _Lines()
    writer = csv.writer(lines)
    for i, row in enumerate(rows, start=1):
        writer.writerow(row)
        if i % EXPORT_BATCH == 0:
            yield lines.take()
    yield lines.take()
