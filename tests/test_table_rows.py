"""The table body of every BaseTable page (leadscoring/templatetags/workbench.py: table_rows).

Given a table whose cells need escaping, a column whose cell attributes depend on the value and a
column that is localized, when its page is rendered through templates/tables/table.html, then
every cell reads as django-tables2's own template would render it.
"""

import django_tables2 as tables
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from leadscoring.tables import BaseTable


class Sample(BaseTable):
    name = tables.Column(attrs={"td": {"class": "who"}})
    score = tables.Column(attrs={"td": {"data-sign": lambda value: "neg" if value < 0 else "pos"}})
    amount = tables.Column(localize=True)

    class Meta(BaseTable.Meta):
        fields = ("name", "score", "amount")
        row_attrs = {"data-row": lambda record: record["name"]}

    def render_name(self, value):
        return f"{value}!"


def render(rows) -> str:
    request = RequestFactory().get("/")
    table = Sample(rows)
    table.configure(request)
    template = Template("{% load django_tables2 %}{% render_table table %}")
    return template.render(Context({"table": table, "request": request}))


@override_settings(USE_THOUSAND_SEPARATOR=True)
def test_cells_are_escaped_attributes_computed_and_localized():
    html = render([{"name": "<b>Ann</b>", "score": -5, "amount": 12345}, {"name": "Bo", "score": 3, "amount": 7}])
    assert '<tr data-row="&lt;b&gt;Ann&lt;/b&gt;" class="even">' in html
    assert '<td class="who">&lt;b&gt;Ann&lt;/b&gt;!</td>' in html  # a render method's text is escaped
    assert '<td data-sign="neg">-5</td>' in html and '<td data-sign="pos">3</td>' in html  # per cell
    assert "<td >12,345</td>" in html  # localize=True


def test_an_empty_page_shows_the_empty_text():
    html = render([])
    assert '<tr><td colspan="3">Nothing matches these filters.</td></tr>' in html
