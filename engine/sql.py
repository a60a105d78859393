"""The bulk path: a model compiled to one set-based SQL statement per chunk of leads.

`compile_scores(spec, dialect, as_of, tables=..., ...)` returns the SQL (and its named parameters)
of a SELECT giving, for every lead in scope, the columns of a score row with its breakdown. Its
semantics are those of engine/single.py, line for line; property tests compare the two. The
engine knows no models: the caller names the tables (`Tables`).

Postgres does the work with its own functions (ICU lower-casing, numeric, jsonb). SQLite
calls the engine's Python value rules registered as SQL functions (sqlite_functions.py).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from engine.document import NEGATIVE_OPS, Criterion, DecayRule, ModelSpec, structure_key
from engine.fields import COLD, HOT, LEAD_TEXT_FIELDS, NUMBER_FIELDS, WARM
from engine.lines import DECAY, ENGAGEMENT, FIT
from engine.values import HALF_LIVES_MAX, NUMERIC_MAX_LENGTH, NUMERIC_RE, as_number, as_text, trim

# The column of each lead field a condition names (the owner is its user's username, a join).
LEAD_COLUMNS = {"id": "external_id", **{name: name for name in LEAD_TEXT_FIELDS}}
NUMBER_COLUMNS = {name: name for name in NUMBER_FIELDS}
MAX_BOUND_DAYS = 1_000_000


@dataclass(frozen=True)
class Tables:
    """The tables the statements read (and engine/reuse.py's UPDATE writes), as the caller names them."""

    lead: str
    event: str
    user: str  # read for the `owner` field: the owner's username
    score: str
    pending: str  # leads waiting for real-time scoring: their stored counts are not reused


# Values go in as named parameters (%(p0)s...), the style psycopg and Django's SQLite backend
# both take. Numbers are written into the SQL as literals only where they come from the parsed
# ModelSpec (points, caps, windows, days: ints; the engagement floor: a float; criterion and rule
# indexes), each bounded by the document validator (engine/document.py: POINTS_RANGE, CAP_MAX,
# DAYS_MAX, LEVEL_LIMIT), or are this module's constants; text, operands and thresholds never are.
@dataclass
class Params:
    values: dict = field(default_factory=dict)

    def add(self, value) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _Template:
    """A dialect function whose SQL is one expression: the dialect's template `name` filled with
    the operands (`joined`: all of them as one comma-separated list)."""

    def __init__(self, name: str, *, joined: bool = False):
        self.name, self.joined = name, joined

    def __get__(self, dialect, owner=None):
        if dialect is None:
            return self
        template = getattr(dialect, self.name)
        if self.joined:
            return lambda *operands: template.format(", ".join(operands))
        return lambda *operands: template.format(*operands)


class Dialect:
    """What differs between the two databases; everything else is shared SQL."""

    vendor = ""

    def __init__(self, connection=None):
        self.connection = connection

    def session_settings(self) -> list[str]:
        """Statements to run, in the scoring statement's transaction, before it."""
        return []

    def nested_loops(self, on: bool) -> list[str]:
        """Statements letting the planner use nested-loop joins (or not) for the rest of the transaction."""
        return []

    def serial(self) -> list[str]:
        """Statements keeping each of the transaction's statements in its own process (no parallel workers)."""
        return []

    def level(self, name: str, select: str) -> str:
        """A CTE read once, whose columns are computed once per row (not once per reference)."""
        return f"{name} AS MATERIALIZED ({select})"

    # Whether an event property is looked up once, in a level of its own below its forms (Cond):
    # where a level costs a projection, not a copy of every row.
    lookup_level = False

    def lower_trimmed(self, raw: str) -> str:
        """lower(trim(raw)), for `raw` a column: a name cheap to repeat in the expression."""
        return self.lower(self.trim(raw))

    # The functions whose SQL is one expression around their operands: each dialect's template
    # of the same name in capitals, with the operands in order for {0}, {1}, ...
    trim = _Template("TRIM")  # without leading and trailing whitespace, as Python's str.strip()
    lower = _Template("LOWER")
    num_col = _Template("NUM_COL")  # a number column as the engine computes with it
    number_text = _Template("NUMBER_TEXT")
    days = _Template("DAYS")  # (later, earlier): fractional days between them
    greatest = _Template("GREATEST", joined=True)
    least = _Template("LEAST", joined=True)
    round2 = _Template("ROUND2")
    cents_diff = _Template("CENTS_DIFF")  # a - b, of two values already rounded to cents
    pow_half = _Template("POW_HALF")
    id_order = _Template("ID_ORDER")  # descending in code-point order, nulls last: Python's sort of ids
    pick_one = _Template("PICK_ONE")  # (expr, condition): the group's one value where it holds
    agg_if = _Template("AGG_IF")  # (fn, arg, condition): the aggregate over the rows where it holds
    position = _Template("POSITION")  # (haystack, needle): where it starts, from 1; 0 if nowhere
    double = _Template("DOUBLE")  # a number literal as a double
    basis_array = _Template("BASIS_ARRAY")  # a stored basis as the dialect indexes it (basis_item)
    regexp_drop = _Template("REGEXP_DROP")  # (x, pattern): x without every match of the pattern
    bytes_of = _Template("BYTES_OF")  # the length of a text in bytes
    chop = _Template("CHOP")  # a text without its last character
    json_is_empty_container = _Template("JSON_IS_EMPTY_CONTAINER")  # [] or {}
    temp_table = _Template("TEMP_TABLE")  # CREATE ... AS of a table dropped at the end of the transaction
    keys_in = _Template("KEYS_IN")  # (column, table): the column's value is a lead_id of the table, looked up by index

    def json_any_element(self, v, element_pred):
        """Whether an element of the JSON array `v` meets `element_pred` (called with the element's SQL)."""
        return self.JSON_ANY_ELEMENT.format(v, element_pred(self.JSON_ELEMENT))


class Postgres(Dialect):
    vendor = "postgresql"
    # \x0b, not \v: Postgres has no \v escape, so E'\v' is the letter v (trimmed off "Kyiv").
    TRIM = "btrim({0}, E' \\t\\n\\r\\f\\x0b')"
    # ICU's root locale lower-cases as Python's str.lower() does (final sigma, dotted I).
    LOWER = 'lower(({0}) COLLATE "und-x-icu")'
    # Through text: float8::numeric keeps only 15 digits, while float8's text output (the default
    # extra_float_digits = 1) is the shortest exact form, the digits Python's repr() gives.
    NUM_COL = "({0})::text::numeric"
    NUMBER_TEXT = "({0})::text"
    DAYS = "(EXTRACT(EPOCH FROM ({0} - {1})) / 86400)::float8"
    GREATEST = "GREATEST({0})"
    LEAST = "LEAST({0})"
    # A double turns into numeric through its text (15 digits, values.round2): 0.29 µs a value,
    # several per lead. A whole number below 1e9 (most of them: whole points, whole decay steps)
    # takes the exact shortcut through bigint, the same cents in 0.15 µs (psql); a numeric
    # argument within float8's precision of a whole number below 1e9 rounds to it all the same.
    ROUND2 = (
        "(CASE WHEN ({0})::float8 = trunc(({0})::float8) AND abs(({0})::float8) < 1e9::float8 "
        "THEN round(({0})::float8::bigint::numeric, 2) ELSE ROUND(({0})::numeric, 2) END)"
    )
    CENTS_DIFF = "({0} - {1})"  # numeric: exact
    POW_HALF = "POWER(0.5::float8, {0})"
    DOUBLE = "{0}::float8"
    ID_ORDER = '{0} COLLATE "C" DESC NULLS LAST'
    PICK_ONE = "MAX({0}) FILTER (WHERE {1})"
    AGG_IF = "{0}({1}) FILTER (WHERE {2})"
    POSITION = "strpos({0}, {1})"
    # The stored text '[1,0,3]' as the array literal '{1,0,3}': half the time of string_to_array
    # and its cast per row (0.55 s against 1.1 s over 1M scores).
    BASIS_ARRAY = "(('{{' || btrim({0}, '[]') || '}}')::int[])"
    REGEXP_DROP = "regexp_replace({0}, {1}, '', 'g')"
    BYTES_OF = "octet_length({0})"  # from the header: length() would count the characters
    CHOP = "left({0}, -1)"
    TEMP_TABLE = "CREATE TEMP TABLE {0} ON COMMIT DROP AS"
    # An array's values become index keys: a scan reads the listed leads' rows only, where
    # IN (SELECT ...) reads every row of the id range and a join drops the others afterwards.
    KEYS_IN = "{0} = ANY(ARRAY(SELECT lead_id FROM {1}))"
    JSON_IS_EMPTY_CONTAINER = "({0} = '[]'::jsonb OR {0} = '{{}}'::jsonb)"
    JSON_ANY_ELEMENT, JSON_ELEMENT = "EXISTS (SELECT 1 FROM jsonb_array_elements({0}) AS x(e) WHERE {1})", "x.e"

    def session_settings(self) -> list[str]:
        return [
            # The statement sorts and hashes a chunk's events; the default 4 MB spills to disk.
            "SET LOCAL work_mem = '128MB'",
            # The planner's row estimates for the CTE chain are wildly high, so it would
            # JIT-compile with full optimization: ~10 s of compiling per chunk, for nothing.
            "SET LOCAL jit = off",
            # Its joins are of sets (a chunk's events with the criteria, sends with responses).
            # Estimated through CTEs, a few thousand rows looked like a few, and Postgres matched
            # 5,000 leads' sends to their responses in a nested loop: 95M comparisons, 18 s.
            *self.nested_loops(False),
        ]

    def nested_loops(self, on: bool) -> list[str]:
        return [f"SET LOCAL enable_nestloop = {'on' if on else 'off'}"]

    def serial(self) -> list[str]:
        return ["SET LOCAL max_parallel_workers_per_gather = 0"]

    def level(self, name: str, select: str) -> str:
        # A subquery that cannot be pulled up into its reader (OFFSET 0) computes its columns once
        # per row and hands the row on; MATERIALIZED would also copy every row into a tuple store
        # and read it back (~0.5 s per level for 250,000 leads).
        return f"{name} AS ({select} OFFSET 0)"

    # A property's forms (its type, trimmed, lower-cased...) would each look it up in the jsonb:
    # four lookups per page view for a `contains` on its url (docs/performance.md, "Why the
    # rescore is built as it is").
    lookup_level = True

    def lower_trimmed(self, raw: str) -> str:
        # ICU's lower costs ~0.26 µs a value; text that is all ASCII (one byte per character, in
        # UTF-8) lower-cases the same in the "C" collation, in a fraction of that. Each branch names
        # its collation again: the two explicit ones may not meet in one CASE.
        if not self._utf8:
            return super().lower_trimmed(raw)
        t = self.trim(raw)
        return (
            f'(CASE WHEN octet_length({raw}) = length({raw}) THEN lower({t} COLLATE "C") COLLATE "default" '
            f'ELSE lower({t} COLLATE "und-x-icu") COLLATE "default" END)'
        )

    @cached_property
    def _utf8(self) -> bool:
        # In another server encoding a character may be one byte and not ASCII.
        if self.connection is None:
            return False
        self.connection.ensure_connection()
        return self.connection.connection.info.parameter_status("server_encoding") == "UTF8"

    def num_of_text(self, t, p: Params):
        pattern = p.add(NUMERIC_RE.pattern)
        return f"(CASE WHEN length({t}) <= {NUMERIC_MAX_LENGTH} AND {t} ~ {pattern} THEN ({t})::numeric END)"

    def number_param(self, p: Params, value):
        return f"{p.add(as_number(value))}::numeric"

    def text_param(self, p: Params, value: str):
        return f"{p.add(value)}::text"

    def time_param(self, p: Params, value: datetime):
        return f"{p.add(value)}::timestamptz"

    # JSON values: `col` a jsonb column, `key` a top-level key.
    def json_text(self, col, key, p: Params):
        return f"({col} ->> {self.text_param(p, key)})"

    def json_get(self, col, key, p: Params):
        return f"({col} -> {self.text_param(p, key)})"

    def json_type_norm(self, col, key, p: Params):
        return self.json_type_of(self.json_get(col, key, p))

    def json_number(self, col, key, p: Params):
        return self.json_number_of(self.json_get(col, key, p))

    # The same of a value already looked up (lookup_level).
    def json_type_of(self, v):
        return f"jsonb_typeof({v})"

    def json_number_of(self, v):
        return f"(CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v} #>> '{{}}')::numeric END)"

    def json_booltext(self, col, key, p: Params):
        return self.json_text(col, key, p)

    def json_element_case(self, e, string_pred, number_pred, bool_pred):
        raw = f"({e} #>> '{{}}')"
        return (
            f"(CASE jsonb_typeof({e}) WHEN 'string' THEN {string_pred(self.trim(raw))} "
            f"WHEN 'number' THEN {number_pred(raw + '::numeric')} "
            f"WHEN 'boolean' THEN {bool_pred(raw)} ELSE FALSE END)"
        )

    def match_key(self, col, key, p: Params):
        v = self.json_get(col, key, p)
        raw = f"({v} #>> '{{}}')"
        t = self.trim(raw)
        pattern = p.add(NUMERIC_RE.pattern)
        return (
            f"(CASE jsonb_typeof({v}) "
            f"WHEN 'number' THEN 'n:' || trim_scale({raw}::numeric)::text "
            f"WHEN 'string' THEN CASE WHEN {t} = '' THEN NULL "
            # Every match of the numeric pattern starts with one of these: most keys (message ids)
            # skip the regex on their first character.
            f"WHEN strpos('+-.0123456789', left({t}, 1)) > 0 "
            f"AND length({t}) <= {NUMERIC_MAX_LENGTH} AND {t} ~ {pattern} "
            f"THEN 'n:' || trim_scale(({t})::numeric)::text "
            f"ELSE 't:' || {self.lower(t)} END "
            f"WHEN 'boolean' THEN 't:' || {raw} ELSE NULL END)"
        )

    # The breakdown is assembled and stored as JSON text, never parsed in SQL: building jsonb
    # values line by line (jsonb_build_object, jsonb_agg, to_jsonb of an array), or even parsing
    # the finished text once, cost more than the scoring itself. Fragments that never vary (a fit
    # line, the keys) are parameters.
    def score_words(self, x):
        # A score as the pages write it (to the cent, no trailing zeros: "47", "47.5"); the text
        # of a 2-decimal numeric always has its point, so trimming zeros stops there.
        return f"rtrim(rtrim(round(({x})::numeric, 2)::text, '0'), '.')"

    def json_quote_agg(self, x, where=None):
        # Fed in order by the caller: no ORDER BY inside the aggregate, which Postgres 15 would
        # run as one sort per group. The aggregate consumes the rows of an ordered subquery in
        # that order (the alternative the Postgres manual gives for ordered input).
        agg = f"string_agg(COALESCE(to_json({x})::text, 'null'), ', ')"
        return f"{agg} FILTER (WHERE {where})" if where else agg

    # Instants of the reuse bounds (docs/scoring.md, "Reusing counts"). Seconds, not days: a day
    # interval would follow the session's time zone over a daylight-saving change. The clamp keeps
    # a bound ~2,700 years out rather than out of range when a rule's days are absurdly large.
    def plus_days(self, ts, days):
        return f"({ts} + LEAST({days}, {MAX_BOUND_DAYS}) * INTERVAL '86400 seconds')"

    def earliest(self, *xs):
        return xs[0] if len(xs) == 1 else f"LEAST({', '.join(xs)})"

    far_future = "'9999-12-31 00:00:00+00'::timestamptz"
    null_time = "NULL::timestamptz"

    def basis_item(self, array, i):
        return f"{array}[{i + 1}]"

    def basis_item_of(self, col, i):
        # One item of the stored text, without parsing it all.
        return f"split_part(btrim({col}, '[]'), ',', {i + 1})::int"

    def ids_in(self, column, ids, p: Params):
        return f"{column} = ANY({p.add(list(ids))})"


class SQLite(Dialect):
    vendor = "sqlite"
    TRIM = "trim({0}, char(32, 9, 10, 13, 12, 11))"
    LOWER = "ls_lower({0})"
    NUM_COL = "{0}"
    NUMBER_TEXT = "({0})"
    DAYS = "ls_days({0}, {1})"
    GREATEST = "MAX({0})"
    LEAST = "MIN({0})"
    ROUND2 = "ls_round2({0})"
    CENTS_DIFF = "ls_round2({0} - {1})"  # doubles, so rounded again (0.3 - 0.1 is not 0.2)
    POW_HALF = "pow(0.5, {0})"
    DOUBLE = "{0}"
    ID_ORDER = "{0} DESC NULLS LAST"
    PICK_ONE = "MAX(CASE WHEN {1} THEN {0} END)"
    AGG_IF = "{0}(CASE WHEN {2} THEN {1} END)"
    POSITION = "instr({0}, {1})"
    BASIS_ARRAY = "{0}"
    REGEXP_DROP = "ls_regexp_drop({0}, {1})"
    BYTES_OF = "length(CAST({0} AS BLOB))"
    CHOP = "substr({0}, 1, length({0}) - 1)"
    TEMP_TABLE = "CREATE TEMP TABLE {0} AS"
    KEYS_IN = "{0} IN (SELECT lead_id FROM {1})"
    JSON_IS_EMPTY_CONTAINER = "({0} IN ('[]', '{{}}'))"
    JSON_ANY_ELEMENT, JSON_ELEMENT = "EXISTS (SELECT 1 FROM json_each({0}) AS x WHERE {1})", "x"

    def num_of_text(self, t, p: Params):
        return f"ls_num({t})"

    def number_param(self, p: Params, value):
        return p.add(float(as_number(value)))

    def text_param(self, p: Params, value: str):
        return p.add(value)

    def time_param(self, p: Params, value: datetime):
        # As Django stores an aware datetime in SQLite: naive UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
        return p.add(str(value.astimezone(UTC).replace(tzinfo=None)))

    def _path(self, key, p: Params):
        # SQLite (3.40) compares a quoted path label with a key's text as stored, escapes and all:
        # Django stores JSON with json.dumps (non-ASCII and control characters as \uXXXX), so the
        # label is the key written the same way. A key with " or \ is refused by the validator.
        return p.add('$."' + json.dumps(key)[1:-1] + '"')

    def json_text(self, col, key, p: Params):
        return f"json_extract({col}, {self._path(key, p)})"

    def json_get(self, col, key, p: Params):
        # Arrays and objects come back as JSON text, which json_each() reads.
        return f"json_extract({col}, {self._path(key, p)})"

    def json_type_norm(self, col, key, p: Params):
        t = f"json_type({col}, {self._path(key, p)})"
        return (
            f"(CASE {t} WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            f"WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE {t} END)"
        )

    def json_number(self, col, key, p: Params):
        path = self._path(key, p)
        return f"(CASE WHEN json_type({col}, {path}) IN ('integer', 'real') THEN json_extract({col}, {path}) END)"

    def json_booltext(self, col, key, p: Params):
        return f"json_type({col}, {self._path(key, p)})"

    def json_element_case(self, e, string_pred, number_pred, bool_pred):
        return (
            f"(CASE {e}.type WHEN 'text' THEN {string_pred(self.trim(e + '.value'))} "
            f"WHEN 'integer' THEN {number_pred(e + '.value')} WHEN 'real' THEN {number_pred(e + '.value')} "
            f"WHEN 'true' THEN {bool_pred(chr(39) + 'true' + chr(39))} "
            f"WHEN 'false' THEN {bool_pred(chr(39) + 'false' + chr(39))} ELSE FALSE END)"
        )

    def match_key(self, col, key, p: Params):
        path = self._path(key, p)
        return f"ls_key(json_type({col}, {path}), json_extract({col}, {path}))"

    def score_words(self, x):
        # As on Postgres; printf always writes the point. (%% is one % once the parameters are filled.)
        return f"rtrim(rtrim(printf('%%.2f', {x}), '0'), '.')"

    def json_quote_agg(self, x, where=None):
        # SQLite 3.40 has no ORDER BY inside aggregates; callers feed rows already ordered.
        # group_concat skips NULLs, and json_quote(NULL) is the text 'null': only `where` drops rows.
        quoted = f"json_quote({x})"
        return f"group_concat({f'CASE WHEN {where} THEN {quoted} END' if where else quoted}, ', ')"

    def plus_days(self, ts, days):
        return f"ls_plus_days({ts}, MIN({days}, {MAX_BOUND_DAYS}))"

    far_future = "'9999-12-31 00:00:00'"
    null_time = "NULL"

    def earliest(self, *xs):
        # SQLite's min() of several values is NULL if any is: absent bounds become the far future.
        if len(xs) == 1:
            return xs[0]
        return f"NULLIF(MIN({', '.join(f'COALESCE({x}, {self.far_future})' for x in xs)}), {self.far_future})"

    def basis_item(self, array, i):
        return f"json_extract({array}, '$[{i}]')"

    def basis_item_of(self, col, i):
        return self.basis_item(col, i)

    def ids_in(self, column, ids, p: Params):
        return f"{column} IN (SELECT value FROM json_each({p.add(json.dumps(list(ids)))}))"


def dialect_for(connection) -> Dialect:
    if connection.vendor == "postgresql":
        return Postgres(connection)
    if connection.vendor == "sqlite":
        return SQLite(connection)
    raise NotImplementedError(f"no scoring SQL for {connection.vendor}")


# --- conditions ---------------------------------------------------------------------------------


class _Derived:
    """Per-row values a condition needs (a field trimmed, lower-cased, read as a number...).

    Each is computed once per row in a level (`Dialect.level`) and named there; conditions then
    read the names. Without this, every `lower(trim(title))` in every criterion would be evaluated
    again for every row: the planner does not share common subexpressions.
    """

    def __init__(self, alias: str, prefix: str = "x"):
        self.alias, self.prefix = alias, prefix
        self.columns: dict[str, str] = {}
        self._names: dict[tuple, str] = {}

    def add(self, key: tuple, expr_factory) -> str:
        name = self._names.get(key)
        if name is None:
            name = f"{self.prefix}{len(self._names)}"
            self._names[key] = name
            self.columns[name] = expr_factory()
        return f"{self.alias}.{name}"

    def select_list(self) -> str:
        return "".join(f", {expr} AS {name}" for name, expr in self.columns.items())


class _Text:
    """A text field: trimmed, lower-cased and numeric forms, each derived on first use. `plain`:
    `raw` is a column, which the lower-cased form may name more than once (Dialect.lower_trimmed)."""

    def __init__(self, c: "Cond", key, raw: str, *, plain: bool = False):
        self.c, self.key, self.raw, self.plain = c, key, raw, plain

    def isnull(self) -> str:
        return f"{self.raw} IS NULL"

    def t(self) -> str:
        return self.c.derived.add((self.key, "t"), lambda: self.c.d.trim(self.raw))

    def lt(self) -> str:
        d = self.c.d
        return self.c.derived.add(
            (self.key, "lt"), lambda: d.lower_trimmed(self.raw) if self.plain else d.lower(d.trim(self.raw))
        )

    def nt(self) -> str:
        return self.c.derived.add((self.key, "nt"), lambda: self.c.d.num_of_text(self.c.d.trim(self.raw), self.c.p))


class _Json(_Text):
    """A JSON value (an attribute or an event property): its type plus the text forms.

    With a lookup level (Cond `lookups`), the value and its text are looked up there, once, and
    the forms derived from those columns; otherwise each form looks the value up itself."""

    def __init__(self, c: "Cond", key, col: str, name: str):
        d, p = c.d, c.p
        self.col, self.name, self.looked_up = col, name, None
        if c.lookups is None:
            super().__init__(c, key, d.json_text(col, name, p))
            return
        self.looked_up = c.lookups.add((key, "value"), lambda: d.json_get(col, name, p))
        super().__init__(c, key, c.lookups.add((key, "text"), lambda: d.json_text(col, name, p)), plain=True)

    def type(self) -> str:
        d, v = self.c.d, self.looked_up
        make = (lambda: d.json_type_of(v)) if v else (lambda: d.json_type_norm(self.col, self.name, self.c.p))
        return self.c.derived.add((self.key, "type"), make)

    def value(self) -> str:
        if self.looked_up:
            return self.looked_up
        return self.c.derived.add((self.key, "value"), lambda: self.c.d.json_get(self.col, self.name, self.c.p))

    def number(self) -> str:
        d, v = self.c.d, self.looked_up
        make = (lambda: d.json_number_of(v)) if v else (lambda: d.json_number(self.col, self.name, self.c.p))
        return self.c.derived.add((self.key, "number"), make)

    def booltext(self) -> str:
        if self.looked_up:  # Postgres: a boolean's text, as json_booltext gives it
            return self.raw
        return self.c.derived.add((self.key, "bool"), lambda: self.c.d.json_booltext(self.col, self.name, self.c.p))


class Cond:
    """Compiles condition trees over one relation: lead fields, or event properties.

    `users` names the user table, which the lead field `owner` reads. With `lookups`, where the
    dialect has a lookup level (Dialect.lookup_level), the properties are looked up in a level of
    their own below the forms' (its columns: `lookups.select_list()`), read as `out_alias` too."""

    def __init__(
        self,
        d: Dialect,
        p: Params,
        *,
        raw_alias: str,
        out_alias: str,
        props: str | None = None,
        users: str = "",
        lookups: bool = False,
    ):
        self.d, self.p = d, p
        self.raw, self.props, self.users = raw_alias, props, users
        self.derived = _Derived(out_alias)
        self.lookups = _Derived(out_alias, prefix="j") if lookups and d.lookup_level else None
        self._operands: dict[str, tuple] = {}

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
        if name not in self._operands:
            self._operands[name] = self._make_operand(name)
        return self._operands[name]

    def _make_operand(self, name: str):
        a = self.raw
        if self.props is not None:
            return "json", _Json(self, name, self.props, name)
        if name.startswith("attributes."):
            return "json", _Json(self, name, f"{a}.attributes", name[len("attributes.") :])
        if name in NUMBER_COLUMNS:
            column = f"{a}.{NUMBER_COLUMNS[name]}"
            return "number", self.derived.add((name, "n"), lambda: self.d.num_col(column))
        if name == "owner":
            return "text", _Text(self, name, f"(SELECT u.username FROM {self.users} u WHERE u.id = {a}.owner_id)")
        return "text", _Text(self, name, f"{a}.{LEAD_COLUMNS[name]}", plain=True)

    def _empty(self, kind, x) -> str:
        if kind == "number":
            return f"({x} IS NULL)"
        if kind == "text":
            return f"({x.t()} IS NULL OR {x.t()} = '')"
        ty = x.type()
        return (
            f"({ty} IS NULL OR {ty} = 'null' OR ({ty} = 'string' AND {x.t()} = '') "
            f"OR ({ty} IN ('array', 'object') AND {self.d.json_is_empty_container(x.value())}))"
        )

    def _positive(self, kind, x, op, value) -> str:
        d = self.d
        if kind == "number":
            return self._on_number(x, op, value)
        if kind == "text":
            return f"({x.t()} IS NOT NULL AND {self._on_string(x.t(), op, value, x.lt, x.nt)})"
        ty = x.type()

        def element(e):
            return d.json_element_case(
                e,
                lambda t: self._on_string(t, op, value),
                lambda n: self._on_number(n, op, value),
                lambda b: self._on_bool(b, op, value),
            )

        return (
            f"(CASE {ty} WHEN 'string' THEN {self._on_string(x.t(), op, value, x.lt, x.nt)} "
            f"WHEN 'number' THEN {self._on_number(x.number, op, value)} "
            f"WHEN 'boolean' THEN {self._on_bool(x.booltext, op, value)} "
            f"WHEN 'array' THEN {d.json_any_element(x.value(), element)} ELSE FALSE END)"
        )

    # A trimmed string t (possibly empty, which no positive op accepts); lt() gives lower(t) and
    # nt() its number, passed in when they are derived columns. Operands (here and in _on_number
    # and _on_bool) are taken only by the ops that read them: a derived column nobody reads would
    # still be computed for every row, and carried through the statement.
    def _on_string(self, t, op, value, lt=None, nt=None) -> str:
        d, p = self.d, self.p
        if op in ("eq", "in", "contains", "startswith", "endswith"):
            lt = lt() if lt else d.lower(t)
        if op in ("eq", "in"):
            values = value if op == "in" else [value]
            # One IN list per kind of value rather than one test per value: a list of 500 values
            # would otherwise be an expression 500 deep (SQLite refuses more than 1,000).
            numeric = [v for v in values if as_number(v) is not None]
            texts = [v for v in values if as_number(v) is None]
            parts = []
            if numeric:
                # A numeric string compares numerically with a numeric value, as text otherwise.
                num = nt() if nt else d.num_of_text(t, p)
                parts.append(
                    f"(CASE WHEN {num} IS NOT NULL THEN {num} IN ({self._numbers(numeric)}) "
                    f"ELSE {lt} IN ({self._texts(numeric)}) END)"
                )
            if texts:
                parts.append(f"{lt} IN ({self._texts(texts)})")
            body = " OR ".join(parts) if parts else "FALSE"
            return f"({t} <> '' AND ({body}))"
        if op in ("contains", "startswith", "endswith"):
            needle = _like_escape(trim(value).lower())
            pattern = {"contains": f"%{needle}%", "startswith": f"{needle}%", "endswith": f"%{needle}"}[op]
            return f"({t} <> '' AND {lt} LIKE {d.text_param(p, pattern)} ESCAPE '\\')"
        return self._on_number(nt or (lambda: d.num_of_text(t, p)), op, value)

    def _on_number(self, n, op, value) -> str:
        d, p = self.d, self.p
        if op in ("contains", "startswith", "endswith"):
            return "FALSE"
        if op in ("eq", "in"):
            numbers = [v for v in (value if op == "in" else [value]) if as_number(v) is not None]
            if not numbers:
                return "FALSE"
            n = n() if callable(n) else n
            return f"({n} IN ({self._numbers(numbers)}))"
        n = n() if callable(n) else n
        if op == "between":
            return f"({n} BETWEEN {d.number_param(p, value[0])} AND {d.number_param(p, value[1])})"
        sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
        return f"({n} {sym} {d.number_param(p, value)})"

    def _on_bool(self, b, op, value) -> str:
        values = value if op == "in" else [value]
        if op not in ("eq", "in") or not values:
            return "FALSE"
        b = b() if callable(b) else b
        # A boolean has no number, so it compares as text ("true"/"false") with any value.
        return f"({b} IN ({self._texts(values)}))"

    def _numbers(self, values) -> str:
        return ", ".join(self.d.number_param(self.p, v) for v in values)

    def _texts(self, values) -> str:
        """The values as the lower-cased text eq compares with (a boolean's is true/false)."""
        return ", ".join(self.d.text_param(self.p, as_text(v).lower()) for v in values)


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


# With basis=True the statement also gives what a later rescore may reuse (docs/scoring.md).
BASIS_COLUMNS = Compiled.columns + ("basis", "stable_until")


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
    tables: Tables,
    id_range: tuple[int, int] | None = None,
    lead_ids: list[int] | None = None,
    only_in: str | None = None,
    few: bool = False,
    basis: bool = False,
) -> Compiled:
    """One SELECT scoring every lead in scope (all, a pk range, a list of pks, and/or the leads
    listed in the `lead_id` column of table `only_in`) at `as_of`. `few`: the leads of `only_in`
    are a small part of the range, and their rows are looked up by index rather than filtered
    from the range's.

    With `basis`, two more columns: the counts the score was made of and the instant until which
    they hold (None for a model whose scores cannot be reused, see `structure_key`).
    """
    d, p = dialect, Params()
    asof = d.time_param(p, as_of)
    horizon = d.time_param(p, as_of - timedelta(days=spec.lookback_days)) if spec.lookback_days else None
    track = basis and structure_key(spec) is not None

    def scope(column: str) -> str:
        parts = []
        if id_range is not None:
            parts.append(f"{column} BETWEEN {p.add(id_range[0])} AND {p.add(id_range[1])}")
        if lead_ids is not None:
            parts.append(d.ids_in(column, lead_ids, p))
        if only_in is not None:
            parts.append(d.keys_in(column, only_in) if few else f"{column} IN (SELECT lead_id FROM {only_in})")
        return " AND ".join(parts) or "TRUE"

    # Leads: conditions first, so the derived columns they need are known for `lb`.
    lc = Cond(d, p, raw_alias="l", out_alias="lb", users=tables.user)
    fit = spec.fit_criteria
    flags = "".join(f", (CASE WHEN {lc.compile(c.when)} THEN 1 ELSE 0 END) AS f{c.index}" for c in fit)
    seg_expr = segment_case(spec, lc)
    ctes = [
        d.level(
            "lb", f"SELECT l.id, l.created_at{lc.derived.select_list()} FROM {tables.lead} l WHERE {scope('l.id')}"
        ),
        d.level("lf", f"SELECT lb.id, lb.created_at{flags}, {seg_expr} AS seg FROM lb"),
    ]
    fit_sum = " + ".join(f"lf.f{c.index} * {c.points}" for c in fit) or "0"

    eng = spec.engagement_criteria
    fin_cols = ["lf.*", f"({fit_sum}) AS fit_raw"]
    joins = []
    bounds = []  # instants at which a count may change (track only)
    ec = Cond(d, p, raw_alias="e", out_alias="ep", props="e.properties", lookups=True)
    wheres = {c.index: ec.compile(c.where) for c in eng if c.where is not None}
    ctes.extend(events_cte(spec, d, p, ec, as_of, asof, horizon, scope("e.lead_id"), track, tables.event))
    if eng:
        ctes.extend(engagement_ctes(spec, d, p, eng, wheres, asof, horizon, track))
        # Only the sum joins here: the (wide) breakdown lines join once, at the very end, rather
        # than being carried through every level below (and copied by SQLite's materialized ones).
        joins.append("LEFT JOIN eng ON eng.lead_id = lf.id")
        fin_cols.append("COALESCE(eng.crit_sum, 0) AS crit_sum")
        fin_cols.extend(f"eng.v{c.index} AS v{c.index}" for c in eng)
        if track:
            bounds.append("eng.until")
    else:
        fin_cols.append("0 AS crit_sum")

    decay_joins, units = _decay_parts(spec, d, p, ctes, as_of, asof, horizon, scope, track, bounds, tables.event)
    joins.extend(decay_joins)
    fin_cols.extend(f"({abs(r.points)} * {u}) AS a{i}" for i, (r, u) in enumerate(zip(spec.decay, units, strict=True)))
    if track:
        fin_cols.extend(f"{u} AS u{i}" for i, u in enumerate(units))
        fin_cols.append(f"COALESCE({d.earliest(*bounds) if bounds else d.null_time}, {d.far_future}) AS stable_until")
    ctes.append(d.level("fin", f"SELECT {', '.join(fin_cols)} FROM lf {' '.join(joins)}"))

    # The breakdown in document order: fit lines, the engagement line of each criterion, decay.
    # An engagement line's points are its share of the rounded running total (docs/scoring.md,
    # "Rounding"): the lines then add up to the rounded engagement exactly.
    lines = []
    before = "res.fit"
    for c in spec.criteria:
        if c.is_fit:
            line = json.dumps([FIT, c.key, c.points])
            lines.append(f"(CASE WHEN res.f{c.index} = 1 THEN {d.text_param(p, line)} END)")
        else:
            head = d.text_param(p, json.dumps([ENGAGEMENT, c.key])[:-1] + ", ")
            share = d.number_text(d.cents_diff(f"res.c{c.index}", before))
            lines.append(f"(CASE WHEN eng.t{c.index} IS NOT NULL THEN {head} || {share} || eng.t{c.index} END)")
            before = f"res.c{c.index}"

    def breakdown(decay_lines: list[str]) -> str:
        # JSON text, stored as text (scoring.models.BreakdownField): no parse in the statement.
        return f"'[' || rtrim({lines_listed(lines + decay_lines)}, ',') || ']'"

    extra = ""
    if basis:
        if track:
            parts = [f"res.f{c.index}" if c.is_fit else f"COALESCE(eng.n{c.index}, 0)" for c in spec.criteria]
            parts += [f"CAST(res.u{i} AS INTEGER)" for i in range(len(spec.decay))]
            parts.append("res.seg")
            joined = " || ',' || ".join(parts)
            extra = f", '[' || {joined} || ']' AS basis, res.stable_until AS stable_until"
        else:
            extra = f", NULL AS basis, {d.null_time} AS stable_until"
    sql = statement_finish(
        spec,
        d,
        p,
        ctes,
        breakdown=breakdown,
        extra=extra,
        join=" LEFT JOIN eng ON eng.lead_id = res.id" if eng else "",
        criteria=[(c.index, f"COALESCE(dec.v{c.index}, 0)") for c in eng],
    )
    return Compiled(sql, p.values, BASIS_COLUMNS if basis else Compiled.columns)


def segment_case(spec: ModelSpec, lc: Cond) -> str:
    """The index of the lead's segment: the first whose condition holds (the last has none)."""
    whens = " ".join(f"WHEN {lc.compile(s.when)} THEN {s.index}" for s in spec.segments if s.when is not None)
    last = spec.segments[-1].index
    return f"(CASE {whens} ELSE {last} END)" if whens else str(last)


def lines_listed(lines: list[str]) -> str:
    # Each present line followed by a comma (absent ones are NULL, so vanish); callers cut the last.
    return " || ".join(f"COALESCE({line} || ',', '')" for line in lines) or "''"


def statement_finish(
    spec: ModelSpec,
    d: Dialect,
    p: Params,
    ctes: list[str],
    *,
    breakdown,
    extra: str,
    join: str,
    criteria: list[tuple[int, str]] | None = None,
) -> str:
    """The levels every path shares, from `fin` (fit_raw, crit_sum, seg and each decay rule's
    magnitude a<i>) to the score row: effective decay, rounding, segment, tier, grade, MQL, and the
    breakdown, whose decay lines are made here and passed to `breakdown(decay_lines)`.

    `criteria` gives each engagement criterion's points (by index, over `dec`) when the breakdown
    has lines for them: the running total then adds them one by one, and `res.c<index>` is the
    rounded running total after each (see below). Without it the running total adds crit_sum at
    once (stored counts: whole points, so the order of additions cannot matter)."""
    effective = _effective_decay(spec, d, len(spec.decay))
    eff_cols = "".join(f", {e} AS d{i}" for i, e in enumerate(effective))
    ctes = ctes + [d.level("dec", f"SELECT fin.*{eff_cols} FROM fin")]
    # The lines' running total (docs/scoring.md, "Rounding"): fit (whole), then each engagement
    # criterion in document order, then each rule's decay, one step at a time as the single-lead
    # path (values.running_cents) takes them. The score is the rounded end of it (the rounded sum
    # of the unrounded parts, spec 6); a line's points are its step's share of the rounded running
    # total (c<index> after a criterion, q<i> after rule i), so the lines add up to the score exactly.
    decay_total = "dec.crit_sum"
    for i in range(len(effective)):
        decay_total = f"({decay_total} - dec.d{i})"
    total, rounded = "dec.fit_raw", []
    if criteria is None:
        total = f"({total} + dec.crit_sum)"
    for index, points in criteria or []:
        total = f"({total} + {points})"
        rounded.append(f", {d.round2(total)} AS c{index}")
    for i in range(len(effective)):
        total = f"({total} - dec.d{i})"
        rounded.append(f", {d.round2(total)} AS q{i}")
    ctes.append(f"tot AS (SELECT dec.*, {decay_total} AS eng_raw, {total} AS run_raw{''.join(rounded)} FROM dec)")
    ctes.append(
        d.level(
            "res",
            f"SELECT tot.*, {d.round2('tot.fit_raw')} AS fit, {d.round2('tot.eng_raw')} AS engagement, "
            f"{d.round2('tot.run_raw')} AS score FROM tot",
        )
    )
    decay_lines = []
    before = f"res.c{criteria[-1][0]}" if criteria else d.round2("res.fit_raw + res.crit_sum")
    for i, rule in enumerate(spec.decay):
        head = d.text_param(p, json.dumps([DECAY, rule.key])[:-1] + ", ")
        points = d.number_text(d.cents_diff(f"res.q{i}", before))
        decay_lines.append(f"(CASE WHEN res.d{i} > 0 THEN {head} || {points} || ']' END)")
        before = f"res.q{i}"

    seg_key = _case("res.seg", {s.index: d.text_param(p, s.key) for s in spec.segments}, "NULL")
    tiers, mqls = {}, {}
    for s in spec.segments:
        hot, warm, mql = (d.number_param(p, v) for v in (s.hot, s.warm, s.mql))
        tiers[s.index] = (
            f"(CASE WHEN res.score >= {hot} THEN '{HOT}' WHEN res.score >= {warm} THEN '{WARM}' ELSE '{COLD}' END)"
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
    columns = {
        "score": "res.score",
        "fit": "res.fit",
        "engagement": "res.engagement",
        "segment": seg_key,
        "tier": _case("res.seg", tiers, "NULL"),
        "grade": grade,
        "mql": _case("res.seg", mqls, "FALSE"),
    }
    outputs = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    select = f"SELECT res.id AS lead_id, {outputs}, {breakdown(decay_lines)} AS breakdown{extra} FROM res{join}"
    return "WITH " + ",\n".join(ctes) + "\n" + select


def _kinds_in(d: Dialect, p: Params, column: str, kinds) -> str:
    return f"{column} IN ({', '.join(d.text_param(p, k) for k in kinds)})"


def events_cte(
    spec: ModelSpec, d: Dialect, p: Params, ec: "Cond", as_of: datetime, asof, horizon, scope, track, events: str
):
    """`evs`: the chunk's events that engagement criteria or `unanswered` rules read, in ONE pass.

    A chunk is a range of lead ids, and a lead's events are scattered over the whole table, so
    every pass over a chunk's events reads nearly every page of it. The engagement criteria,
    the sends and the responses of each `unanswered` rule would be three such passes; here they
    are one, with what each reader needs computed once per row: the property forms the `where`
    conditions use (ep.x*; on Postgres from the properties looked up once, ep.j*, in a level `evj`
    below), and each rule's match key (k<n>, only on its kinds).
    The idle-time decay (lastev) reads every event of any age, so it does not share this pass: it
    reads the (lead_id, kind, occurred_at) index alone.

    A level, not a MATERIALIZED CTE: read by the engagement criteria alone (a recount, a model
    without `unanswered`), Postgres passes each row on instead of copying the chunk's events into
    a tuple store and reading them back (a fifth to a third off the events part of a recount's
    statement, docs/performance.md); read by more than one reader, Postgres materializes it.
    """
    eng = spec.engagement_criteria
    unanswered = [r for r in spec.decay if r.type == "unanswered"]
    if not eng and not unanswered:
        return []
    wanted, keys = [], ""
    if eng:
        kinds = sorted({k for c in eng for k in c.events})
        wanted.append(
            " AND ".join([_kinds_in(d, p, "e.kind", kinds)] + ([f"e.occurred_at >= {horizon}"] if horizon else []))
        )
    for r in unanswered:
        cutoff = d.time_param(p, as_of - timedelta(days=r.after_days))
        send = [_kinds_in(d, p, "e.kind", r.events)]
        if not track:  # tracking also needs the sends not yet old enough: when they will be
            send.append(f"e.occurred_at <= {cutoff}")
        if horizon:
            send.append(f"e.occurred_at >= {horizon}")
        wanted.append(" AND ".join(send))
        wanted.append(_kinds_in(d, p, "e.kind", r.responses))  # responses: any age up to as_of
        both = sorted(set(r.events) | set(r.responses))
        key = d.match_key("e.properties", r.match_property, p)
        keys += f", (CASE WHEN {_kinds_in(d, p, 'e.kind', both)} THEN {key} END) AS k{r.index}"

    def read(columns: str) -> str:
        return (
            f"SELECT e.id AS pk, e.lead_id, e.external_id AS xid, e.kind, e.occurred_at{columns}{keys} "
            f"FROM {events} e WHERE {scope} AND e.occurred_at <= {asof} "
            f"AND ({' OR '.join(f'({w})' for w in wanted)})"
        )

    if ec.lookups is None or not ec.lookups.columns:
        return [d.level("evs", read(ec.derived.select_list()))]
    # The properties looked up once (Cond `lookups`), their forms in the level above.
    alias = ec.derived.alias
    return [
        d.level("evj", read(ec.lookups.select_list())),
        d.level("evs", f"SELECT {alias}.*{ec.derived.select_list()} FROM evj {alias}"),
    ]


def engagement_ctes(
    spec, d: Dialect, p: Params, eng: tuple[Criterion, ...], wheres: dict, asof, horizon, track: bool
) -> list[str]:
    rows = ", ".join(f"({c.index}, {d.text_param(p, k)})" for c in eng for k in c.events)
    window = [_case("ck.idx", wheres, "TRUE")]
    if horizon:
        # evs also holds older sends and responses for the unanswered rules.
        window.insert(0, f"ep.occurred_at >= {horizon}")
    buckets = _case(
        "ev.idx", {c.index: f"FLOOR(ev.age / {c.cap_window_days})" for c in eng if c.cap and c.cap_window_days}, "0"
    )
    caps = _case("rk.idx", {c.index: f"rk.rn <= {c.cap}" for c in eng if c.cap}, "TRUE")
    points = _case("rk.idx", {c.index: str(c.points) for c in eng}, "0")
    if spec.half_life_days is not None:
        halvings = d.least(f"rk.age / {d.number_param(p, spec.half_life_days)}", repr(HALF_LIVES_MAX))
        points = f"{points} * {d.pow_half(halvings)}"
        if d.vendor == "postgresql":
            points = f"({points})::float8"
    # Most recent first; equal times: the greater id first (spec 4).
    # A cap window's buckets count back from as_of, so within a criterion, bucket then time
    # descending IS time descending: the ranking's order (below) is already the order the ids
    # are listed in, and the planner sees that only if both spell the same keys.
    order = f"rk.lead_id, rk.idx, rk.bucket, rk.occurred_at DESC, {d.id_order('rk.xid')}, rk.pk DESC"
    # A criterion's breakdown line is JSON text: a fixed head (one parameter per criterion, added
    # by the final select with the line's rounded share of the running total, see `statement_finish`),
    # and this tail with the count and the event ids.
    tail = "', ' || agg.n || ', [' || agg.ids || ']]'"
    crit_sum = "0"
    for c in eng:
        crit_sum = f"({crit_sum} + COALESCE(engv.v{c.index}, 0))"
    pivots = "".join(
        f", {d.pick_one(tail, f'agg.idx = {c.index}')} AS t{c.index}"
        f", {d.pick_one('agg.pts', f'agg.idx = {c.index}')} AS v{c.index}"
        for c in eng
    )
    if not track:
        agg = (
            f"agg AS (SELECT rk.lead_id, rk.idx, COUNT(*) AS n, SUM({points}) AS pts, "
            f"{d.json_quote_agg('rk.xid')} AS ids FROM (SELECT * FROM rk WHERE {caps} ORDER BY {order}) AS rk "
            "GROUP BY rk.lead_id, rk.idx)"
        )
        until = ""
    else:
        # Every row of a criterion, counted or not, for the first instant a count may change:
        # a counted event leaving the lookback (the uncounted ones are older, and leave first
        # without changing anything), or, where a windowed criterion has more events than its cap,
        # any of them moving to the next window (which can let an uncounted one count, or put one
        # over the cap). With no more events than the cap, every bucket is under it whatever the
        # windows: all count, and only leaving the lookback changes that.
        leave = f"CASE WHEN rk.ok THEN {d.plus_days('rk.occurred_at', str(spec.lookback_days))} END"
        moves = {
            c.index: f"(CASE WHEN COUNT(*) > {c.cap} THEN MIN("
            f"{d.plus_days('rk.occurred_at', f'(rk.bucket + 1) * {c.cap_window_days}')}) END)"
            for c in eng
            if c.cap and c.cap_window_days
        }
        bounds = ([f"MIN({leave})"] if spec.lookback_days else []) + ([_case("rk.idx", moves, "NULL")] if moves else [])
        agg = (
            f"agg AS (SELECT rk.lead_id, rk.idx, {d.agg_if('COUNT', '1', 'rk.ok')} AS n, "
            f"{d.agg_if('SUM', points, 'rk.ok')} AS pts, {d.json_quote_agg('rk.xid', 'rk.ok')} AS ids, "
            f"{d.earliest(*bounds) if bounds else d.null_time} AS until "
            f"FROM (SELECT rk.*, {caps} AS ok FROM rk ORDER BY {order}) AS rk GROUP BY rk.lead_id, rk.idx)"
        )
        until = ", MIN(agg.until) AS until" + "".join(
            f", {d.pick_one('agg.n', f'agg.idx = {c.index}')} AS n{c.index}" for c in eng
        )
    return [
        f"ck(idx, kind) AS (VALUES {rows})",
        # The age only for the rows that earn points (not for every send and response in evs).
        f"ev AS (SELECT ep.pk, ep.lead_id, ep.xid, ep.occurred_at, {d.days(asof, 'ep.occurred_at')} AS age, ck.idx "
        f"FROM evs ep JOIN ck ON ck.kind = ep.kind WHERE {' AND '.join(window)})",
        f"rk AS (SELECT ev.*, ROW_NUMBER() OVER (PARTITION BY ev.lead_id, ev.idx, ev.bucket "
        f"ORDER BY ev.occurred_at DESC, {d.id_order('ev.xid')}, ev.pk DESC) AS rn "
        f"FROM (SELECT ev.*, {buckets} AS bucket FROM ev) AS ev)",
        agg,
        f"engv AS (SELECT agg.lead_id{pivots}{until} FROM agg GROUP BY agg.lead_id)",
        # The criteria's total in document order, one addition at a time as the single-lead path adds.
        d.level("eng", f"SELECT engv.*, {crit_sum} AS crit_sum FROM engv"),
    ]


def _decay_parts(
    spec: ModelSpec,
    d: Dialect,
    p: Params,
    ctes: list[str],
    as_of: datetime,
    asof,
    horizon,
    scope,
    track,
    bounds,
    events: str,
):
    """CTEs for decay inputs; returns the joins onto lf and each rule's units (its magnitude is
    |points| times that: steps of idle time, 1 or 0, unanswered sends). With `track`, appends to
    `bounds` the instants at which a rule's units, or the lead's events, change."""
    joins, units = [], []
    idle_rules = [r for r in spec.decay if r.type != "unanswered"]
    if idle_rules or track:
        cols = []
        # Tracking reads the events after as_of too: the first of them is when the inputs change.
        seen = f"e.occurred_at <= {asof}"
        for r in idle_rules:
            kinds = seen if r.events is None else f"{_kinds_in(d, p, 'e.kind', r.events)} AND {seen}"
            cols.append(f"MAX(CASE WHEN {kinds} THEN e.occurred_at END) AS last{r.index}")
        if track:
            cols.append(f"MIN(CASE WHEN e.occurred_at > {asof} THEN e.occurred_at END) AS next_event")
            bounds.append("lastev.next_event")
        # Reads lead_id, kind and occurred_at only: an index-only scan of event_lead_kind_time.
        ctes.append(
            f"lastev AS (SELECT e.lead_id, {', '.join(cols)} FROM {events} e "
            f"WHERE {scope('e.lead_id')}{'' if track else ' AND ' + seen} GROUP BY e.lead_id)"
        )
        joins.append("LEFT JOIN lastev ON lastev.lead_id = lf.id")
    for r in spec.decay:
        if r.type == "unanswered":
            ctes.append(_unanswered_cte(r, d, p, as_of, horizon))
            joins.append(f"LEFT JOIN un{r.index} ON un{r.index}.lead_id = lf.id")
            units.append(f"COALESCE(un{r.index}.n, 0)")
            if track:
                ctes.append(_unanswered_bound_cte(r, d, p, as_of, horizon, spec.lookback_days))
                joins.append(f"LEFT JOIN ub{r.index} ON ub{r.index}.lead_id = lf.id")
                bounds.append(f"ub{r.index}.until")
            continue
        base = f"COALESCE(lastev.last{r.index}, lf.created_at)"
        idle = d.greatest("0", d.days(asof, base))
        if r.type == "inactivity_step":
            units.append(f"FLOOR({idle} / {r.every_days})")
            bounds.append(d.plus_days(base, f"(FLOOR({idle} / {r.every_days}) + 1) * {r.every_days}"))
        else:
            units.append(f"(CASE WHEN {idle} >= {r.after_days} THEN 1 ELSE 0 END)")
            bounds.append(f"(CASE WHEN {idle} < {r.after_days} THEN {d.plus_days(base, str(r.after_days))} END)")
    if not track:
        bounds.clear()
    return joins, units


def _unanswered_cte(r: DecayRule, d: Dialect, p: Params, as_of: datetime, horizon) -> str:
    """Sends (within the lookback, old enough, with a key) that no other event of the lead answers.

    Both sides come from `evs` with their key already computed, so the anti-join is a hash on
    (lead_id, key) rather than a key recomputed for every pair of a lead's events.
    """
    cutoff = d.time_param(p, as_of - timedelta(days=r.after_days))
    k = f"k{r.index}"
    cond = [_kinds_in(d, p, "s.kind", r.events), f"s.occurred_at <= {cutoff}", f"s.{k} IS NOT NULL"]
    if horizon:
        cond.append(f"s.occurred_at >= {horizon}")
    return (
        f"un{r.index} AS (SELECT s.lead_id, COUNT(*) AS n FROM evs s WHERE {' AND '.join(cond)} "
        f"AND NOT EXISTS (SELECT 1 FROM evs x WHERE x.lead_id = s.lead_id AND x.{k} = s.{k} "
        f"AND {_kinds_in(d, p, 'x.kind', r.responses)} AND x.pk <> s.pk) GROUP BY s.lead_id)"
    )


def _unanswered_bound_cte(r: DecayRule, d: Dialect, p: Params, as_of: datetime, horizon, lookback_days) -> str:
    """When a send with a key changes the count: on reaching `after_days` (if still unanswered
    then), or on leaving the lookback. (A response can only come as a new event: `next_event`.)"""
    cutoff = d.time_param(p, as_of - timedelta(days=r.after_days))
    bounds = [f"CASE WHEN s.occurred_at > {cutoff} THEN {d.plus_days('s.occurred_at', str(r.after_days))} END"]
    cond = [_kinds_in(d, p, "s.kind", r.events), f"s.k{r.index} IS NOT NULL"]
    if horizon:
        bounds.append(d.plus_days("s.occurred_at", str(lookback_days)))
        cond.append(f"s.occurred_at >= {horizon}")  # evs may hold older ones as responses
    return (
        f"ub{r.index} AS (SELECT s.lead_id, MIN({d.earliest(*bounds)}) AS until FROM evs s "
        f"WHERE {' AND '.join(cond)} GROUP BY s.lead_id)"
    )


def _effective_decay(spec: ModelSpec, d: Dialect, count: int) -> list[str]:
    """Spec 5 in closed form: rule k takes min(a_k, max(0, headroom - a_0 - ... - a_{k-1}))."""
    if spec.engagement_floor is None:
        return [f"fin.a{i}" for i in range(count)]
    # A double, as the single-lead path subtracts it (single.effective_decay): a numeric literal
    # would make Postgres subtract in numeric and convert each rule's headroom back to a double,
    # through text (0.21 s against 0.07 s per 250,000 rows, docs/performance.md).
    floor = d.double(repr(float(spec.engagement_floor)))
    head = d.greatest("0", f"fin.crit_sum - {floor}")
    out = []
    for i in range(count):
        before = " + ".join(f"fin.a{j}" for j in range(i)) or "0"
        out.append(d.least(f"fin.a{i}", d.greatest("0", f"{head} - ({before})")))
    return out
