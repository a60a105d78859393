"""Model documents (spec section 3): a document breaking any rule is rejected whole, every error by JSON path."""

import copy
import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from engine.document import DocumentError, load_document_file, parse_document
from matrix.models import ModelVersion
from tests.matrix.helpers import cond, doc, edge_document, eng, fit, once, segment, step, unanswered


def valid() -> dict:
    return doc(
        slug="valid-model",
        lookback_days=90,
        half_life_days=30,
        engagement_floor=0,
        criteria=[
            fit("industry", cond("industry", "in", ["Software", "SaaS"]), 20),
            fit("student", cond("title", "contains", "student"), -30),
            eng("demo", "demo_request", 50, cap=1),
            eng("pricing", ["page_view"], 5, where=cond("url", "startswith", "/pricing"), cap=3, window=7),
        ],
        decay=[
            step("inactivity", 30, -10),
            once("no-visit", 45, -15, events=["page_view"]),
            unanswered("unopened", 60, -5, responses=["email_open", "email_click"]),
        ],
        segments=[
            segment("enterprise", cond("employees", "gte", 5000), 45, 80, 70),
            segment("default", None, 30, 60, 50),
        ],
    )


def errors_of(data) -> list[str]:
    with pytest.raises(DocumentError) as info:
        parse_document(data)
    return info.value.errors


def paths_of(data) -> list[str]:
    return [e.split(": ", 1)[0] for e in errors_of(data)]


def with_change(change) -> dict:
    data = valid()
    change(data)
    return data


def test_the_valid_document_parses():
    # Given a document following every rule, when parsed, then nothing is reported.
    spec = parse_document(valid())
    assert [c.key for c in spec.criteria] == ["industry", "student", "demo", "pricing"]
    assert [d.key for d in spec.decay] == ["inactivity", "no-visit", "unopened"]
    assert spec.engagement_floor == 0


def test_engagement_floor_absent_means_zero_and_null_means_none():
    assert parse_document(doc(engagement_floor="absent")).engagement_floor == 0
    assert parse_document(doc(engagement_floor=None)).engagement_floor is None
    assert parse_document(doc(engagement_floor=-12.5)).engagement_floor == -12.5


# --- one rule at a time ------------------------------------------------------------------------------


def _set(path, value):
    """A change putting `value` at a path given as a list of keys/indexes."""

    def change(data):
        target = data
        for step_ in path[:-1]:
            target = target[step_]
        target[path[-1]] = value

    return change


def _delete(path):
    def change(data):
        target = data
        for step_ in path[:-1]:
            target = target[step_]
        del target[path[-1]]

    return change


REJECTIONS = [
    # operators
    ("unknown op", _set(["criteria", 0, "when", "op"], "equals"), "criteria[0].when.op", "unknown operator"),
    ("op missing", _delete(["criteria", 0, "when", "op"]), "criteria[0].when.op", "unknown operator"),
    # points
    ("points float", _set(["criteria", 0, "points"], 2.5), "criteria[0].points", "between -1000 and 1000"),
    ("points string", _set(["criteria", 0, "points"], "20"), "criteria[0].points", "between -1000 and 1000"),
    ("points bool", _set(["criteria", 0, "points"], True), "criteria[0].points", "between -1000 and 1000"),
    ("points null", _set(["criteria", 0, "points"], None), "criteria[0].points", "between -1000 and 1000"),
    ("points 1001", _set(["criteria", 2, "points"], 1001), "criteria[2].points", "between -1000 and 1000"),
    ("points -1001", _set(["criteria", 1, "points"], -1001), "criteria[1].points", "between -1000 and 1000"),
    ("decay points bool", _set(["decay", 0, "points"], False), "decay[0].points", "between -1000 and 1000"),
    ("decay points -1001", _set(["decay", 0, "points"], -1001), "decay[0].points", "between -1000 and 1000"),
    # duplicate keys: criteria and decay share one namespace
    ("duplicate criterion", _set(["criteria", 1, "key"], "industry"), "criteria[1].key", "duplicate key"),
    ("criterion vs decay", _set(["decay", 1, "key"], "demo"), "decay[1].key", "duplicate key"),
    ("decay vs decay", _set(["decay", 2, "key"], "inactivity"), "decay[2].key", "duplicate key"),
    ("duplicate segment", _set(["segments", 1, "key"], "enterprise"), "segments[1].key", "duplicate segment key"),
    # segments
    ("no catch-all", _set(["segments", 1, "when"], cond("country", "eq", "US")), "segments[1].when", "catch-all"),
    ("null not last", _set(["segments", 0, "when"], None), "segments[0].when", 'only the last segment may have "when"'),
    ("no segments", _set(["segments"], []), "segments", "non-empty list"),
    ("segments missing", _delete(["segments"]), "segments", "non-empty list"),
    ("warm above hot", _set(["segments", 0, "thresholds", "warm"], 81), "segments[0].thresholds", "must not be above"),
    ("mql missing", _delete(["segments", 1, "thresholds", "mql"]), "segments[1].thresholds.mql", "must be a number"),
    ("threshold text", _set(["segments", 1, "thresholds", "hot"], "60"), "segments[1].thresholds.hot", "a number"),
    ("threshold bool", _set(["segments", 1, "thresholds", "warm"], True), "segments[1].thresholds.warm", "a number"),
    (
        "segment on events",
        _set(["segments", 0, "when", "field"], "url"),
        "segments[0].when.field",
        "unknown lead field",
    ),
    # decay
    ("decay points zero", _set(["decay", 0, "points"], 0), "decay[0].points", "decay points must be negative"),
    ("decay points positive", _set(["decay", 1, "points"], 5), "decay[1].points", "decay points must be negative"),
    ("unknown decay type", _set(["decay", 0, "type"], "inactivity"), "decay[0].type", "unknown decay type"),
    ("decay type missing", _delete(["decay", 2, "type"]), "decay[2].type", "unknown decay type"),
    ("every_days zero", _set(["decay", 0, "every_days"], 0), "decay[0].every_days", "positive integer"),
    ("every_days float", _set(["decay", 0, "every_days"], 7.5), "decay[0].every_days", "positive integer"),
    ("every_days missing", _delete(["decay", 0, "every_days"]), "decay[0].every_days", "positive integer"),
    ("after_days negative", _set(["decay", 1, "after_days"], -3), "decay[1].after_days", "positive integer"),
    ("after_days bool", _set(["decay", 2, "after_days"], True), "decay[2].after_days", "positive integer"),
    ("after_days missing", _delete(["decay", 2, "after_days"]), "decay[2].after_days", "positive integer"),
    ("unanswered no events", _set(["decay", 2, "events"], None), "decay[2].events", "required"),
    ("unanswered no responses", _set(["decay", 2, "responses"], []), "decay[2].responses", "non-empty list"),
    ("no match_property", _delete(["decay", 2, "match_property"]), "decay[2].match_property", "required"),
    ("events not kinds", _set(["decay", 1, "events"], [1, 2]), "decay[1].events", "non-empty list of kinds"),
    ("step with after_days", _set(["decay", 0, "after_days"], 3), "decay[0].after_days", "unknown field"),
    # between
    ("between one number", _set(["criteria", 0, "when"], cond("employees", "between", [5])), "value", "between"),
    ("between descending", _set(["criteria", 0, "when"], cond("employees", "between", [10, 5])), "value", "lo <= hi"),
    ("between text", _set(["criteria", 0, "when"], cond("employees", "between", ["1", "5"])), "value", "between"),
    ("between bools", _set(["criteria", 0, "when"], cond("employees", "between", [False, True])), "value", "between"),
    ("between scalar", _set(["criteria", 0, "when"], cond("employees", "between", 5)), "value", "between"),
    ("between three", _set(["criteria", 0, "when"], cond("employees", "between", [1, 2, 3])), "value", "between"),
    # numeric ops need a number
    ("gt text", _set(["criteria", 0, "when"], cond("employees", "gt", "100")), "value", "needs a number"),
    ("gte bool", _set(["criteria", 0, "when"], cond("employees", "gte", True)), "value", "needs a number"),
    ("lt null", _set(["criteria", 0, "when"], cond("employees", "lt", None)), "value", "needs a number"),
    ("lte list", _set(["criteria", 0, "when"], cond("employees", "lte", [1])), "value", "needs a number"),
    # in / not_in need a list; eq a scalar; text ops text; presence ops no value
    ("in scalar", _set(["criteria", 0, "when"], cond("industry", "in", "Software")), "value", "needs a list"),
    ("not_in scalar", _set(["criteria", 0, "when"], cond("industry", "not_in", 5)), "value", "needs a list"),
    ("in nested list", _set(["criteria", 0, "when"], cond("industry", "in", [["a"]])), "value", "needs a list"),
    ("eq list", _set(["criteria", 0, "when"], cond("industry", "eq", ["a"])), "value", "text, number or true/false"),
    ("eq null", _set(["criteria", 0, "when"], cond("industry", "eq", None)), "value", "text, number or true/false"),
    ("contains number", _set(["criteria", 0, "when"], cond("title", "contains", 5)), "value", "needs a text"),
    ("is_set with value", _set(["criteria", 0, "when"], cond("title", "eq", "x") | {"op": "is_set"}), "value", "no"),
    # condition shapes
    ("unknown lead field", _set(["criteria", 0, "when", "field"], "revenue"), "criteria[0].when.field", "unknown"),
    ("empty attribute key", _set(["criteria", 0, "when", "field"], "attributes."), "criteria[0].when.field", "key"),
    ("field with quote", _set(["criteria", 3, "where", "field"], 'u"rl'), "criteria[3].where.field", "must not"),
    ("unknown cond key", _set(["criteria", 0, "when", "values"], [1]), "criteria[0].when.values", "unknown field"),
    ("group plus field", _set(["criteria", 0, "when"], {"all": [], "field": "x"}), "criteria[0].when", "exactly one"),
    ("any not list", _set(["criteria", 0, "when"], {"any": cond("title", "is_set")}), "criteria[0].when.any", "list"),
    ("condition not object", _set(["criteria", 0, "when"], "industry = SaaS"), "criteria[0].when", "condition object"),
    ("fit without when", _set(["criteria", 0, "when"], None), "criteria[0].when", "needs a condition"),
    # slugs
    ("slug with space", _set(["slug"], "my model"), "slug", "must be a slug"),
    ("key with dot", _set(["criteria", 0, "key"], "a.b"), "criteria[0].key", "must be a slug"),
    ("key with accent", _set(["criteria", 0, "key"], "écoles"), "criteria[0].key", "must be a slug"),
    ("key trailing newline", _set(["criteria", 0, "key"], "industry\n"), "criteria[0].key", "must be a slug"),
    ("slug trailing newline", _set(["slug"], "valid-model\n"), "slug", "must be a slug"),
    ("key empty", _set(["criteria", 0, "key"], ""), "criteria[0].key", "must be a slug"),
    ("key number", _set(["decay", 0, "key"], 7), "decay[0].key", "must be a slug"),
    ("segment key slash", _set(["segments", 1, "key"], "a/b"), "segments[1].key", "must be a slug"),
    # top-level numbers
    ("lookback zero", _set(["lookback_days"], 0), "lookback_days", "positive integer"),
    ("lookback float", _set(["lookback_days"], 1.5), "lookback_days", "positive integer"),
    ("lookback text", _set(["lookback_days"], "90"), "lookback_days", "positive integer"),
    ("lookback bool", _set(["lookback_days"], True), "lookback_days", "positive integer"),
    ("half-life zero", _set(["half_life_days"], 0), "half_life_days", "positive number"),
    ("half-life negative", _set(["half_life_days"], -2.5), "half_life_days", "positive number"),
    ("half-life text", _set(["half_life_days"], "30"), "half_life_days", "positive number"),
    ("floor text", _set(["engagement_floor"], "0"), "engagement_floor", "a number or null"),
    ("floor bool", _set(["engagement_floor"], False), "engagement_floor", "a number or null"),
    # caps
    ("cap zero", _set(["criteria", 2, "cap"], 0), "criteria[2].cap", "positive integer"),
    ("cap float", _set(["criteria", 2, "cap"], 1.5), "criteria[2].cap", "positive integer"),
    ("cap text", _set(["criteria", 2, "cap"], "1"), "criteria[2].cap", "positive integer"),
    ("window negative", _set(["criteria", 3, "cap_window_days"], -7), "criteria[3].cap_window_days", "positive"),
    ("window bool", _set(["criteria", 3, "cap_window_days"], True), "criteria[3].cap_window_days", "positive"),
    # unknown fields everywhere
    ("unknown top field", _set(["owner"], "ann"), "owner", "unknown field"),
    ("unknown fit field", _set(["criteria", 0, "cap"], 1), "criteria[0].cap", "unknown field"),
    ("unknown engagement field", _set(["criteria", 2, "when"], cond("a", "is_set")), "criteria[2].when", "unknown"),
    ("unknown decay field", _set(["decay", 2, "every_days"], 3), "decay[2].every_days", "unknown field"),
    ("unknown segment field", _set(["segments", 0, "order"], 1), "segments[0].order", "unknown field"),
    ("unknown threshold", _set(["segments", 0, "thresholds", "cold"], 1), "segments[0].thresholds.cold", "unknown"),
    ("unknown grade", _set(["grades", "fit", "D"], 0), "grades.fit.D", "unknown field"),
    # other required parts
    ("bad dimension", _set(["criteria", 0, "dimension"], "intent"), "criteria[0].dimension", "'fit' or 'engagement'"),
    ("engagement no event", _set(["criteria", 2, "event"], None), "criteria[2].event", "required"),
    ("engagement empty kinds", _set(["criteria", 2, "event"], []), "criteria[2].event", "non-empty list"),
    ("criteria not list", _set(["criteria"], {}), "criteria", "must be a list"),
    ("decay not list", _set(["decay"], {}), "decay", "must be a list"),
    ("grades missing", _delete(["grades"]), "grades", "required"),
    ("grade not number", _set(["grades", "engagement", "4"], "75"), "grades.engagement.4", "a number"),
    ("name missing", _delete(["name"]), "name", "required"),
    ("label not text", _set(["criteria", 0, "label"], 5), "criteria[0].label", "must be text"),
    # bounds: every number (docs/scoring.md, "Limits of a model document")
    ("lookback 3651", _set(["lookback_days"], 3651), "lookback_days", "positive integer or null, at most 3650"),
    ("lookback 999999", _set(["lookback_days"], 999_999), "lookback_days", "at most 3650 (days)"),
    ("lookback 1e9", _set(["lookback_days"], 10**9), "lookback_days", "at most 3650"),
    ("lookback 1e308", _set(["lookback_days"], 1e308), "lookback_days", "at most 3650"),
    ("half-life 0.01", _set(["half_life_days"], 0.01), "half_life_days", "from 0.5 to 3650 (days)"),
    ("half-life 1e-300", _set(["half_life_days"], 1e-300), "half_life_days", "from 0.5 to 3650"),
    ("half-life 3651", _set(["half_life_days"], 3651), "half_life_days", "from 0.5 to 3650"),
    ("half-life 1e308", _set(["half_life_days"], 1e308), "half_life_days", "from 0.5 to 3650"),
    ("half-life huge int", _set(["half_life_days"], 10**400), "half_life_days", "from 0.5 to 3650"),
    ("cap 10001", _set(["criteria", 2, "cap"], 10_001), "criteria[2].cap", "at most 10000"),
    ("window 3651", _set(["criteria", 3, "cap_window_days"], 3651), "criteria[3].cap_window_days", "at most 3650"),
    ("every_days 3651", _set(["decay", 0, "every_days"], 3651), "decay[0].every_days", "at most 3650 (days)"),
    ("after_days 1e9", _set(["decay", 1, "after_days"], 10**9), "decay[1].after_days", "at most 3650 (days)"),
    ("unanswered 3651", _set(["decay", 2, "after_days"], 3651), "decay[2].after_days", "at most 3650"),
    ("floor 1e6+1", _set(["engagement_floor"], 1_000_001), "engagement_floor", "from -1000000 to 1000000"),
    ("floor -1e308", _set(["engagement_floor"], -1e308), "engagement_floor", "from -1000000 to 1000000"),
    ("threshold 1e6+1", _set(["segments", 0, "thresholds", "mql"], 1_000_001), "thresholds.mql", "-1000000 to"),
    ("threshold huge int", _set(["segments", 1, "thresholds", "hot"], 10**400), "thresholds.hot", "-1000000 to"),
    ("grade -1e308", _set(["grades", "fit", "C"], -1e308), "grades.fit.C", "from -1000000 to 1000000"),
    ("operand 1e16", _set(["criteria", 0, "when"], cond("employees", "gt", 1e16)), "when.value", "10^15"),
    ("operand huge int", _set(["criteria", 0, "when"], cond("employees", "eq", 10**400)), "when.value", "10^15"),
    ("between huge", _set(["criteria", 0, "when"], cond("employees", "between", [0, 10**16])), "value", "10^15"),
    ("in huge", _set(["criteria", 0, "when"], cond("employees", "in", [1, -1e300])), "when.value[1]", "10^15"),
    ("numeric text huge", _set(["criteria", 0, "when"], cond("title", "eq", "1e9999")), "value", "out of range"),
    ("numeric text tiny", _set(["criteria", 0, "when"], cond("title", "ne", "1e-5000")), "value", "out of range"),
    ("numeric text long", _set(["criteria", 0, "when"], cond("title", "in", ["1" * 101])), "value[0]", "100 digits"),
    # names read inside SQL (SQLite JSON paths), and text no database stores
    ("match_property quote", _set(["decay", 2, "match_property"], 'msg"id'), "decay[2].match_property", 'contain "'),
    ("match_property backslash", _set(["decay", 2, "match_property"], "msg\\id"), "match_property", "or \\"),
    ("match_property long", _set(["decay", 2, "match_property"], "m" * 201), "match_property", "at most 200"),
    ("field backslash", _set(["criteria", 3, "where", "field"], "u\\rl"), "criteria[3].where.field", "must not"),
    ("attribute quote", _set(["criteria", 0, "when", "field"], 'attributes.a"b'), "criteria[0].when.field", "not"),
    ("NUL in a value", _set(["criteria", 0, "when", "value"], ["So\x00ftware"]), "when.value[0]", "NUL"),
    ("NUL in a label", _set(["criteria", 1, "label"], "a\x00"), "criteria[1].label", "NUL"),
    ("lone surrogate", _set(["name"], "bad \ud800"), "name", "lone surrogate"),
    (
        "surrogate in a key",
        _set(["criteria", 0, "when"], {"field": "title", "op": "is_set", "\udfff": 1}),
        "when",
        "key",
    ),
    # sizes
    (
        "in 501 values",
        _set(["criteria", 0, "when"], cond("industry", "in", list(range(501)))),
        "when.value",
        "at most 500",
    ),
    ("51 kinds", _set(["criteria", 2, "event"], [f"k{i}" for i in range(51)]), "criteria[2].event", "at most 50"),
    (
        "101 criteria",
        lambda d: d["criteria"].extend(fit(f"x{i}", cond("title", "is_set")) for i in range(97)),
        "criteria",
        "at most 100",
    ),
    ("21 decay rules", lambda d: d["decay"].extend(step(f"s{i}", 5) for i in range(18)), "decay", "at most 20"),
    (
        "21 segments",
        lambda d: (
            d["segments"][:0].extend([])
            or d.update(segments=[segment(f"g{i}", cond("title", "is_set")) for i in range(20)] + [segment("z", None)])
        ),
        "segments",
        "at most 20",
    ),
    (
        "21 field tests",
        _set(["criteria", 0, "when"], {"any": [cond("title", "is_set")] * 21}),
        "when.any",
        "at most 20",
    ),
    (
        "21 field tests nested",
        _set(["criteria", 0, "when"], {"any": [{"all": [cond("title", "is_set")] * 11}] * 2}),
        "criteria[0].when",
        "at most 20 in one condition",
    ),
    (
        "groups 6 deep",
        _set(["criteria", 0, "when"], {"not": {"not": {"not": {"not": {"not": {"not": cond("title", "is_set")}}}}}}),
        "when.not.not.not.not.not",
        "nested more than 5",
    ),
]


@pytest.mark.parametrize(("change", "path", "message"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_a_broken_rule_is_rejected_with_its_json_path(change, path, message):
    # Given the valid document with one rule broken, when parsed, then it is rejected with that path.
    errors = errors_of(with_change(change))
    matching = [e for e in errors if e.split(": ", 1)[0].endswith(path) and message in e]
    assert matching, f"expected an error at {path} mentioning {message!r}, got {errors}"


def test_error_messages_follow_the_spec_format():
    errors = errors_of(with_change(_set(["criteria", 3, "points"], 5000)))
    assert errors == ["criteria[3].points: must be an integer between -1000 and 1000"]


def test_several_errors_are_all_listed_at_once():
    # Given a document with many problems in different places
    def change(data):
        data["lookback_days"] = 0
        data["mystery"] = True
        data["criteria"][0]["when"]["op"] = "like"
        data["criteria"][1]["points"] = 1.5
        data["criteria"][2]["key"] = "industry"
        data["criteria"][3]["where"] = {"field": "url", "op": "gt", "value": "10"}
        data["decay"][0]["points"] = 10
        data["decay"][1]["type"] = "sometimes"
        data["segments"][0]["thresholds"] = {"warm": 90, "hot": 80, "mql": 70}
        data["segments"][1]["when"] = cond("country", "eq", "US")

    # When parsed, then every one of them is reported, by path, in one error
    paths = paths_of(with_change(change))
    assert paths == [
        "mystery",
        "lookback_days",
        "criteria[0].when.op",
        "criteria[1].points",
        "criteria[2].key",
        "criteria[3].where.value",
        "decay[0].points",
        "decay[1].type",
        "segments[0].thresholds",
        "segments[1].when",
    ]
    with pytest.raises(DocumentError) as info:
        parse_document(with_change(change))
    assert str(info.value).count("\n") == len(paths)


def test_errors_inside_nested_groups_have_full_paths():
    when = {"all": [cond("industry", "eq", "x"), {"any": [cond("title", "is_set"), {"not": cond("x", "gt", "a")}]}]}
    paths = paths_of(with_change(_set(["criteria", 0, "when"], when)))
    assert paths == ["criteria[0].when.all[1].any[1].not.field", "criteria[0].when.all[1].any[1].not.value"]


def test_a_document_that_is_not_an_object_is_rejected():
    assert errors_of([1, 2]) == ["(document): must be a JSON object"]


@pytest.mark.django_db
def test_an_invalid_document_is_never_stored():
    from matrix.services import model_import

    with pytest.raises(DocumentError):
        model_import(data=with_change(_set(["criteria", 0, "points"], 1001)))
    assert not ModelVersion.objects.exists()


# --- files and commands -------------------------------------------------------------------------------


def test_yaml_and_json_files_load_to_the_same_document(tmp_path):
    data = valid()
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "m.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (tmp_path / "m.json").write_text(json.dumps(data), encoding="utf-8")
    for name in ("m.yaml", "m.yml", "m.json"):
        assert load_document_file(tmp_path / name) == data
    assert parse_document(load_document_file(tmp_path / "m.yaml")) == parse_document(data)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.json", "{not json", "not valid JSON"),
        ("m.yaml", "a: [1, 2", "not valid YAML"),
        ("m.json", b"\xff\xfe{}", "cannot read"),
        ("missing.json", None, "cannot read"),
    ],
)
def test_unreadable_model_files_are_reported(tmp_path, name, content, message):
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(DocumentError) as info:
        load_document_file(tmp_path / name)
    assert info.value.errors[0].startswith("(file): ") and message in info.value.errors[0]


@pytest.mark.django_db
def test_yaml_import_creates_a_draft_then_a_live_version(tmp_path, capsys):
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(valid(), allow_unicode=True), encoding="utf-8")
    call_command("import_model", str(path), "--note", "from yaml")
    version = ModelVersion.objects.get()
    assert (version.number, version.status, version.note) == (1, "draft", "from yaml")
    assert version.document == valid()
    call_command("import_model", str(path), "--publish")
    assert list(ModelVersion.objects.order_by("number").values_list("number", "status")) == [
        (1, "draft"),
        (2, "published"),
    ]


@pytest.mark.django_db
def test_import_model_rejects_an_invalid_file_listing_every_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(with_change(lambda d: d.update(lookback_days=-1, half_life_days="x"))))
    with pytest.raises(CommandError) as info:
        call_command("import_model", str(path))
    assert "lookback_days: must be a positive integer or null" in str(info.value)
    assert "half_life_days: must be a positive number or null" in str(info.value)
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_a_valid_document_round_trips_through_import_and_export_unchanged(tmp_path, suffix):
    # Given a valid document with unicode text, nested groups, floats and nulls
    data = valid()
    data["description"] = "Écoles et universités — 学校"
    data["criteria"][0]["when"] = {
        "any": [cond("industry", "in", ["Software", "SaaS"]), {"not": cond("attributes.tier", "between", [1.5, 3])}]
    }
    source = tmp_path / f"in.{suffix}"
    dump = yaml.safe_dump if suffix == "yaml" else lambda d: json.dumps(d, ensure_ascii=False)
    source.write_text(dump(data), encoding="utf-8")
    # When imported, published and exported again (to a file and to standard output)
    call_command("import_model", str(source), "--publish")
    target = tmp_path / "out.json"
    export_model("valid-model", output=str(target))
    # Then the exported document is the imported one, and re-importing it is a no-op on content
    exported = json.loads(target.read_text(encoding="utf-8"))
    assert exported == data
    call_command("import_model", str(target))
    export_model("valid-model", number=2, output=str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text(encoding="utf-8")) == data
    assert (tmp_path / "again.json").read_text(encoding="utf-8") == target.read_text(encoding="utf-8")


def export_model(slug, *, number=None, output="-"):
    args = [slug, "--output", output] + (["--version", str(number)] if number is not None else [])
    call_command("export_model", *args)


@pytest.mark.django_db
def test_export_model_errors():
    with pytest.raises(CommandError, match="no scoring model"):
        export_model("nope")
    call_command("import_model", "tests/fixtures/examples/b2b-saas.json")
    with pytest.raises(CommandError, match="has no version 7"):
        export_model("new-business", number=7)


@pytest.mark.django_db
def test_export_model_runs_from_the_command_line(tmp_path):
    call_command("import_model", "tests/fixtures/examples/b2b-saas.json")
    call_command("export_model", "new-business", "--version", "1", "--output", str(tmp_path / "out.json"))
    assert json.loads((tmp_path / "out.json").read_text())["slug"] == "new-business"


def test_the_parsed_spec_keeps_the_document_and_does_not_mutate_it():
    data = valid()
    before = copy.deepcopy(data)
    spec = parse_document(data)
    assert data == before and spec.document == before


def test_a_document_at_every_edge_of_the_bounds_is_accepted():
    # Given numbers, names and sizes at the very edges of docs/scoring.md's limits (5,000 field
    # tests and values in all), when parsed, then it is accepted.
    spec = parse_document(edge_document())
    assert len(spec.criteria) == 100 and len(spec.decay) == 20 and len(spec.segments) == 20


def test_a_document_with_more_than_5000_values_in_its_conditions_is_refused():
    data = doc(criteria=[fit(f"f{i}", cond("industry", "in", list(range(500)))) for i in range(10)])
    assert "(document): its conditions test 5010 fields and values in all: at most 5000" in errors_of(data)
