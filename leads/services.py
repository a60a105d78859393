"""Writes to leads, events and scores. Views, API, commands and tasks call these."""

import logging
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.contrib.auth import get_user_model
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Concat, Lower
from django.utils import timezone
from psycopg.types.json import Jsonb

from engine.fields import LEAD_TEXT_FIELDS, NUMBER_FIELDS
from leads.models import LEAD_VALUE_FIELDS, Event, Lead
from leads.rows import (
    LEAD_KEYS,
    RowError,
    RowReport,
    field_name,
    parse_event,
    parse_lead,
    shown,
    text_problem,
)

BATCH = 2000


def _batches(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def owners_match(*, names: Iterable[str]) -> tuple[dict[str, int], dict[str, str]]:
    """The user each owner name means, and why the others mean none.

    A name matches, case-insensitively and in this order, a username, an e-mail or a full name
    ("Riley Rep"; inner spaces collapsed); the first rule that finds exactly one user decides. A
    name that finds several users under its rule is ambiguous and matches none. Returns
    ({name: user id}, {name: reason}) for the names given (one query).
    """
    keys = {name: _owner_key(name) for name in set(names) if name and _owner_key(name)}
    if not keys:
        return {}, {}
    wanted = set(keys.values())
    users = list(
        get_user_model()
        .objects.annotate(
            lu=Lower("username"),
            le=Lower("email"),
            full=Lower(Concat("first_name", Value(" "), "last_name", output_field=CharField())),
        )
        .filter(Q(lu__in=wanted) | Q(le__in=wanted) | Q(full__in=wanted))
        .values_list("id", "username", "lu", "le", "full")
    )
    found, unmatched = {}, {}
    for name, key in keys.items():
        exact = [pk for pk, username, *_ in users if username == name.strip()]
        if len(exact) == 1:
            found[name] = exact[0]
            continue
        for rule, column in (("username", 2), ("e-mail", 3), ("full name", 4)):
            hits = sorted({u[0] for u in users if u[column] == key})
            if len(hits) == 1:
                found[name] = hits[0]
                break
            if len(hits) > 1:
                unmatched[name] = f"its {rule} fits {len(hits)} users"
                break
        else:
            unmatched[name] = "no user has this username, e-mail or full name"
    return found, unmatched


def _owner_key(name: str) -> str:
    return " ".join(str(name).split()).lower()


@dataclass
class ImportReport(RowReport):
    """A RowReport that also says, for a lead import, what was written and what was noticed.

    `accepted` counts distinct leads stored; `duplicates` the rows whose id an earlier row of the
    same import already had (the last row of an id wins); `created` / `updated` split the leads
    stored; `unmatched_owners` counts the rows per owner name that matched no user. (Remarks on
    rows stored, such as a range kept as text, are the file reader's: imports/uploads.py.)
    """

    created: int = 0
    updated: int = 0
    unmatched_owners: dict[str, int] = field(default_factory=dict)
    owner_reasons: dict[str, str] = field(default_factory=dict)

    def summary(self, noun: str) -> str:
        if noun != "leads":
            text = f"{self.accepted} {noun} stored, {len(self.rejected)} rows refused"
            return text + (f", {self.duplicates} repeated ids ignored" if self.duplicates else "")
        text = (
            f"{self.accepted} leads stored ({self.created} new, {self.updated} updated), "
            f"{len(self.rejected)} rows refused"
        )
        if self.duplicates:
            text += f", {self.duplicates} repeated ids (the last row of each id wins)"
        return text


# A row that passed the row checks (leads/rows.py: widths, JSON, range) may still be refused by
# the database (a constraint, a value a backend holds differently): such a row is refused alone.
DB_ROW_ERRORS = (DataError, IntegrityError)


def _db_reason(exc: Exception) -> str:
    first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    return f"row: the database refused it ({first[:200]})"


def leads_import(
    *,
    rows: Iterable[tuple[int, object]],
    report: RowReport | None = None,
    owner_fallback: int | None = None,
    started_at: datetime | None = None,
) -> tuple[RowReport, set[int]]:
    """Upsert leads by external id. Each batch is one transaction of valid rows only.

    Every row is checked before its batch is written (leads/rows.py: column widths, the
    attributes' JSON, the timestamp range); a row the database still refuses is retried alone and refused
    with the database's reason, so the valid rows of a batch are always stored and never a
    prefix. Owners are matched by `owners_match`; a lead whose owner matches no user goes to
    `owner_fallback` (a user id) or stays unassigned, and is counted in the report.

    `accepted` counts each lead once: a lead whose updated_at is at or after `started_at` (when
    the import began; default: this call) was written by an earlier row of the same import, so
    its id counts as repeated, not as a second lead. A caller importing one file in several calls
    passes the same instant; no set of ids is held in memory. (A lead another writer changed
    while the import ran is counted as a repeat too: the counts, never the data, are approximate
    then.)

    Returns the report (an ImportReport unless the caller passed a plain RowReport) and the
    primary keys of the leads written (to rescore them).
    """
    report = report if report is not None else ImportReport()
    extra = report if isinstance(report, ImportReport) else ImportReport()
    stamp = started_at or timezone.now()
    touched: set[int] = set()
    for batch in _batches(rows, BATCH):
        # Within one batch the last row of an id wins, as it would row by row.
        latest: dict[str, tuple[int, object]] = {}
        for line, obj in batch:
            try:
                if isinstance(obj, RowError):
                    raise obj
                row = parse_lead(obj)
            except RowError as exc:
                report.reject(line, str(exc))
                continue
            if row.external_id in latest:
                report.duplicates += 1
            latest[row.external_id] = (line, row)
        owners, unmatched = owners_match(names={r.owner for _, r in latest.values() if r.owner})
        for _, row in latest.values():
            if row.owner and row.owner not in owners:
                extra.unmatched_owners[row.owner] = extra.unmatched_owners.get(row.owner, 0) + 1
                extra.owner_reasons.setdefault(row.owner, unmatched.get(row.owner, ""))
        now = timezone.now()
        objs = {
            external_id: (
                line,
                Lead(
                    external_id=row.external_id,
                    created_at=row.created_at,
                    attributes=row.attributes,
                    owner_id=(owners.get(row.owner, owner_fallback) if row.owner else None),
                    updated_at=now,
                    **{k: ("" if v is None and k not in NUMBER_FIELDS else v) for k, v in row.fields.items()},
                ),
            )
            for external_id, (line, row) in latest.items()
        }
        with transaction.atomic():
            existing = dict(Lead.objects.filter(external_id__in=list(objs)).values_list("external_id", "updated_at"))
            stored = _leads_write(objs, report)
            touched.update(Lead.objects.filter(external_id__in=stored).values_list("id", flat=True))
        again = sum(1 for i in stored if i in existing and existing[i] >= stamp)  # written by this import
        report.duplicates += again
        extra.created += sum(1 for i in stored if i not in existing)
        extra.updated += sum(1 for i in stored if i in existing and existing[i] < stamp)
        report.accepted += len(stored) - again
    return report, touched


class LeadRefused(ValueError):
    """A lead that cannot be stored as given; `errors` names each problem ("field: reason")."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


class LeadExists(ValueError):
    """A new lead named by the id of a stored one (an upsert by that id replaces it instead)."""

    def __init__(self, external_id: str):
        super().__init__(f"a lead {external_id!r} exists")
        self.external_id = external_id


# Every key of the lead record but the owner: a lead written one at a time (the API) never names
# its owner, which only an import matches to a user.
LEAD_WRITABLE_KEYS = LEAD_KEYS - {"owner"}


@transaction.atomic
def lead_upsert(
    *, data: object, external_id: str | None = None, partial: bool = False, ignored: Collection[str] = ()
) -> tuple[Lead, bool]:
    """Store one lead given whole or in part (the API's writes). Returns it and whether it is new.

    Without `external_id` the body's id names a new lead: LeadExists if it is stored. With it, the
    lead of that id is replaced whole or created; `partial` changes only the keys given (each
    replaces the stored value) and needs the lead stored (Lead.DoesNotExist otherwise). A body id
    must match `external_id`. The owner is never taken from the body: a stored lead keeps its
    own, a new one has none. Keys in `ignored` (read-only keys of the caller's representation,
    so a lead as read can be sent back) are dropped; any other key not of the lead record is
    refused. The row then goes through leads_import, the checks every input shares; LeadRefused
    names each problem.
    """
    existing = _lead_stored(external_id) if external_id is not None else None
    if partial and existing is None:
        raise Lead.DoesNotExist(f"No lead {external_id!r}.")
    given = _lead_given(data, external_id=external_id, ignored=ignored)
    row = {**_lead_as_row(existing), **given} if (partial and existing) else given
    row["owner"] = existing.owner.username if existing and existing.owner_id else None
    try:
        parsed = parse_lead(row)
    except RowError as exc:
        raise LeadRefused(_error_lines(str(exc))) from None
    if existing is None and Lead.objects.filter(external_id=parsed.external_id).exists():
        raise LeadExists(parsed.external_id)
    report, _ = leads_import(rows=[(0, row)])
    if report.rejected:
        raise LeadRefused(_error_lines(report.rejected[0][1]))
    return Lead.objects.select_related("owner").get(external_id=parsed.external_id), existing is None


def _lead_stored(external_id: str) -> Lead | None:
    if text_problem(external_id):  # refused as the body's id by parse_lead, never looked up
        return None
    return Lead.objects.select_related("owner").filter(external_id=external_id).first()


def _lead_given(data: object, *, external_id: str | None, ignored: Collection[str]) -> dict:
    """The body's keys of the lead record, with the id `external_id` names (LeadRefused if it differs)."""
    if not isinstance(data, dict):
        raise LeadRefused(["body: must be a JSON object"])
    unknown = sorted((k for k in data if k not in LEAD_WRITABLE_KEYS and k not in ignored), key=field_name)
    if unknown:
        raise LeadRefused([f"{field_name(k)}: unknown field" for k in unknown])
    given = {k: v for k, v in data.items() if k in LEAD_WRITABLE_KEYS}
    if external_id is not None:
        body_id = given.get("id")
        if body_id is not None and (not isinstance(body_id, str) or body_id.strip() != external_id):
            raise LeadRefused([f"id: {shown(body_id)} differs from the id in the URL {shown(external_id)}"])
        given["id"] = external_id
    return given


def _lead_as_row(lead: Lead) -> dict:
    """A stored lead as the row that would store it again (what a partial write is merged into)."""
    row = {name: getattr(lead, name) for name in (*LEAD_TEXT_FIELDS, *NUMBER_FIELDS)}
    row.update(id=lead.external_id, created_at=lead.created_at.isoformat(), attributes=lead.attributes or {})
    return row


def _error_lines(message: str) -> list[str]:
    # The row checks join a row's problems with "; " (leads/rows.py): one line each.
    return [part.strip() for part in message.split("; ") if part.strip()]


def _leads_write(objs: dict[str, tuple[int, Lead]], report: RowReport) -> list[str]:
    """Upsert the batch in one statement; if the database refuses it, row by row (each in a
    savepoint) to find and refuse the rows it will not take. Returns the ids stored."""
    upsert = dict(update_conflicts=True, unique_fields=["external_id"], update_fields=LEAD_VALUE_FIELDS)
    try:
        with transaction.atomic():
            Lead.objects.bulk_create([obj for _, obj in objs.values()], **upsert)
        return list(objs)
    except DB_ROW_ERRORS:
        pass
    stored = []
    for external_id, (line, obj) in objs.items():
        try:
            with transaction.atomic():
                Lead.objects.bulk_create([obj], **upsert)
        except DB_ROW_ERRORS as exc:
            report.reject(line, _db_reason(exc))
        else:
            stored.append(external_id)
    report.rejected.sort()
    return stored


def events_ingest(*, rows: Iterable[tuple[int, object]], report: RowReport | None = None) -> tuple[RowReport, set[int]]:
    """Store events; a repeated (lead, id) is ignored, not double counted. Returns affected lead pks.

    Each batch of valid rows is stored in one transaction; rows naming an unknown lead are
    rejected with their line. Every row is checked before its batch is written (leads/rows.py:
    column widths, the properties' JSON, the timestamp range); if the database still refuses the
    batch, its rows are stored one by one and the refused ones listed, so a bad row never costs the
    others. On Postgres a batch is COPYed into a staging table and inserted in one statement;
    elsewhere it goes through bulk_create.
    """
    report = report or RowReport()
    touched: set[int] = set()
    store = _events_store_postgres if connection.vendor == "postgresql" else _events_store_orm
    for batch in _batches(rows, BATCH):
        parsed = []
        for line, obj in batch:
            try:
                if isinstance(obj, RowError):
                    raise obj
                parsed.append((line, parse_event(obj)))
            except RowError as exc:
                report.reject(line, str(exc))
        # Within a batch the first row of a (lead, id) wins, as it would row by row.
        first, unique = set(), []
        for line, row in parsed:
            key = (row.lead, row.external_id)
            if row.external_id is not None and key in first:
                report.duplicates += 1
                continue
            first.add(key)
            unique.append((line, row))
        with transaction.atomic():
            unknown, inserted, stored = _events_write(store, unique, report)
        for line, lead in unknown:
            report.reject(line, f"lead: unknown lead id {lead!r}")
        report.duplicates += stored - len(unknown) - len(inserted)
        report.accepted += len(inserted)
        touched.update(inserted)
    report.rejected.sort()
    return report, touched


def _events_write(store, rows, report: RowReport) -> tuple[list[tuple[int, str]], list[int], int]:
    """The batch in one go, or row by row (each in a savepoint) when the database refuses it.
    Returns (unknown leads, lead pks of the events inserted, rows the database took)."""
    try:
        with transaction.atomic():
            unknown, inserted = store(rows)
        return unknown, inserted, len(rows)
    except DB_ROW_ERRORS:
        pass
    unknown, inserted, taken = [], [], 0
    for line, row in rows:
        try:
            with transaction.atomic():
                u, i = store([(line, row)])
        except DB_ROW_ERRORS as exc:
            report.reject(line, _db_reason(exc))
        else:
            unknown += u
            inserted += i
            taken += 1
    return unknown, inserted, taken


def _events_store_orm(rows) -> tuple[list[tuple[int, str]], list[int]]:
    lead_ids = dict(Lead.objects.filter(external_id__in={row.lead for _, row in rows}).values_list("external_id", "id"))
    unknown = [(line, row.lead) for line, row in rows if row.lead not in lead_ids]
    known = [row for _, row in rows if row.lead in lead_ids]
    keyed = {(lead_ids[r.lead], r.external_id) for r in known if r.external_id is not None}
    existing = set()
    if keyed:
        existing = set(
            Event.objects.filter(lead_id__in={k[0] for k in keyed}, external_id__in={k[1] for k in keyed}).values_list(
                "lead_id", "external_id"
            )
        )
    fresh = [
        Event(
            lead_id=lead_ids[r.lead],
            external_id=r.external_id,
            kind=r.kind,
            occurred_at=r.occurred_at,
            properties=r.properties,
        )
        for r in known
        if r.external_id is None or (lead_ids[r.lead], r.external_id) not in existing
    ]
    # ignore_conflicts also covers a concurrent writer storing the same id meanwhile.
    Event.objects.bulk_create(fresh, ignore_conflicts=True)
    return unknown, [e.lead_id for e in fresh]


def _events_store_postgres(rows) -> tuple[list[tuple[int, str]], list[int]]:
    stage = f"tmp_events_{uuid.uuid4().hex[:12]}"
    events, leads = Event._meta.db_table, Lead._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {stage} (line integer, xid text, lead text, kind text, "
            "occurred_at timestamptz, properties jsonb) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY {stage} (line, xid, lead, kind, occurred_at, properties) FROM STDIN") as copy:
            for line, r in rows:
                copy.write_row((line, r.external_id, r.lead, r.kind, r.occurred_at, Jsonb(r.properties)))
        cursor.execute(
            f"SELECT s.line, s.lead FROM {stage} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {leads} l WHERE l.external_id = s.lead) ORDER BY s.line"
        )
        unknown = cursor.fetchall()
        # ON CONFLICT DO NOTHING: an id this lead already has (or a concurrent writer just stored).
        cursor.execute(
            f"INSERT INTO {events} (lead_id, external_id, kind, occurred_at, received_at, properties) "
            f"SELECT l.id, s.xid, s.kind, s.occurred_at, now(), s.properties FROM {stage} s "
            f"JOIN {leads} l ON l.external_id = s.lead ORDER BY s.line ON CONFLICT DO NOTHING RETURNING lead_id"
        )
        inserted = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {stage}")
    return unknown, inserted


logger = logging.getLogger(__name__)
