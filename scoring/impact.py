"""The impact preview: what a draft would do to every lead's score, computed in the background."""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from engine.document import ModelSpec
from engine.fields import TIERS
from engine.lines import lines_decode, lines_priced, lines_with_tail
from engine.sql import compile_scores, dialect_for
from engine.values import round2
from leads.models import Lead
from leadscoring import durable
from matrix.choices import PreviewState, VersionStatus
from matrix.models import ModelVersion
from matrix.selectors import VersionSpecs, version_live, version_spec
from matrix.workshop import rule_labels
from scoring.models import ImpactPreview, Score, ScoreBreakdown
from scoring.services import scoring_error_text
from scoring.statements import engine_tables, session_nested_loops, session_prepare

log = logging.getLogger(__name__)


MOVERS = 50


NOT_SCORED = "none"  # the "from" tier of a lead without a live score


# A preview still "running" after the task time limit was lost with its worker: not reused.
RUNNING_STALE = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)


# A preview still queued after this long is sent again when someone asks for it.
QUEUED_RESEND = timedelta(minutes=2)


class ImpactPreviewError(ValueError):
    """An impact preview that cannot be asked for (the version is not a draft...)."""


def impact_preview_latest(*, version: ModelVersion) -> ImpactPreview | None:
    return ImpactPreview.objects.filter(version=version).order_by("-created_at", "-id").first()


def impact_preview_is_lost(preview: ImpactPreview, now: datetime | None = None) -> bool:
    """Running for longer than any task may run: its worker died, nobody will finish it."""
    now = now or timezone.now()
    return preview.state == PreviewState.RUNNING and (preview.started_at or now) < now - RUNNING_STALE


@transaction.atomic
def impact_preview_request(
    *, version: ModelVersion, user, as_of: datetime | None = None, rerun: bool = False
) -> ImpactPreview:
    """Ask for the impact of a draft's current revision; the worker computes it (sent on commit).

    A queued, running or done preview of the same revision is returned instead of a new one,
    unless `rerun` (the live scores moved since, e.g. after the nightly decay). `as_of` defaults
    to now: the draft is scored as a publish now would score it.
    """
    if not user.has_perm("matrix.edit_draft"):
        raise PermissionDenied(f"{user.get_username()} may not run impact previews")
    version = ModelVersion.objects.select_for_update().select_related("scoring_model").get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise ImpactPreviewError(f"version {version.number} is {version.status}: only a draft is previewed")
    now = timezone.now()
    if not rerun:
        existing = (
            ImpactPreview.objects.filter(version=version, revision=version.revision)
            .exclude(state=PreviewState.FAILED)
            .order_by("-created_at", "-id")
            .first()
        )
        if existing is not None and not impact_preview_is_lost(existing, now):
            if (
                existing.state == PreviewState.QUEUED
                and (existing.enqueued_at or existing.created_at) < now - QUEUED_RESEND
            ):
                # Its message may have been lost (broker down when it was sent): send it again.
                transaction.on_commit(lambda: impact_preview_enqueue(preview_id=existing.pk))
            return existing
    preview = ImpactPreview.objects.create(
        version=version,
        revision=version.revision,
        live_version=version_live(scoring_model=version.scoring_model),
        as_of=(as_of or now).replace(microsecond=0),
        created_by=user,
    )
    transaction.on_commit(lambda: impact_preview_enqueue(preview_id=preview.pk))
    return preview


def impact_preview_enqueue(*, preview_id: int) -> bool:
    """Send the preview's task; a broker that is down is logged, asking again resends it."""
    return durable.enqueue(
        ImpactPreview, preview_id, task="scoring.impact_preview", what="impact preview", stamp="enqueued_at"
    )


def impact_preview_run(*, preview_id: int) -> bool:
    """Compute a queued preview (the worker's task). Returns False if there was nothing to do.

    The claim is a compare-and-set queued -> running, committed on its own so the page shows
    "running"; a second delivery of the task finds it taken and does nothing. The computation
    and the results are one transaction; a failure is recorded on the preview with its reason.
    """
    claimed = durable.claim(
        ImpactPreview,
        preview_id,
        from_state=PreviewState.QUEUED,
        to_state=PreviewState.RUNNING,
        started_at=timezone.now(),
    )
    if not claimed:
        return False
    preview = ImpactPreview.objects.select_related("version__scoring_model", "live_version").get(pk=preview_id)
    try:
        with transaction.atomic():
            results = _impact_compute(preview)
            durable.claim(
                ImpactPreview,
                preview_id,
                from_state=PreviewState.RUNNING,
                to_state=PreviewState.DONE,
                finished_at=timezone.now(),
                **results,
            )
    except Exception as exc:
        log.exception("impact preview %s failed", preview_id)
        durable.fail(
            ImpactPreview,
            preview_id,
            from_state=PreviewState.RUNNING,
            to_state=PreviewState.FAILED,
            error=scoring_error_text(exc),
            finished_at=timezone.now(),
        )
        return False
    return True


def _number(value) -> float | None:
    return None if value is None else float(round2(float(value)))


def _impact_compute(preview: ImpactPreview) -> dict:
    """Score every lead with the draft into a temp table (one statement), then compare in SQL.

    Only the top movers come back to Python, where their two breakdowns are compared line by
    line to say why they moved. Nothing is written to scoring_score.
    """
    version = preview.version
    spec = version_spec(version=version)
    live_spec = version_spec(version=preview.live_version) if preview.live_version else None
    dialect = dialect_for(connection)
    compiled = compile_scores(spec, dialect, preview.as_of, tables=engine_tables())
    table = f"tmp_impact_{uuid.uuid4().hex[:12]}"
    scores, breakdowns, leads = Score._meta.db_table, ScoreBreakdown._meta.db_table, Lead._meta.db_table
    params = {"model": version.scoring_model_id, "limit": MOVERS}
    joined = f"FROM {table} d LEFT JOIN {scores} s ON s.lead_id = d.lead_id AND s.scoring_model_id = %(model)s"
    with connection.cursor() as cursor:
        session_prepare(cursor, dialect)
        cursor.execute(f"{dialect.temp_table(table)} {compiled.sql}", compiled.params)
        # The top movers' lines are a hundred index probes, not a scan of every breakdown.
        session_nested_loops(cursor, dialect, on=True)
        # Per segment (the draft's: where the lead will sit once published) and tier move.
        cursor.execute(
            f"SELECT d.segment, COALESCE(s.tier, '{NOT_SCORED}'), d.tier, COUNT(*), "
            "SUM(CASE WHEN d.mql AND (s.id IS NULL OR NOT s.mql) THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.mql AND NOT d.mql THEN 1 ELSE 0 END) {joined} "
            f"GROUP BY d.segment, COALESCE(s.tier, '{NOT_SCORED}'), d.tier",
            params,
        )
        moves = cursor.fetchall()
        # The biggest movers: by |draft - live| (a lead without a live score moves from 0), then
        # tier or MQL changes first among equals (a threshold change moves a lead across a line
        # without points, and is a move the page must list). Their live breakdown lines (a table
        # of their own) join once the top rows are chosen.
        cursor.execute(
            "SELECT m.lead_id, m.external_id, m.first_name, m.last_name, m.company, m.owner_id, "
            "m.l_score, m.l_tier, m.l_mql, m.l_segment, b.lines, m.d_score, m.d_tier, m.d_mql, m.d_segment, "
            "m.d_lines, m.l_basis, m.l_version, m.l_tail FROM (SELECT d.lead_id, l.external_id, l.first_name, "
            "l.last_name, l.company, l.owner_id, s.id AS sid, s.basis AS l_basis, s.version_id AS l_version, "
            "s.lines_tail AS l_tail, "
            "s.score AS l_score, s.tier AS l_tier, s.mql AS l_mql, s.segment AS l_segment, "
            "d.score AS d_score, d.tier AS d_tier, d.mql AS d_mql, d.segment AS d_segment, d.breakdown AS d_lines, "
            "ABS(d.score - COALESCE(s.score, 0)) AS moved, "
            "CASE WHEN s.id IS NULL OR d.tier <> s.tier OR d.mql <> s.mql THEN 0 ELSE 1 END AS tier_first "
            f"{joined} JOIN {leads} l ON l.id = d.lead_id "
            "WHERE s.id IS NULL OR d.score <> s.score OR d.tier <> s.tier OR d.mql <> s.mql "
            "ORDER BY moved DESC, tier_first, l.external_id LIMIT %(limit)s) m "
            f"LEFT JOIN {breakdowns} b ON b.score_id = m.sid ORDER BY m.moved DESC, m.tier_first, m.external_id",
            params,
        )
        top = cursor.fetchall()
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    summary = _summary(spec, moves)
    specs = VersionSpecs()
    return {
        "summary": summary,
        "movers": [_mover(row, spec, live_spec, specs) for row in top],
        "leads_total": sum(s["leads"] for s in summary),
        "tier_changed": sum(s["tier_changed"] for s in summary),
        "mql_up": sum(s["mql_up"] for s in summary),
        "mql_down": sum(s["mql_down"] for s in summary),
    }


def _summary(spec: ModelSpec, rows) -> list[dict]:
    order = {s.key: i for i, s in enumerate(spec.segments)}
    labels = {s.key: s.label for s in spec.segments}
    out: dict[str, dict] = {}
    for segment, old_tier, new_tier, n, up, down in rows:
        entry = out.setdefault(
            segment,
            {"segment": segment, "label": labels.get(segment, segment), "leads": 0, "moves": {}, "tier_changed": 0,
             "mql_up": 0, "mql_down": 0},
        )  # fmt: skip
        entry["leads"] += int(n)
        entry["moves"].setdefault(old_tier, {})[new_tier] = int(n)
        if old_tier != new_tier:
            entry["tier_changed"] += int(n)
        entry["mql_up"] += int(up or 0)
        entry["mql_down"] += int(down or 0)
    return sorted(out.values(), key=lambda e: order.get(e["segment"], len(order)))


def breakdown_changes(*, live: list[dict], draft: list[dict], labels: dict) -> list[dict]:
    """The breakdown lines whose points differ: draft order, then lines only the live score has."""
    old = {(x["type"], x["key"]): x for x in live}
    new = {(x["type"], x["key"]): x for x in draft}
    changes = []
    for key in list(new) + [k for k in old if k not in new]:
        a = float(old[key]["points"]) if key in old else 0.0
        b = float(new[key]["points"]) if key in new else 0.0
        if a != b:
            changes.append(
                {"type": key[0], "key": key[1], "label": labels.get(key, key[1]), "live": a, "draft": b,
                 "delta": _number(b - a)}
            )  # fmt: skip
    return changes


def _mover(row, spec: ModelSpec, live_spec: ModelSpec | None, specs: VersionSpecs) -> dict:
    lead_id, xid, first, last, company, owner_id = row[:6]
    l_score, l_tier, l_mql, l_seg, l_lines, d_score, d_tier, d_mql, d_seg, d_lines, l_basis, l_version, l_tail = row[6:]
    labels = {**rule_labels(live_spec), **rule_labels(spec)}
    live = lines_with_tail(lines_decode(l_lines), l_tail)
    if l_basis is not None:  # a score made from stored counts: its lines priced by its version
        live = lines_priced(live, spec=specs[l_version], basis=l_basis)
    why = breakdown_changes(live=live, draft=lines_decode(d_lines), labels=labels)
    notes = []
    old = next((s for s in (live_spec.segments if live_spec else ()) if s.key == l_seg), None)
    new = next((s for s in spec.segments if s.key == d_seg), None)
    if l_tier is None:
        notes.append("no live score yet")
    elif l_seg != d_seg:
        notes.append(f"segment {old.label if old else l_seg} → {new.label if new else d_seg}")
    elif not why and (l_tier != d_tier or bool(l_mql) != bool(d_mql)) and old and new:
        moved = [
            f"{name} {a:g} → {b:g}"
            for name, a, b in (("warm", old.warm, new.warm), ("hot", old.hot, new.hot), ("mql", old.mql, new.mql))
            if a != b
        ]
        notes.append(f"same points; thresholds of {new.label}: " + ", ".join(moved) if moved else "same points")
    live_score, draft_score = _number(l_score), _number(d_score)
    return {
        "lead_id": lead_id,
        "external_id": xid,
        "name": f"{first} {last}".strip() or xid,
        "company": company,
        # So the page shows a rep only the movers they may open (their own leads).
        "owner_id": owner_id,
        "live": None if l_tier is None else {"score": live_score, "tier": l_tier, "mql": bool(l_mql)},
        "draft": {"score": draft_score, "tier": d_tier, "mql": bool(d_mql), "segment": d_seg},
        "delta": _number(draft_score - (live_score or 0.0)),
        "why": why,
        "notes": notes,
    }


def impact_rows(preview: ImpactPreview) -> list[dict]:
    """The summary as tables: per segment, a from-tier x to-tier grid ("none": no live score)."""
    out = []
    for entry in preview.summary or []:
        moves = entry.get("moves", {})
        froms = [t for t in (*TIERS, NOT_SCORED) if t in moves]
        out.append(
            {
                **entry,
                "grid": [
                    {
                        "from": t,
                        "cells": [{"to": to, "n": moves[t].get(to, 0), "same": to == t} for to in TIERS],
                        "total": sum(moves[t].values()),
                    }
                    for t in froms
                ],
            }
        )
    return out
