"""The draft editor (/matrix/<slug>/draft/): rows added, changed, reordered and removed in place
through htmx (the editor fragment comes back) and through plain posts (redirected back);
errors next to their field with nothing saved; stale saves refused with who changed what;
reps and managers refused everywhere."""

import copy
import html as html_lib
import re

import pytest

from matrix.choices import VersionStatus
from matrix.models import AuditEntry, ModelVersion
from matrix.selectors import approvals_status
from matrix.services import model_draft_update, model_import, model_version_approve
from scoring.jobs import model_version_publish
from tests.leads.workspace_data import SLUG, model_document

EDITOR = f"/matrix/{SLUG}/draft/"
BASE = f"/matrix/{SLUG}/draft/2/"
HTMX = {"HTTP_HX_REQUEST": "true"}
EDITORS = ["marketer", "saleslead", "admin"]
READERS = ["rep", "manager"]


@pytest.fixture
def draft(db, personas):
    """Version 1 live, version 2 a draft at revision 1 (the same document)."""
    model_version_publish(version=model_import(data=model_document()))
    return model_import(data=model_document(), note="Next quarter")


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def document():
    return ModelVersion.objects.get(number=2).document


def revision():
    return ModelVersion.objects.get(number=2).revision


def keys(section):
    return [item["key"] for item in document()[section]]


def post(client, user, url, data, htmx=False):
    client.force_login(user)
    return client.post(url, data, **(HTMX if htmx else {}))


def revisions_in(response) -> set[str]:
    return set(re.findall(r'name="revision" value="(\d+)"', response.content.decode()))


def label_of(response, field_id: str) -> str:
    """The text of the <label> of one field: its label, the input, and its error or help."""
    html = response.content.decode()
    match = re.search(rf'<label for="{re.escape(field_id)}"[^>]*>(.*?)</label>', html, re.S)
    assert match, f"no field {field_id}"
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1])).strip())


def fit_data(key="cto", points=10, rows=(("title", "contains", "cto"),), combine="all", **extra) -> dict:
    data = {"revision": 1, "key": key, "label": "", "dimension": "fit", "points": points}
    data |= {"item-when-rows": len(rows), "item-when-combine": combine, "item-when-mode": "pickers"}
    for i, (field, op, value) in enumerate(rows):
        data |= {f"item-when-field_{i}": field, f"item-when-op_{i}": op, f"item-when-value_{i}": value}
    return data | extra


def segment_data(key="smb", warm=10, hot=40, mql=30, rows=(("employees", "lt", "50"),), **extra) -> dict:
    data = {"revision": 1, "key": key, "label": key.upper(), "warm": warm, "hot": hot, "mql": mql}
    data |= {"item-when-rows": max(1, len(rows)), "item-when-mode": "pickers"}
    for i, (field, op, value) in enumerate(rows):
        data |= {f"item-when-field_{i}": field, f"item-when-op_{i}": op, f"item-when-value_{i}": value}
    return data | extra


DECAY = {"revision": 1, "key": "quiet", "label": "Quiet", "type": "inactivity_once", "events": "", "after_days": 60}


# --- the page -------------------------------------------------------------------------------------


# session, user, groups (header), notifications, the user's and the groups' permissions, then
# model, draft (with updated_by), its approvals (+ approving users), settings, the sampled leads
# and events of the pickers; an admin (superuser) skips the two permission queries.
EDITOR_QUERIES = {"marketer": 12, "saleslead": 12, "admin": 10}


@pytest.mark.parametrize("role", EDITORS)
def test_editors_open_the_draft_in_the_editor(client, personas, draft, role, django_assert_num_queries):
    client.force_login(personas[role])
    with django_assert_num_queries(EDITOR_QUERIES[role]):
        response = client.get(EDITOR)
    assert response.status_code == 200
    page = text(response)
    assert "Editing New business: draft version 2" in page and "Revision 1" in page
    assert "Decision-maker title" in page and "Inactivity" in page and "Mid-market" in page
    assert revisions_in(response) == {"1"}
    # The pickers suggest lead fields, event kinds and event properties (free text stays allowed).
    html = response.content.decode()
    assert '<datalist id="lead-fields"><option value="id">' in html
    assert '<option value="webinar_attended">' in html and '<option value="url">' in html


def test_query_count_does_not_grow_with_rows(client, personas, draft, django_assert_num_queries):
    bigger = copy.deepcopy(draft.document)
    for i in range(20):
        bigger["criteria"].append(
            {"key": f"extra-{i}", "dimension": "fit", "points": 1, "when": None}
            | {"when": {"field": "country", "op": "eq", "value": f"C{i}"}}
        )
    model_draft_update(version=draft, data=bigger, user=personas["marketer"], revision=1)
    client.force_login(personas["marketer"])
    with django_assert_num_queries(EDITOR_QUERIES["marketer"]):
        assert client.get(EDITOR).status_code == 200


def test_without_a_draft_the_editor_offers_to_start_one_from_the_live_version(client, personas, draft):
    draft.delete()
    client.force_login(personas["saleslead"])
    assert "Start a draft from the live version 1" in text(client.get(EDITOR))
    response = client.post(f"/matrix/{SLUG}/draft/start/")
    assert response.status_code == 302 and response.url == EDITOR
    started = ModelVersion.objects.get(status=VersionStatus.DRAFT)
    assert (started.number, started.document, started.created_by) == (2, model_document(), personas["saleslead"])
    # Starting again opens the same draft rather than a second one.
    client.post(f"/matrix/{SLUG}/draft/start/")
    assert ModelVersion.objects.filter(status=VersionStatus.DRAFT).count() == 1


def test_the_matrix_page_links_the_editor_for_editors_only(client, personas, draft):
    client.force_login(personas["marketer"])
    assert f'href="{EDITOR}"' in client.get(f"/matrix/{SLUG}/").content.decode()
    client.force_login(personas["rep"])
    assert f'href="{EDITOR}"' not in client.get(f"/matrix/{SLUG}/").content.decode()


# --- opening a row's form -------------------------------------------------------------------------


def test_htmx_opens_one_row_form_in_place(client, personas, draft):
    client.force_login(personas["marketer"])
    response = client.get(BASE + "criteria/software/edit/?revision=1", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="criteria-row-software"' in html and 'id="draft-editor"' not in html
    assert 'name="revision" value="1"' in html and 'value="Software"' in html
    # Without htmx the same link opens the form on the editor page.
    plain = client.get(BASE + "criteria/software/edit/")
    assert plain.status_code == 302 and plain.url == EDITOR + "?edit=criteria:software"
    page = client.get(plain.url).content.decode()
    assert 'action="/matrix/new-biz/draft/2/criteria/software/save/"' in page
    assert 'id="draft-segments-add"' in client.get(BASE + "segments/add/", **HTMX).content.decode()
    assert 'id="draft-settings"' in client.get(BASE + "settings/", **HTMX).content.decode()


# --- criteria -------------------------------------------------------------------------------------


def test_add_change_reorder_and_remove_a_criterion_with_htmx(client, personas, draft):
    marketer = personas["marketer"]
    added = post(client, marketer, BASE + "criteria/add/save/", fit_data(), htmx=True)
    assert added.status_code == 200 and added["HX-Retarget"] == "#draft-editor"
    assert "Criterion cto added. Revision 2 saved" in text(added)
    # Every form of the returned editor carries the new revision.
    assert revisions_in(added) == {"2"}
    assert document()["criteria"][-1] == {
        "key": "cto",
        "dimension": "fit",
        "when": {"field": "title", "op": "contains", "value": "cto"},
        "points": 10,
    }
    changed = post(client, marketer, BASE + "criteria/cto/save/", fit_data(points=25, revision=2), htmx=True)
    assert changed.status_code == 200 and document()["criteria"][-1]["points"] == 25
    moved = post(client, marketer, BASE + "criteria/cto/move/", {"revision": 3, "direction": "up"}, htmx=True)
    assert moved.status_code == 200 and keys("criteria")[-2:] == ["cto", "demo-request"]
    removed = post(client, marketer, BASE + "criteria/cto/delete/", {"revision": 4}, htmx=True)
    assert removed.status_code == 200 and "cto" not in keys("criteria")
    assert revisions_in(removed) == {"5"} and revision() == 5
    # Each edit is audited with what it changed (what a stale save is later told).
    changes = [e.detail["changes"] for e in AuditEntry.objects.filter(action="draft_updated").order_by("id")]
    order = ", ".join(c["key"] for c in model_document()["criteria"])
    assert changes == [
        ["criterion cto added"],
        ["criterion cto points 10 → 25"],
        [f"criteria order {order}, cto → {order.replace('demo-request', 'cto, demo-request')}"],
        ["criterion cto removed"],
    ]


def test_plain_posts_redirect_back_to_the_editor(client, personas, draft):
    saleslead = personas["saleslead"]
    response = post(client, saleslead, BASE + "criteria/add/save/", fit_data())
    # Back to the editor, scrolled to the new row, which says it was saved.
    assert response.status_code == 302 and response.url == EDITOR + "?saved=criteria:cto#criteria-row-cto"
    row = _row(client.get(response.url), "criteria", "cto")
    assert "Saved in revision 2." in row
    post(client, saleslead, BASE + "criteria/software/move/", {"revision": 2, "direction": "down"})
    assert keys("criteria")[:3] == ["decision-maker", "student", "software"]
    item = fit_data(key="software", points=12, rows=[("industry", "eq", "Software")], revision=3)
    post(client, saleslead, BASE + "criteria/software/save/", item)
    assert document()["criteria"][2] == {
        "key": "software",
        "dimension": "fit",
        "when": {"field": "industry", "op": "eq", "value": "Software"},
        "points": 12,
    }
    post(client, saleslead, BASE + "criteria/student/delete/", {"revision": 4})
    assert "student" not in keys("criteria") and revision() == 5


def test_an_engagement_criterion_with_a_where_condition(client, personas, draft):
    data = {
        "revision": 1,
        "key": "pricing-visit",
        "label": "Pricing page visit",
        "dimension": "engagement",
        "points": 25,
        "events": "page_view, content_download",
        "cap": 3,
        "cap_window_days": "",
        "item-where-rows": 2,
        "item-where-field_0": "url",
        "item-where-op_0": "startswith",
        "item-where-value_0": "/pricing",
    }
    response = post(client, personas["marketer"], BASE + "criteria/pricing-visit/save/", data, htmx=True)
    assert response.status_code == 200, text(response)
    assert document()["criteria"][3] == {
        "key": "pricing-visit",
        "label": "Pricing page visit",
        "dimension": "engagement",
        "event": ["page_view", "content_download"],
        "where": {"field": "url", "op": "startswith", "value": "/pricing"},
        "points": 25,
        "cap": 3,
        "cap_window_days": None,
    }


# --- the condition pickers through the editor ----------------------------------------------------


CTO = {"field": "title", "op": "contains", "value": "cto"}


@pytest.mark.parametrize(
    ("rows", "combine", "expected"),
    [
        ([("country", "in", "US, CA, GB")], "all", {"field": "country", "op": "in", "value": ["US", "CA", "GB"]}),
        ([("employees", "between", "50, 500")], "all", {"field": "employees", "op": "between", "value": [50, 500]}),
        (
            [("title", "contains", "cto"), ("attributes.plan", "eq", "pro")],
            "any",
            {"any": [CTO, {"field": "attributes.plan", "op": "eq", "value": "pro"}]},
        ),
        (
            [("title", "contains", "cto"), ("employees", "gte", "100")],
            "all",
            {"all": [CTO, {"field": "employees", "op": "gte", "value": 100}]},
        ),
    ],
)  # fmt: skip
def test_condition_pickers_write_the_condition(client, personas, draft, rows, combine, expected):
    response = post(client, personas["marketer"], BASE + "criteria/add/save/", fit_data(rows=rows, combine=combine))
    assert response.status_code == 302
    assert document()["criteria"][-1]["when"] == expected


def test_the_json_box_writes_what_pickers_cannot(client, personas, draft):
    data = fit_data(rows=[]) | {
        "item-when-mode": "json",
        "item-when-json": '{"not": {"field": "country", "op": "in", "value": ["US", "CA"]}}',
    }
    assert post(client, personas["marketer"], BASE + "criteria/add/save/", data).status_code == 302
    assert document()["criteria"][-1]["when"] == {"not": {"field": "country", "op": "in", "value": ["US", "CA"]}}
    # Opened again, such a condition comes back in the JSON box, prefilled.
    html = client.get(EDITOR + "?edit=criteria:cto").content.decode()
    assert re.search(r'name="item-when-mode" value="json"[^>]*checked', html)
    assert "&quot;not&quot;" in html


# --- decay, segments, settings --------------------------------------------------------------------


def test_add_change_reorder_and_remove_a_decay_rule(client, personas, draft):
    marketer = personas["marketer"]
    assert post(client, marketer, BASE + "decay/add/save/", DECAY | {"points": -5}, htmx=True).status_code == 200
    assert document()["decay"][-1] == {
        "key": "quiet",
        "label": "Quiet",
        "type": "inactivity_once",
        "events": None,
        "after_days": 60,
        "points": -5,
    }
    changed = DECAY | {"revision": 2, "type": "inactivity_step", "every_days": 14, "points": -3, "events": "page_view"}
    post(client, marketer, BASE + "decay/quiet/save/", changed)
    assert document()["decay"][-1] == {
        "key": "quiet",
        "label": "Quiet",
        "type": "inactivity_step",
        "events": ["page_view"],
        "every_days": 14,
        "points": -3,
    }
    post(client, marketer, BASE + "decay/quiet/move/", {"revision": 3, "direction": "up"}, htmx=True)
    assert keys("decay") == ["inactivity", "quiet", "no-web-visit"]
    post(client, marketer, BASE + "decay/inactivity/delete/", {"revision": 4})
    assert keys("decay") == ["quiet", "no-web-visit"] and revision() == 5


def test_add_change_reorder_and_remove_a_segment_and_its_thresholds(client, personas, draft):
    saleslead = personas["saleslead"]
    added = post(client, saleslead, BASE + "segments/add/save/", segment_data(), htmx=True)
    assert added.status_code == 200, text(added)
    # A segment with a condition goes before the catch-all, where it can still match.
    assert keys("segments") == ["enterprise", "smb", "default"]
    post(client, saleslead, BASE + "segments/smb/move/", {"revision": 2, "direction": "up"}, htmx=True)
    assert keys("segments") == ["smb", "enterprise", "default"]
    thresholds = segment_data(key="default", warm=35, hot=65, mql=55, rows=[], revision=3)
    post(client, saleslead, BASE + "segments/default/save/", thresholds)
    assert document()["segments"][-1] == {
        "key": "default",
        "label": "DEFAULT",
        "when": None,
        "thresholds": {"warm": 35, "hot": 65, "mql": 55},
    }
    post(client, saleslead, BASE + "segments/smb/delete/", {"revision": 4}, htmx=True)
    assert keys("segments") == ["enterprise", "default"] and revision() == 5


def test_the_catch_all_segment_stays_last(client, personas, draft):
    response = post(client, personas["marketer"], BASE + "segments/default/delete/", {"revision": 1}, htmx=True)
    assert response.status_code == 409
    assert "the last segment catches every other lead and cannot be removed; edit it instead" in text(response)
    response = post(
        client, personas["marketer"], BASE + "segments/enterprise/move/", {"revision": 1, "direction": "down"}
    )
    assert response.status_code == 302 and "stays last" in text(client.get(EDITOR))
    assert revision() == 1


def test_model_settings_change(client, personas, draft):
    data = {
        "revision": 1,
        "name": "New business 2",
        "description": "",
        "lookback_days": 60,
        "half_life_days": "",
        "engagement_floor": "",
        "grade_A": 30,
        "grade_B": 15,
        "grade_C": 5,
        "grade_4": 60,
        "grade_3": 40,
        "grade_2": 15,
    }
    response = post(client, personas["admin"], BASE + "settings/save/", data, htmx=True)
    assert response.status_code == 200 and "Model settings saved" in text(response)
    doc = document()
    assert (doc["name"], doc["lookback_days"], doc["engagement_floor"], doc["grades"]["fit"]["A"]) == (
        "New business 2",
        60,
        None,
        30,
    )


# --- errors next to their field -------------------------------------------------------------------


def test_warm_above_hot_is_shown_next_to_warm_and_nothing_is_saved(client, personas, draft):
    response = post(client, personas["marketer"], BASE + "segments/add/save/", segment_data(warm=70, hot=40), htmx=True)
    assert response.status_code == 422
    assert label_of(response, "segments-new-warm").endswith("warm (70) must not be above hot (40)")
    assert "Not saved: see the errors below." in text(response)
    assert revision() == 1 and keys("segments") == ["enterprise", "default"]
    # The form keeps what was typed, at the revision it was made on.
    assert 'value="smb"' in response.content.decode() and revisions_in(response) == {"1"}


def test_positive_decay_points_are_refused_next_to_the_points(client, personas, draft):
    response = post(
        client, personas["marketer"], BASE + "decay/inactivity/save/", DECAY | {"key": "inactivity", "points": 5}
    )
    assert response.status_code == 422
    assert label_of(response, "decay-inactivity-points").endswith("decay points must be negative")
    assert document() == model_document()


def test_numbers_past_the_model_limits_are_refused_next_to_their_field(client, personas, draft):
    # Given the settings form with a half-life of a quarter of an hour and a ten-year-plus lookback
    data = {"revision": 1, "name": "x", "description": "", "lookback_days": 999_999, "half_life_days": 0.01,
            "engagement_floor": 0, "grade_A": 30, "grade_B": 15, "grade_C": 5, "grade_4": 1e7, "grade_3": 40,
            "grade_2": 15}  # fmt: skip
    # when saved, then each is refused next to its field, and nothing is saved
    response = post(client, personas["marketer"], BASE + "settings/save/", data, htmx=True)
    assert response.status_code == 422
    assert label_of(response, "settings-new-lookback_days").endswith("less than or equal to 3650.")
    assert label_of(response, "settings-new-half_life_days").endswith("greater than or equal to 0.5.")
    assert label_of(response, "settings-new-grade_4").endswith("less than or equal to 1000000.")
    assert document() == model_document()


def test_a_match_property_sqlite_cannot_read_is_refused_next_to_it(client, personas, draft):
    data = DECAY | {"type": "unanswered", "events": "email_sent", "responses": "email_open", "points": -5}
    response = post(client, personas["marketer"], BASE + "decay/add/save/", data | {"match_property": 'msg"id'})
    assert response.status_code == 422
    assert label_of(response, "decay-new-match_property").endswith('the property name must not contain " or \\')
    assert document() == model_document()


def test_between_with_one_number_is_refused_next_to_the_value(client, personas, draft):
    data = fit_data(rows=[("title", "contains", "cto"), ("employees", "between", "50")])
    response = post(client, personas["marketer"], BASE + "criteria/add/save/", data, htmx=True)
    assert response.status_code == 422
    assert label_of(response, "criteria-new-item-when-value_1").endswith(
        'between needs two numbers, the lower first: "10, 50"'
    )
    assert label_of(response, "criteria-new-item-when-value_0") == "Value"
    assert revision() == 1


def test_a_key_used_twice_is_refused_next_to_the_key(client, personas, draft):
    response = post(client, personas["marketer"], BASE + "criteria/add/save/", fit_data(key="inactivity"))
    assert response.status_code == 422
    assert "'inactivity' is already the key of decay rule 'Inactivity'" in label_of(response, "criteria-new-key")


# --- concurrent editing ---------------------------------------------------------------------------


def test_a_stale_save_is_refused_with_who_changed_what(client, personas, draft):
    # Sam saves first (revision 1 -> 2), while Maya still has revision 1 open.
    theirs = copy.deepcopy(draft.document)
    theirs["criteria"][1]["points"] = 12
    model_draft_update(version=draft, data=theirs, user=personas["saleslead"], revision=1)
    mine = fit_data(key="software", points=99, rows=[("industry", "eq", "Software")], label="Mine")
    response = post(client, personas["marketer"], BASE + "criteria/software/save/", mine, htmx=True)
    assert response.status_code == 409
    page = text(response)
    assert "Not saved: someone changed this draft since you opened it" in page
    assert "Sam Saleslead saved revision 2" in page
    assert "criterion software points 10 → 12" in page
    assert document() == theirs and revision() == 2  # nothing overwritten
    # What Maya typed is still there, now on revision 2, to save again knowingly.
    assert 'value="Mine"' in response.content.decode() and 'value="99"' in response.content.decode()
    assert revisions_in(response) == {"2"}
    again = post(client, personas["marketer"], BASE + "criteria/software/save/", mine | {"revision": 2}, htmx=True)
    assert again.status_code == 200 and document()["criteria"][1]["points"] == 99


def test_stale_deletes_and_moves_are_refused_too(client, personas, draft):
    model_draft_update(version=draft, data=draft.document, user=personas["saleslead"], revision=1)
    response = post(client, personas["marketer"], BASE + "criteria/student/delete/", {"revision": 1})
    assert response.status_code == 409 and "Sam Saleslead saved revision 2" in text(response)
    response = post(client, personas["marketer"], BASE + "decay/inactivity/move/", {"revision": 1, "direction": "down"})
    assert response.status_code == 409
    assert keys("criteria") == [c["key"] for c in model_document()["criteria"]] and revision() == 2


def test_an_edit_asks_both_teams_again(client, personas, draft):
    model_version_approve(version=draft, user=personas["marketer"], revision=1)
    model_version_approve(version=draft, user=personas["saleslead"], revision=1)
    draft.refresh_from_db()
    assert approvals_status(version=draft)["ready"]
    post(client, personas["marketer"], BASE + "criteria/student/delete/", {"revision": 1})
    draft.refresh_from_db()
    status = approvals_status(version=draft)
    assert (status["revision"], status["missing"], status["ready"]) == (2, ["marketing", "sales"], False)


def test_a_published_version_is_not_edited(client, personas, draft):
    response = post(client, personas["marketer"], f"/matrix/{SLUG}/draft/1/criteria/student/delete/", {"revision": 1})
    assert response.status_code == 302
    assert "only a draft can be edited" in text(client.get(EDITOR))


def test_a_form_without_its_revision_is_a_bad_request(client, personas, draft):
    assert post(client, personas["marketer"], BASE + "criteria/student/delete/", {}).status_code == 400


# --- who may edit ---------------------------------------------------------------------------------


ENDPOINTS = [
    ("get", EDITOR),
    ("get", BASE + "criteria/software/edit/"),
    ("get", BASE + "criteria/add/"),
    ("get", BASE + "settings/"),
    ("post", f"/matrix/{SLUG}/draft/start/"),
    ("post", BASE + "criteria/add/save/"),
    ("post", BASE + "criteria/software/save/"),
    ("post", BASE + "criteria/software/delete/"),
    ("post", BASE + "criteria/software/move/"),
    ("post", BASE + "decay/inactivity/save/"),
    ("post", BASE + "segments/default/save/"),
    ("post", BASE + "settings/save/"),
]


@pytest.mark.parametrize("role", READERS)
def test_reps_and_managers_are_refused_on_every_editor_endpoint(client, personas, draft, role):
    client.force_login(personas[role])
    for method, url in ENDPOINTS:
        for headers in ({}, HTMX):
            response = getattr(client, method)(url, {"revision": 1, "direction": "up"}, **headers)
            assert response.status_code == 403, (method, url)
    assert revision() == 1 and ModelVersion.objects.count() == 2


# --- confirmation next to the edited item, sign-off from the editor (issue 17) -----------------


def _row(response, section, key) -> str:
    """The HTML of one row of the editor, from its <li> to the next row's."""
    page = response.content.decode()
    start = page.index(f'<li id="{section}-row-{key}"')
    end = page.find('<li id="', start + 1)
    return page[start : end if end != -1 else len(page)]


def test_a_saved_row_confirms_itself_in_place_and_asks_to_be_kept_in_view(client, personas, draft):
    # Given the marketer editing the "software" criterion, mid-page, with htmx
    item = fit_data(key="software", points=12, rows=[("industry", "eq", "Software")])
    # When they save it
    response = post(client, personas["marketer"], BASE + "criteria/software/save/", item, htmx=True)
    # Then the confirmation is in that row, focusable and autofocused (htmx focuses it after the
    # swap, which scrolls it into view), and not at the top of the editor
    row = _row(response, "criteria", "software")
    assert 'class="draft-saved" role="status" tabindex="-1" autofocus' in row
    assert "Criterion software saved. Revision 2 saved" in row
    assert text(response).count("Revision 2 saved") == 1
    assert "draft-saved" not in _row(response, "criteria", "decision-maker")


def test_a_removal_confirms_in_its_section(client, personas, draft):
    removed = post(client, personas["marketer"], BASE + "criteria/student/delete/", {"revision": 1}, htmx=True)
    page = removed.content.decode()
    section = page[page.index('id="draft-criteria"') : page.index('id="draft-decay"')]
    assert "Criterion student removed. Revision 2 saved" in section and "draft-saved" in section


def test_approve_and_publish_are_reachable_from_the_draft_editor(client, personas, draft):
    marketer = personas["marketer"]
    client.force_login(marketer)
    page = text(client.get(EDITOR))
    assert "Approve revision 1" in page
    # Publishing is offered, disabled until both teams sign off
    assert "Publish and rescore every lead…" in page and "needs the marketing and sales approval" in page
    # When the marketer approves from the editor, they come back to the editor
    response = post(client, marketer, f"/matrix/{SLUG}/versions/2/approve/", {"revision": 1, "back": "draft"})
    assert response.status_code == 302 and response.url == EDITOR
    model_version_approve(version=ModelVersion.objects.get(number=2), user=personas["saleslead"], revision=1)
    page = client.get(EDITOR).content.decode()
    assert f'href="/matrix/{SLUG}/versions/2/publish/?back=draft" role="button"' in page


def test_publishing_asks_first_with_the_impact_summary(client, personas, draft):
    from matrix.choices import PreviewState
    from scoring.models import ImpactPreview

    marketer = personas["marketer"]
    version = ModelVersion.objects.get(number=2)
    for user in (marketer, personas["saleslead"]):
        model_version_approve(version=version, user=user, revision=1)
    ImpactPreview.objects.create(
        version=version, revision=1, as_of=version.created_at, state=PreviewState.DONE,
        leads_total=5000, tier_changed=87, mql_up=81, mql_down=3,
    )  # fmt: skip
    client.force_login(marketer)
    # When the marketer clicks "Publish and rescore every lead…" (a GET), nothing is published yet
    response = client.get(f"/matrix/{SLUG}/versions/2/publish/?back=draft")
    assert response.status_code == 200 and ModelVersion.objects.get(number=2).status == VersionStatus.DRAFT
    # and the page says what the impact preview of this revision found
    page = text(response)
    assert "Publish New business version 2?" in page
    for words in ("Leads scored 5,000", "Change tier 87", "Become MQL 81", "Stop being MQL 3"):
        assert words in page
    # Then confirming publishes
    response = post(client, marketer, f"/matrix/{SLUG}/versions/2/publish/", {"revision": 1, "back": "draft"})
    assert response.status_code == 302 and ModelVersion.objects.get(number=2).status == VersionStatus.PUBLISHED


def test_publishing_without_a_current_preview_offers_one(client, personas, draft):
    client.force_login(personas["marketer"])
    page = text(client.get(f"/matrix/{SLUG}/versions/2/publish/"))
    assert "No impact preview of this draft yet." in page and "Preview revision 1" in page


def test_a_new_draft_is_not_called_a_restore(client, personas, db):
    # Given a model with a live version and no draft
    model_version_publish(version=model_import(data=model_document()))
    client.force_login(personas["marketer"])
    # When the marketer starts a draft
    client.post(f"/matrix/{SLUG}/draft/start/")
    draft = ModelVersion.objects.get(number=2)
    # Then its note says where it started, not "Restored from version 1"
    assert draft.note == "Started from the live version 1"
    assert "Restored" not in text(client.get(f"/matrix/{SLUG}/"))


def test_the_catch_all_segment_reads_every_other_lead(client, personas, draft):
    """The last segment has no condition: its row reads "every other lead", not "leads where
    every other lead"."""
    client.force_login(personas["marketer"])
    page = text(client.get(EDITOR))
    assert "every other lead : warm from" in page or "every other lead: warm from" in page
    assert "leads where every other lead" not in page
