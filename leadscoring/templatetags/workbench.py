from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.templatetags.l10n import localize, unlocalize
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from leadscoring.roles import user_roles

register = template.Library()


@register.filter
def roles(user) -> list[str]:
    """The user's role names, sorted; kept on the user so a page asks the database once."""
    if not hasattr(user, "_role_names"):
        user._role_names = sorted(user_roles(user))
    return user._role_names


@register.filter
def tally(value) -> str:
    """A scoring.selectors.Tally with thousands separators, marked "≈" when it is an estimate."""
    text = intcomma(value.value)
    return text if value.exact else f"≈ {text}"


def _static_td(table, column) -> bool:
    """True when a column's cell attributes do not depend on the cell (no callables)."""
    parts = (table.attrs.get("td", {}), table.attrs.get("cell", {}), column.column.attrs.get("td", {}),
             column.column.attrs.get("cell", {}))  # fmt: skip
    return not any(callable(value) for part in parts for value in dict(part).values())


@register.simple_tag
def table_rows(table) -> str:
    """The body rows of a table's page, rendered in Python (templates/tables/table.html).

    django-tables2's template recomputes every column's attributes for every cell and resolves
    a dozen template variables per cell: at 25 rows that was over half of the lead list's server
    time. Here a column's `<td>` attributes are computed once per page when they are static (a
    callable among them is computed per cell, as django-tables2 does), and each cell is escaped
    as `{{ cell }}` would escape it.
    """
    columns = list(table.columns)
    static = {c.name: c.attrs["td"].as_html() for c in columns if _static_td(table, c)}
    rows = []
    for row in table.paginated_rows:
        cells = []
        for column in columns:
            value = row.get_cell(column.name)
            if column.localize is not None:
                value = localize(value) if column.localize else unlocalize(value)
            if column.name in static:
                td = static[column.name]
            else:
                column.current_value, column.current_record = value, row.record
                td = column.attrs["td"].as_html()
            cells.append(format_html("<td {}>{}</td>", td, value))
        rows.append(format_html("<tr {}>{}</tr>", row.attrs.as_html(), mark_safe("".join(cells))))
    return mark_safe("\n".join(rows))
