"""The draft editor's pieces without HTTP: the pure document edits (matrix.drafts), the condition
pickers and item forms (matrix.forms), and what a stale save can tell (selectors)."""

import copy

import pytest

from engine.document import DocumentError, parse_document
from matrix import drafts
from matrix.forms import ConditionForm, CriterionForm, DecayForm, SegmentForm, SettingsForm, condition_rows
from matrix.selectors import documents_diff, draft_edits_since
from matrix.services import model_draft_update, model_import
from tests.leads.workspace_data import model_document


@pytest.fixture
def document():
    return model_document()


def keys(document, section):
    return [item["key"] for item in document[section]]


# --- pure edits -----------------------------------------------------------------------------------


def test_adding_a_criterion_appends_it_and_leaves_the_input_alone(document):
    before = copy.deepcopy(document)
    new = drafts.item_add(
        document, section="criteria", item={"key": "cto", "dimension": "fit", "points": 5, "when": None}
    )
    assert keys(new, "criteria")[-1] == "cto" and len(new["criteria"]) == 8
    assert document == before


def test_a_new_segment_with_a_condition_goes_before_the_catch_all(document):
    segment = {"key": "smb", "when": {"field": "employees", "op": "lt", "value": 50}, "thresholds": {}}
    assert drafts.add_position(document, section="segments", item=segment) == 1
    new = drafts.item_add(document, section="segments", item=segment)
    assert keys(new, "segments") == ["enterprise", "smb", "default"]


def test_replace_renames_in_place_and_refuses_a_key_taken_elsewhere(document):
    item = copy.deepcopy(document["criteria"][1]) | {"key": "industry-software"}
    new = drafts.item_replace(document, section="criteria", key="software", item=item)
    assert keys(new, "criteria")[1] == "industry-software"
    # Criteria and decay rules share one namespace: the error names the edited row's path.
    with pytest.raises(DocumentError) as refused:
        drafts.item_replace(document, section="criteria", key="software", item=item | {"key": "inactivity"})
    assert refused.value.errors == ["criteria[1].key: 'inactivity' is already the key of decay rule 'Inactivity'"]
    # Keeping its own key is no clash.
    assert drafts.item_replace(document, section="criteria", key="software", item=document["criteria"][1])


def test_remove_and_move_keep_the_catch_all_segment_last(document):
    assert keys(drafts.item_remove(document, section="decay", key="inactivity"), "decay") == ["no-web-visit"]
    with pytest.raises(DocumentError, match="cannot be removed; edit it instead"):
        drafts.item_remove(document, section="segments", key="default")
    with pytest.raises(DocumentError, match="stays last"):
        drafts.item_move(document, section="segments", key="enterprise", offset=1)
    with pytest.raises(drafts.MissingItem, match="no criterion 'nope'"):
        drafts.item_remove(document, section="criteria", key="nope")


def test_moves_stop_at_the_ends(document):
    up = drafts.item_move(document, section="criteria", key="software", offset=-1)
    assert keys(up, "criteria")[:2] == ["software", "decision-maker"]
    assert drafts.item_move(document, section="criteria", key="decision-maker", offset=-1) == document
    down = drafts.item_move(document, section="decay", key="inactivity", offset=1)
    assert keys(down, "decay") == ["no-web-visit", "inactivity"]


def test_settings_change_replaces_only_the_settings(document):
    new = drafts.settings_change(document, settings={"lookback_days": 60, "engagement_floor": None})
    assert (new["lookback_days"], new["engagement_floor"], new["slug"]) == (60, None, document["slug"])
    with pytest.raises(ValueError, match="not model settings: slug"):
        drafts.settings_change(document, settings={"slug": "other"})


# --- the condition pickers -----------------------------------------------------------------------


def picked(data: dict, prefix="c"):
    form = ConditionForm({f"{prefix}-{k}": v for k, v in data.items()}, prefix=prefix)
    assert form.is_valid(), form.errors
    return form.condition


def test_pickers_build_in_between_and_groups():
    assert picked({"rows": 1, "field_0": "country", "op_0": "in", "value_0": "US, CA , 44"}) == {
        "field": "country",
        "op": "in",
        "value": ["US", "CA", 44],
    }
    assert picked({"rows": 1, "field_0": "employees", "op_0": "between", "value_0": "50, 500.5"}) == {
        "field": "employees",
        "op": "between",
        "value": [50, 500.5],
    }
    group = {
        "rows": 3,
        "combine": "any",
        "field_0": "title",
        "op_0": "contains",
        "value_0": "vp",
        "field_1": "attributes.plan",
        "op_1": "is_set",
        "field_2": "",
    }
    assert picked(group) == {
        "any": [{"field": "title", "op": "contains", "value": "vp"}, {"field": "attributes.plan", "op": "is_set"}]
    }
    assert picked({"rows": 2, "field_0": "", "field_1": ""}) is None


def test_the_json_box_takes_what_the_pickers_cannot_say():
    nested = {"not": {"all": [{"field": "country", "op": "eq", "value": "US"}]}}
    assert condition_rows(nested) is None
    unbound = ConditionForm(condition=nested, prefix="c")
    assert unbound.initial["mode"] == "json" and '"not"' in unbound.initial["json"]
    assert picked({"mode": "json", "json": '{"not": {"field": "country", "op": "eq", "value": "US"}}'}) == {
        "not": {"field": "country", "op": "eq", "value": "US"}
    }
    broken = ConditionForm({"c-mode": "json", "c-json": "{nope"}, prefix="c")
    assert not broken.is_valid() and "not valid JSON" in broken.errors["json"][0]


def test_existing_conditions_open_in_the_pickers_and_come_back_unchanged():
    for cond in (
        {"field": "industry", "op": "eq", "value": "Software"},
        {
            "any": [
                {"field": "title", "op": "contains", "value": "vp"},
                {"field": "employees", "op": "gte", "value": 10},
            ]
        },
        {"field": "country", "op": "not_in", "value": ["US", "CA"]},
        {"field": "employees", "op": "between", "value": [10, 99]},
        {"field": "email", "op": "is_empty"},
    ):
        form = ConditionForm(condition=cond, prefix="c")
        data = {f"c-{k}": v for k, v in form.initial.items()}
        again = ConditionForm(data, prefix="c")
        assert again.is_valid(), again.errors
        assert again.condition == cond


def test_a_value_is_asked_for_in_words():
    form = ConditionForm({"c-rows": 1, "c-field_0": "country", "c-op_0": "in", "c-value_0": " "}, prefix="c")
    assert not form.is_valid()
    assert form.errors["value_0"] == ["type one or more values, commas between them"]


# --- the item forms and the validator's errors by path ------------------------------------------


def test_a_criterion_form_builds_an_engagement_criterion():
    form = CriterionForm(
        {
            "key": "pricing",
            "label": "",
            "dimension": "engagement",
            "points": "15",
            "events": "page_view",
            "cap": "2",
            "cap_window_days": "",
            "item-where-rows": "1",
            "item-where-field_0": "url",
            "item-where-op_0": "contains",
            "item-where-value_0": "/pricing",
        }
    )
    assert form.is_valid(), form.errors
    assert form.to_item() == {
        "key": "pricing",
        "dimension": "engagement",
        "event": "page_view",
        "where": {"field": "url", "op": "contains", "value": "/pricing"},
        "points": 15,
        "cap": 2,
        "cap_window_days": None,
    }


def test_validator_errors_land_next_to_their_field(document):
    form = SegmentForm(
        {
            "key": "enterprise",
            "warm": "90",
            "hot": "80",
            "mql": "70",
            "item-when-rows": "2",
            "item-when-combine": "all",
            "item-when-field_0": "employees",
            "item-when-op_0": "gte",
            "item-when-value_0": "1000",
            "item-when-field_1": "employees",
            "item-when-op_1": "between",
            "item-when-value_1": "10",
        }
    )
    assert form.is_valid(), form.errors
    new = drafts.item_replace(document, section="segments", key="enterprise", item=form.to_item())
    with pytest.raises(DocumentError) as refused:
        parse_document(new)
    form.add_document_errors(refused.value.errors, base="segments[0]")
    assert form.errors["warm"] == ["warm (90) must not be above hot (80)"]
    assert form.conditions["when"].errors["value_1"] == ['between needs two numbers, the lower first: "10, 50"']


def test_decay_and_settings_forms_build_their_parts(document):
    decay = DecayForm(
        {"key": "quiet", "type": "inactivity_once", "events": "", "after_days": "60", "every_days": "", "points": "-5"}
    )
    assert decay.is_valid(), decay.errors
    assert decay.to_item() == {
        "key": "quiet",
        "type": "inactivity_once",
        "events": None,
        "after_days": 60,
        "points": -5,
    }
    settings = SettingsForm(item=document)
    data = {k: "" if v is None else v for k, v in settings.initial.items()} | {"engagement_floor": ""}
    bound = SettingsForm(data)
    assert bound.is_valid(), bound.errors
    assert bound.to_settings()["engagement_floor"] is None  # empty: no floor
    assert bound.to_settings()["grades"] == document["grades"]


# --- what a stale save can tell ------------------------------------------------------------------


def test_each_edit_records_what_it_changed(db, marketer, saleslead, document):
    draft = model_import(data=document)
    changed = copy.deepcopy(document)
    changed["criteria"][1]["points"] = 12
    model_draft_update(version=draft, data=changed, user=saleslead, revision=1)
    again = copy.deepcopy(changed)
    again["segments"][0]["thresholds"]["mql"] = 75
    model_draft_update(version=draft, data=again, user=marketer, revision=2)
    edits = draft_edits_since(version=draft, revision=1)
    assert [(e["actor"], e["revision"], e["changes"]) for e in edits] == [
        (saleslead, 2, ["criterion software points 10 → 12"]),
        (marketer, 3, ["segment enterprise threshold mql 70 → 75"]),
    ]
    assert [e["revision"] for e in draft_edits_since(version=draft, revision=2)] == [3]
    assert documents_diff(old_document=document, new_document=again) == [
        "criterion software points 10 → 12",
        "segment enterprise threshold mql 70 → 75",
    ]
