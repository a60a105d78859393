"""The bulk path: a model compiled to one set-based SQL statement per chunk of leads.

`compile_scores(spec, dialect, as_of, ...)` returns the SQL (and its named parameters) of a
SELECT giving, for every lead in scope, the columns of a score row with its breakdown. Its
semantics are those of engine/single.py, line for line; property tests compare the two.

Postgres does the work with its own functions (ICU lower-casing, numeric, jsonb). SQLite
calls the engine's Python value rules registered as SQL functions (sqlite_functions.py).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .document import NEGATIVE_OPS, Criterion, DecayRule, ModelSpec
from .values import NUMERIC_RE, as_number, as_text, trim

LEAD_TABLE = "leads_lead"
EVENT_TABLE = "leads_event"
USER_TABLE = "auth_user"
LEAD_COLUMNS = {
    "id": "external_id",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "company": "company",
    "title": "title",
    "industry": "industry",
    "country": "country",
    "lead_source": "lead_source",
}
NUMBER_COLUMNS = {"employees": "employees", "annual_revenue": "annual_revenue"}


@dataclass
class Params:
    values: dict = field(default_factory=dict)

    def add(self, value) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Dialect:
    """What differs between the two databases; everything else is shared SQL."""

    vendor = ""

    def __init__(self, connection=None):
        self.connection = connection


class Postgres(Dialect):
    vendor = "postgresql"
    ws = "E' \\t\\n\\r\\f\\v'"

    def trim(self, x):
        return f"btrim({x}, {self.ws})"

    def lower(self, x):
        return f'lower(({x}) COLLATE "und-x-icu")'

    def num_of_text(self, t, p: Params):
        pattern = p.add(NUMERIC_RE.pattern)
        return f"(CASE WHEN {t} ~ {pattern} THEN ({t})::numeric END)"

    def num_col(self, x):
        return f"({x})::numeric"

    def number_param(self, p: Params, value):
        return f"{p.add(as_number(value))}::numeric"

    def text_param(self, p: Params, value: str):
        return f"{p.add(value)}::text"

    def time_param(self, p: Params, value: datetime):
        return f"{p.add(value)}::timestamptz"

    def days(self, later, earlier):
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400)::float8"

    def greatest(self, *xs):
        return f"GREATEST({', '.join(xs)})"

    def least(self, *xs):
        return f"LEAST({', '.join(xs)})"

    def round2(self, x):
        return f"ROUND(({x})::numeric, 2)"

    def pow_half(self, x):
        return f"POWER(0.5::float8, {x})"

    def id_order(self, x):
        return f'{x} COLLATE "C" DESC NULLS LAST'

    # JSON values: a column and a key; `v` is the jsonb value (NULL when the key is missing).
    def json_value(self, col, key, p: Params):
        return f"({col} -> {self.text_param(p, key)})"

    def json_type(self, v):
        return f"jsonb_typeof({v})"

    def json_empty(self, v):
        return (
            f"({v} IS NULL OR jsonb_typeof({v}) = 'null' OR (jsonb_typeof({v}) = 'string' AND "
            f"{self.trim(v + ' #>> ' + chr(39) + '{}' + chr(39))} = '') OR {v} = '[]'::jsonb OR {v} = '{{}}'::jsonb)"
        )

    def json_scalar_case(self, e, string_pred, number_pred, bool_pred):
        raw = f"({e} #>> '{{}}')"
        return (
            f"(CASE jsonb_typeof({e}) WHEN 'string' THEN {string_pred(self.trim(raw))} "
            f"WHEN 'number' THEN {number_pred(raw + '::numeric')} "
            f"WHEN 'boolean' THEN {bool_pred(raw)} ELSE FALSE END)"
        )

    def json_any_element(self, v, element_pred):
        return f"EXISTS (SELECT 1 FROM jsonb_array_elements({v}) AS x(e) WHERE {element_pred('x.e')})"

    def json_is_array(self, v):
        return f"jsonb_typeof({v}) = 'array'"

    def match_key(self, col, key, p: Params):
        v = self.json_value(col, key, p)
        raw = f"({v} #>> '{{}}')"
        t = self.trim(raw)
        pattern = p.add(NUMERIC_RE.pattern)
        return (
            f"(CASE jsonb_typeof({v}) "
            f"WHEN 'number' THEN 'n:' || trim_scale({raw}::numeric)::text "
            f"WHEN 'string' THEN CASE WHEN {t} = '' THEN NULL "
            f"WHEN {t} ~ {pattern} THEN 'n:' || trim_scale(({t})::numeric)::text "
            f"ELSE 't:' || {self.lower(t)} END "
            f"WHEN 'boolean' THEN 't:' || {raw} ELSE NULL END)"
        )

    def json_build_object(self, *pairs):
        return f"jsonb_build_object({', '.join(pairs)})"

    def json_empty_array(self):
        return "'[]'::jsonb"

    def json_nested(self, x):
        return x

    def json_agg_ordered(self, expr, order, objects=False):
        return f"jsonb_agg({expr} ORDER BY {order})"

    def ids_in(self, column, ids, p: Params):
        return f"{column} = ANY({p.add(list(ids))})"

    def temp_table(self, name):
        return f"CREATE TEMP TABLE {name} ON COMMIT DROP AS"


class SQLite(Dialect):
    vendor = "sqlite"

    def trim(self, x):
        return f"trim({x}, char(32, 9, 10, 13, 12, 11))"

    def lower(self, x):
        return f"ls_lower({x})"

    def num_of_text(self, t, p: Params):
        return f"ls_num({t})"

    def num_col(self, x):
        return x

    def number_param(self, p: Params, value):
        return p.add(float(as_number(value)))

    def text_param(self, p: Params, value: str):
        return p.add(value)

    def time_param(self, p: Params, value: datetime):
        from django.db import connection

        return p.add(connection.ops.adapt_datetimefield_value(value))

    def days(self, later, earlier):
        return f"ls_days({later}, {earlier})"

    def greatest(self, *xs):
        return f"MAX({', '.join(xs)})"

    def least(self, *xs):
        return f"MIN({', '.join(xs)})"

    def round2(self, x):
        return f"ls_round2({x})"

    def pow_half(self, x):
        return f"pow(0.5, {x})"

    def id_order(self, x):
        return f"{x} DESC NULLS LAST"

    def _path(self, key, p: Params):
        return p.add('$."' + key + '"')

    def json_value(self, col, key, p: Params):
        return (col, self._path(key, p))

    def json_type(self, v):
        col, path = v
        return f"json_type({col}, {path})"

    def json_empty(self, v):
        col, path = v
        t = f"json_type({col}, {path})"
        return (
            f"({t} IS NULL OR {t} = 'null' OR ({t} = 'text' AND {self.trim(f'json_extract({col}, {path})')} = '')"
            f" OR ({t} = 'array' AND json_array_length({col}, {path}) = 0)"
            f" OR ({t} = 'object' AND json_extract({col}, {path}) = '{{}}'))"
        )

    def _scalar_case(self, type_expr, value_expr, string_pred, number_pred, bool_pred):
        return (
            f"(CASE {type_expr} WHEN 'text' THEN {string_pred(self.trim(value_expr))} "
            f"WHEN 'integer' THEN {number_pred(value_expr)} WHEN 'real' THEN {number_pred(value_expr)} "
            f"WHEN 'true' THEN {bool_pred(chr(39) + 'true' + chr(39))} "
            f"WHEN 'false' THEN {bool_pred(chr(39) + 'false' + chr(39))} ELSE FALSE END)"
        )

    def json_scalar_case(self, e, string_pred, number_pred, bool_pred):
        if isinstance(e, tuple):
            col, path = e
            return self._scalar_case(
                f"json_type({col}, {path})",
                f"json_extract({col}, {path})",
                string_pred,
                number_pred,
                bool_pred,
            )
        return self._scalar_case(f"{e}.type", f"{e}.value", string_pred, number_pred, bool_pred)

    def json_any_element(self, v, element_pred):
        col, path = v
        return f"EXISTS (SELECT 1 FROM json_each({col}, {path}) AS x WHERE {element_pred('x')})"

    def json_is_array(self, v):
        return f"{self.json_type(v)} = 'array'"

    def match_key(self, col, key, p: Params):
        path = self._path(key, p)
        return f"ls_key(json_type({col}, {path}), json_extract({col}, {path}))"

    def json_build_object(self, *pairs):
        return f"json_object({', '.join(pairs)})"

    def json_empty_array(self):
        return "json_array()"

    def json_nested(self, x):
        # Aggregates come back as JSON text; json() keeps them an array inside an object.
        return f"json({x})"

    def json_agg_ordered(self, expr, order, objects=False):
        # SQLite 3.40 has no ORDER BY inside aggregates; callers feed rows already ordered.
        return f"json_group_array(json({expr}))" if objects else f"json_group_array({expr})"

    def ids_in(self, column, ids, p: Params):
        import json

        return f"{column} IN (SELECT value FROM json_each({p.add(json.dumps(list(ids)))}))"

    def temp_table(self, name):
        return f"CREATE TEMP TABLE {name} AS"


def dialect_for(connection) -> Dialect:
    if connection.vendor == "postgresql":
        return Postgres(connection)
    if connection.vendor == "sqlite":
        return SQLite(connection)
    raise NotImplementedError(f"no scoring SQL for {connection.vendor}")


# --- conditions ---------------------------------------------------------------------------------


class _Cond:
    """Compiles one condition tree; lead fields or event properties decide the operands."""

    def __init__(self, d: Dialect, p: Params, *, lead_alias: str | None = None, props: str | None = None):
        self.d, self.p = d, p
        self.lead_alias, self.props = lead_alias, props

    def compile(self, cond) -> str:
        if cond is None:
            return "TRUE"
        if "all" in cond:
            parts = [self.compile(c) for c in cond["all"]]
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        if "any" in cond:
            parts = [self.compile(c) for c in cond["any"]]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        if "not" in cond:
            return f"(NOT {self.compile(cond['not'])})"
        op, value = cond["op"], cond.get("value")
        kind, operand = self._operand(cond["field"])
        if op in ("is_empty", "is_set"):
            empty = self._empty(kind, operand)
            return empty if op == "is_empty" else f"(NOT {empty})"
        positive = NEGATIVE_OPS.get(op, op)
        pred = f"COALESCE({self._positive(kind, operand, positive, value)}, FALSE)"
        return f"(NOT {pred})" if op in NEGATIVE_OPS else pred

    def _operand(self, name: str):
        d = self.d
        if self.props is not None:
            return "json", d.json_value(self.props, name, self.p)
        a = self.lead_alias
        if name.startswith("attributes."):
            return "json", d.json_value(f"{a}.attributes", name[len("attributes.") :], self.p)
        if name in NUMBER_COLUMNS:
            return "number", f"{a}.{NUMBER_COLUMNS[name]}"
        if name == "owner":
            return "text", f"(SELECT u.username FROM {USER_TABLE} u WHERE u.id = {a}.owner_id)"
        return "text", f"{a}.{LEAD_COLUMNS[name]}"

    def _empty(self, kind, x) -> str:
        if kind == "text":
            return f"({x} IS NULL OR {self.d.trim(x)} = '')"
        if kind == "number":
            return f"({x} IS NULL)"
        return self.d.json_empty(x)

    def _positive(self, kind, x, op, value) -> str:
        d = self.d
        if kind == "text":
            return f"({x} IS NOT NULL AND {self._on_string(d.trim(x), op, value)})"
        if kind == "number":
            return self._on_number(d.num_col(x), op, value)
        scalar = d.json_scalar_case(
            x,
            lambda t: self._on_string(t, op, value),
            lambda n: self._on_number(n, op, value),
            lambda b: self._on_bool(b, op, value),
        )

        def element(e):
            return d.json_scalar_case(
                e,
                lambda t: self._on_string(t, op, value),
                lambda n: self._on_number(n, op, value),
                lambda b: self._on_bool(b, op, value),
            )

        return f"(CASE WHEN {d.json_is_array(x)} THEN {d.json_any_element(x, element)} ELSE {scalar} END)"

    # A trimmed string t (possibly empty, which no positive op accepts).
    def _on_string(self, t, op, value) -> str:
        d, p = self.d, self.p
        if op in ("eq", "in"):
            values = value if op == "in" else [value]
            parts = []
            for v in values:
                text = d.text_param(p, as_text(v).lower())
                if as_number(v) is not None:
                    num = d.num_of_text(t, p)
                    parts.append(
                        f"(CASE WHEN {num} IS NOT NULL THEN {num} = {d.number_param(p, v)} "
                        f"ELSE {d.lower(t)} = {text} END)"
                    )
                else:
                    parts.append(f"{d.lower(t)} = {text}")
            body = " OR ".join(parts) if parts else "FALSE"
            return f"({t} <> '' AND ({body}))"
        if op in ("contains", "startswith", "endswith"):
            needle = _like_escape(trim(value).lower())
            pattern = {"contains": f"%{needle}%", "startswith": f"{needle}%", "endswith": f"%{needle}"}[op]
            return f"({t} <> '' AND {d.lower(t)} LIKE {d.text_param(p, pattern)} ESCAPE '\\')"
        return self._on_number(d.num_of_text(t, p), op, value)

    def _on_number(self, n, op, value) -> str:
        d, p = self.d, self.p
        if op in ("eq", "in"):
            values = value if op == "in" else [value]
            parts = [f"{n} = {d.number_param(p, v)}" for v in values if as_number(v) is not None]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        if op in ("contains", "startswith", "endswith"):
            return "FALSE"
        if op == "between":
            return f"({n} BETWEEN {d.number_param(p, value[0])} AND {d.number_param(p, value[1])})"
        sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"({n} {sym} {d.number_param(p, value)})"

    def _on_bool(self, b, op, value) -> str:
        if op in ("eq", "in"):
            values = value if op == "in" else [value]
            # A boolean has no number, so it compares as text ("true"/"false") with any value.
            parts = [f"{b} = {self.d.text_param(self.p, as_text(v).lower())}" for v in values]
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        return "FALSE"


# --- the statement --------------------------------------------------------------------------------


@dataclass
class Compiled:
    sql: str
    params: dict
    columns: tuple[str, ...] = (
        "lead_id",
        "score",
        "fit",
        "engagement",
        "segment",
        "tier",
        "grade",
        "mql",
        "breakdown",
    )


def _case(column: str, mapping: dict[int, str], default: str) -> str:
    if not mapping:
        return default
    whens = " ".join(f"WHEN {i} THEN {expr}" for i, expr in mapping.items())
    return f"(CASE {column} {whens} ELSE {default} END)"


def compile_scores(
    spec: ModelSpec,
    dialect: Dialect,
    as_of: datetime,
    *,
    id_range: tuple[int, int] | None = None,
    lead_ids: list[int] | None = None,
) -> Compiled:
    """One SELECT scoring every lead in scope (all, a pk range, or a list of pks) at `as_of`."""
    d, p = dialect, Params()
    asof = d.time_param(p, as_of)
    horizon = d.time_param(p, as_of - timedelta(days=spec.lookback_days)) if spec.lookback_days else None
    lead_cond = _Cond(d, p, lead_alias="l")

    where = ["TRUE"]
    if id_range is not None:
        where.append(f"l.id BETWEEN {p.add(id_range[0])} AND {p.add(id_range[1])}")
    if lead_ids is not None:
        where.append(d.ids_in("l.id", lead_ids, p))

    fit = spec.fit_criteria
    fit_flags = [f"(CASE WHEN {lead_cond.compile(c.when)} THEN 1 ELSE 0 END) AS f{c.index}" for c in fit]
    seg_case = " ".join(f"WHEN {lead_cond.compile(s.when)} THEN {s.index}" for s in spec.segments if s.when is not None)
    seg_expr = f"(CASE {seg_case} ELSE {spec.segments[-1].index} END)" if seg_case else str(spec.segments[-1].index)
    ctes = [
        "lf AS MATERIALIZED (SELECT l.id, l.created_at, "
        + "".join(f"{flag}, " for flag in fit_flags)
        + f"{seg_expr} AS seg FROM {LEAD_TABLE} l WHERE {' AND '.join(where)})"
    ]
    fit_sum = " + ".join(f"lf.f{c.index} * {c.points}" for c in fit) or "0"

    eng = spec.engagement_criteria
    line_parts = []
    for c in fit:
        obj = d.json_build_object(
            "'type'",
            "'criterion'",
            "'key'",
            d.text_param(p, c.key),
            "'dimension'",
            "'fit'",
            "'points'",
            str(c.points),
            "'count'",
            "1",
            "'events'",
            d.json_empty_array(),
        )
        line_parts.append(f"SELECT lf.id AS lead_id, {c.index} AS ord, {obj} AS obj FROM lf WHERE lf.f{c.index} = 1")

    if eng:
        ctes.extend(_engagement_ctes(spec, d, p, eng, asof, horizon))
        obj = d.json_build_object(
            "'type'",
            "'criterion'",
            "'key'",
            "ek.key",
            "'dimension'",
            "'engagement'",
            "'points'",
            d.round2("agg.pts"),
            "'count'",
            "agg.n",
            "'events'",
            d.json_nested("agg.ids"),
        )
        key_rows = ", ".join(f"({c.index}, {d.text_param(p, c.key)})" for c in eng)
        ctes.append(f"ek(idx, key) AS (VALUES {key_rows})")
        line_parts.append(f"SELECT agg.lead_id, agg.idx AS ord, {obj} AS obj FROM agg JOIN ek ON ek.idx = agg.idx")

    joins, magnitudes = _decay_parts(spec, d, p, ctes, as_of, asof, horizon)
    crit_sum = "COALESCE(eng.crit_sum, 0)" if eng else "0"
    eng_join = "LEFT JOIN eng ON eng.lead_id = lf.id " if eng else ""
    mags = "".join(f", {m} AS a{i}" for i, m in enumerate(magnitudes))
    ctes.append(
        f"fin AS (SELECT lf.id AS lead_id, lf.seg, ({fit_sum}) AS fit_raw, {crit_sum} AS crit_sum{mags} "
        f"FROM lf {eng_join}{joins})"
    )
    effective = _effective_decay(spec, d, len(magnitudes))
    eff_cols = "".join(f", {e} AS d{i}" for i, e in enumerate(effective))
    ctes.append(f"dec AS (SELECT fin.*{eff_cols} FROM fin)")
    decay_total = " + ".join(f"dec.d{i}" for i in range(len(effective))) or "0"
    ctes.append(f"tot AS (SELECT dec.*, dec.crit_sum - ({decay_total}) AS eng_raw FROM dec)")
    ctes.append(
        "res AS (SELECT tot.*, "
        f"{d.round2('tot.fit_raw')} AS fit, {d.round2('tot.eng_raw')} AS engagement, "
        f"{d.round2('tot.fit_raw + tot.eng_raw')} AS score FROM tot)"
    )
    for i, rule in enumerate(spec.decay):
        obj = d.json_build_object(
            "'type'", "'decay'", "'key'", d.text_param(p, rule.key), "'points'", f"-{d.round2(f'res.d{i}')}"
        )
        line_parts.append(f"SELECT res.lead_id, {10000 + rule.index} AS ord, {obj} AS obj FROM res WHERE res.d{i} > 0")

    if line_parts:
        ctes.append("lines AS (" + " UNION ALL ".join(line_parts) + ")")
        ctes.append(
            f"bd AS (SELECT lead_id, {d.json_agg_ordered('obj', 'ord', objects=True)} AS breakdown "
            "FROM (SELECT lead_id, ord, obj FROM lines ORDER BY lead_id, ord) AS o GROUP BY lead_id)"
        )
        breakdown = f"COALESCE(bd.breakdown, {d.json_empty_array()})"
        bd_join = "LEFT JOIN bd ON bd.lead_id = res.lead_id"
    else:
        breakdown, bd_join = d.json_empty_array(), ""

    seg_key = _case("res.seg", {s.index: d.text_param(p, s.key) for s in spec.segments}, "NULL")
    tiers = {}
    mqls = {}
    for s in spec.segments:
        hot, warm, mql = (d.number_param(p, v) for v in (s.hot, s.warm, s.mql))
        tiers[s.index] = (
            f"(CASE WHEN res.score >= {hot} THEN 'hot' WHEN res.score >= {warm} THEN 'warm' ELSE 'cold' END)"
        )
        mqls[s.index] = f"(res.score >= {mql})"
    fa, fb, fc = (d.number_param(p, v) for v in spec.grade_fit)
    e4, e3, e2 = (d.number_param(p, v) for v in spec.grade_engagement)
    grade = (
        f"((CASE WHEN res.fit >= {fa} THEN 'A' WHEN res.fit >= {fb} THEN 'B' "
        f"WHEN res.fit >= {fc} THEN 'C' ELSE 'D' END)"
        f" || (CASE WHEN res.engagement >= {e4} THEN '4' WHEN res.engagement >= {e3} THEN '3' "
        f"WHEN res.engagement >= {e2} THEN '2' ELSE '1' END))"
    )
    select = (
        f"SELECT res.lead_id AS lead_id, res.score AS score, res.fit AS fit, res.engagement AS engagement, "
        f"{seg_key} AS segment, {_case('res.seg', tiers, 'NULL')} AS tier, {grade} AS grade, "
        f"{_case('res.seg', mqls, 'FALSE')} AS mql, {breakdown} AS breakdown FROM res {bd_join}"
    )
    return Compiled("WITH " + ",\n".join(ctes) + "\n" + select, p.values)


def _kinds_in(d: Dialect, p: Params, column: str, kinds) -> str:
    return f"{column} IN ({', '.join(d.text_param(p, k) for k in kinds)})"


def _engagement_ctes(spec, d: Dialect, p: Params, eng: tuple[Criterion, ...], asof, horizon) -> list[str]:
    rows = ", ".join(f"({c.index}, {d.text_param(p, k)})" for c in eng for k in c.events)
    props = _Cond(d, p, props="e.properties")
    wheres = _case("ck.idx", {c.index: props.compile(c.where) for c in eng if c.where is not None}, "TRUE")
    window = [f"e.occurred_at <= {asof}"]
    if horizon:
        window.append(f"e.occurred_at >= {horizon}")
    age = d.days(asof, "e.occurred_at")
    buckets = _case(
        "ev.idx",
        {c.index: f"FLOOR(ev.age / {c.cap_window_days})" for c in eng if c.cap and c.cap_window_days},
        "0",
    )
    caps = _case("rk.idx", {c.index: f"rk.rn <= {c.cap}" for c in eng if c.cap}, "TRUE")
    points = _case("rk.idx", {c.index: str(c.points) for c in eng}, "0")
    if spec.half_life_days is not None:
        points = f"{points} * {d.pow_half(f'rk.age / {d.number_param(p, spec.half_life_days)}')}"
        if d.vendor == "postgresql":
            points = f"({points})::float8"
    order = f"rk.occurred_at DESC, {d.id_order('rk.xid')}, rk.pk DESC"
    return [
        f"ck(idx, kind) AS (VALUES {rows})",
        "ev AS (SELECT e.id AS pk, e.lead_id, e.external_id AS xid, e.occurred_at, ck.idx, "
        f"{age} AS age FROM {EVENT_TABLE} e JOIN lf ON lf.id = e.lead_id JOIN ck ON ck.kind = e.kind "
        f"WHERE {' AND '.join(window)} AND {wheres})",
        f"rk AS (SELECT ev.*, ROW_NUMBER() OVER (PARTITION BY ev.lead_id, ev.idx, {buckets} "
        f"ORDER BY ev.occurred_at DESC, {d.id_order('ev.xid')}, ev.pk DESC) AS rn FROM ev)",
        f"agg AS (SELECT rk.lead_id, rk.idx, COUNT(*) AS n, SUM({points}) AS pts, "
        f"{d.json_agg_ordered('rk.xid', order)} AS ids FROM "
        f"(SELECT * FROM rk ORDER BY lead_id, idx, occurred_at DESC, pk DESC) AS rk WHERE {caps} "
        "GROUP BY rk.lead_id, rk.idx)",
        "eng AS (SELECT lead_id, SUM(pts) AS crit_sum FROM agg GROUP BY lead_id)",
    ]


def _decay_parts(spec: ModelSpec, d: Dialect, p: Params, ctes: list[str], as_of: datetime, asof, horizon):
    """CTEs for decay inputs; returns the joins onto lf and each rule's magnitude (|amount|)."""
    joins, magnitudes = [], []
    idle_rules = [r for r in spec.decay if r.type != "unanswered"]
    if idle_rules:
        cols = []
        for r in idle_rules:
            if r.events is None:
                cols.append(f"MAX(e.occurred_at) AS last{r.index}")
            else:
                cols.append(
                    f"MAX(CASE WHEN {_kinds_in(d, p, 'e.kind', r.events)} THEN e.occurred_at END) AS last{r.index}"
                )
        ctes.append(
            f"lastev AS (SELECT e.lead_id, {', '.join(cols)} FROM {EVENT_TABLE} e JOIN lf ON lf.id = e.lead_id "
            f"WHERE e.occurred_at <= {asof} GROUP BY e.lead_id)"
        )
        joins.append("LEFT JOIN lastev ON lastev.lead_id = lf.id")
    for r in spec.decay:
        size = abs(r.points)
        if r.type == "unanswered":
            ctes.append(_unanswered_cte(spec, r, d, p, as_of, asof, horizon))
            joins.append(f"LEFT JOIN un{r.index} ON un{r.index}.lead_id = lf.id")
            magnitudes.append(f"({size} * COALESCE(un{r.index}.n, 0))")
            continue
        idle = d.greatest("0", d.days(asof, f"COALESCE(lastev.last{r.index}, lf.created_at)"))
        if r.type == "inactivity_step":
            magnitudes.append(f"({size} * FLOOR({idle} / {r.every_days}))")
        else:
            magnitudes.append(f"(CASE WHEN {idle} >= {r.after_days} THEN {size} ELSE 0 END)")
    return " ".join(joins), magnitudes


def _unanswered_cte(spec, r: DecayRule, d: Dialect, p: Params, as_of: datetime, asof, horizon) -> str:
    cutoff = d.time_param(p, as_of - timedelta(days=r.after_days))
    send_key = d.match_key("s.properties", r.match_property, p)
    resp_key = d.match_key("r.properties", r.match_property, p)
    cond = [
        _kinds_in(d, p, "s.kind", r.events),
        f"s.occurred_at <= {cutoff}",
        f"{send_key} IS NOT NULL",
    ]
    if horizon:
        cond.append(f"s.occurred_at >= {horizon}")
    return (
        f"un{r.index} AS (SELECT s.lead_id, COUNT(*) AS n FROM {EVENT_TABLE} s JOIN lf ON lf.id = s.lead_id "
        f"WHERE {' AND '.join(cond)} AND NOT EXISTS (SELECT 1 FROM {EVENT_TABLE} r WHERE r.lead_id = s.lead_id "
        f"AND {_kinds_in(d, p, 'r.kind', r.responses)} AND r.occurred_at <= {asof} AND r.id <> s.id "
        f"AND {resp_key} = {send_key}) GROUP BY s.lead_id)"
    )


def _effective_decay(spec: ModelSpec, d: Dialect, count: int) -> list[str]:
    """Spec 5 in closed form: rule k takes min(a_k, max(0, headroom - a_0 - ... - a_{k-1}))."""
    if spec.engagement_floor is None:
        return [f"fin.a{i}" for i in range(count)]
    floor = repr(float(spec.engagement_floor))
    head = d.greatest("0", f"fin.crit_sum - {floor}")
    out = []
    for i in range(count):
        before = " + ".join(f"fin.a{j}" for j in range(i)) or "0"
        out.append(d.least(f"fin.a{i}", d.greatest("0", f"{head} - ({before})")))
    return out
