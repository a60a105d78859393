"""Reads of scoring models and versions."""

from dataclasses import dataclass

from django.db.models import Prefetch

from engine.conditions import describe
from engine.document import DocumentError, ModelSpec, parse_document, structure_key
from engine.fields import LEAD_FIELDS
from engine.recount import RecountPlan, recount_plan
from leads.models import Event, Lead
from matrix.choices import ApprovalRole, VersionStatus
from matrix.models import Approval, AuditEntry, ModelVersion, ScoringModel, WorkspaceSettings


def version_live(*, scoring_model: ScoringModel) -> ModelVersion | None:
    return scoring_model.versions.filter(status=VersionStatus.PUBLISHED).first()


def version_open_draft(*, scoring_model: ScoringModel) -> ModelVersion | None:
    """The model's open draft: its newest draft, the one the editor and the sign-off work on."""
    return scoring_model.versions.filter(status=VersionStatus.DRAFT).order_by("-number").first()


def versions_live() -> list[ModelVersion]:
    """The published version of every model that has one, in model order."""
    return list(
        ModelVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("scoring_model")
        .order_by("scoring_model__name")
    )


def version_spec(*, version: ModelVersion) -> ModelSpec:
    """The version's rules; DocumentError if its stored document no longer validates (see below)."""
    return parse_document(version.document)


def version_unreadable_note(error: DocumentError) -> str:
    """What a page says about a version whose stored document the validator refuses today."""
    first = error.errors[0] if error.errors else str(error)
    return f"This version's rules no longer validate: {first}; publish a corrected version."


def version_spec_or_note(*, version: ModelVersion) -> tuple[ModelSpec | None, str | None]:
    """The version's rules, or None and the note to show when its stored document no longer validates.

    A document stored before the validator's current bounds (or edited in the database) is kept
    as it is: the writes refuse it (publish, restore, edits), the rescore job ends failed with the
    reason, and the readers show the stored scores with this note instead of answering 500
    (docs/scoring.md, "When scoring fails").
    """
    try:
        return parse_document(version.document), None
    except DocumentError as exc:
        return None, version_unreadable_note(exc)


class VersionSpecs(dict):
    """Version pk -> its spec, each read (one query) the first time it is asked for: for readers
    of many stored scores, whose lines are priced by their own version (lines_priced)."""

    def __init__(self):
        super().__init__()
        self.unreadable: set[int] = set()

    def __missing__(self, pk: int) -> ModelSpec:
        spec = self[pk] = parse_document(ModelVersion.objects.values_list("document", flat=True).get(pk=pk))
        return spec

    def readable(self, pk: int) -> ModelSpec | None:
        """The spec, or None (remembered: one query per version) when the version's stored
        document no longer validates: a reader then shows the stored lines as they are."""
        if pk in self.unreadable:
            return None
        try:
            return self[pk]
        except DocumentError:
            self.unreadable.add(pk)
            return None


# The versions whose stored counts a rescore may reuse: recent ones are where scores are.
REUSE_SOURCES = 20


def versions_reusable(*, version: ModelVersion, spec: ModelSpec) -> dict[int, ModelSpec]:
    """The version itself and the model's earlier versions (the last REUSE_SOURCES) that count
    exactly as it does (the same `structure_key`), as pk -> spec; empty if nothing is reusable."""
    key = structure_key(spec)
    if key is None:
        return {}
    recent = ModelVersion.objects.filter(scoring_model_id=version.scoring_model_id, number__lte=version.number)
    sources = {}
    for other in recent.order_by("-number")[:REUSE_SOURCES]:
        other_spec = spec if other.pk == version.pk else version_spec(version=other)
        if structure_key(other_spec) == key:
            sources[other.pk] = other_spec
    return sources


def version_recount_source(*, version: ModelVersion, spec: ModelSpec) -> tuple[list[int], RecountPlan] | None:
    """The versions the model's stored scores were last made with, if they count differently from
    `version` in some criteria only (engine/recount.py), as ([pk, ...], plan); else None.

    They are the newest version published before `version` that counts differently, and the
    earlier ones (of the last REUSE_SOURCES) that count as it does: after a publish, the scores
    not yet rescored are of those."""
    key = structure_key(spec)
    if key is None:
        return None
    earlier = ModelVersion.objects.filter(
        scoring_model_id=version.scoring_model_id, number__lt=version.number, published_at__isnull=False
    )
    pks, plan, source_key = [], None, None
    for other in earlier.order_by("-number")[:REUSE_SOURCES]:
        try:
            other_spec = version_spec(version=other)
        except DocumentError:
            continue
        other_key = structure_key(other_spec)
        if other_key == key:
            continue
        if plan is None:
            plan = recount_plan(other_spec, spec)
            if plan is None:
                return None
            source_key = other_key
        if other_key == source_key:
            pks.append(other.pk)
    return (pks, plan) if plan is not None else None


# --- workspace settings and approvals ----------------------------------------------------------


def workspace_settings() -> WorkspaceSettings:
    """The workspace's settings row, created with the defaults on first read."""
    settings, _ = WorkspaceSettings.objects.get_or_create(pk=1)
    return settings


def approvals_status(*, version: ModelVersion, settings: WorkspaceSettings | None = None) -> dict:
    """Which roles approved the version's CURRENT revision (an edit bumps the revision, so older
    approvals no longer count) and whether that is enough to publish.

    Returns {"revision", "approvals": {role: Approval | None}, "missing": [role, ...],
    "required": bool, "ready": bool}. Uses prefetched `version.approvals` when there are some.
    """
    settings = settings or workspace_settings()
    current = {a.role: a for a in version.approvals.all() if a.revision == version.revision}
    roles = [role.value for role in ApprovalRole]
    missing = [role for role in roles if role not in current]
    required = settings.require_marketing_and_sales_approval
    return {
        "revision": version.revision,
        "approvals": {role: current.get(role) for role in roles},
        "missing": missing,
        "required": required,
        "ready": version.status == VersionStatus.DRAFT and (not required or not missing),
    }


# --- the matrix workspace pages ----------------------------------------------------------------


def versions_with_people():
    """Versions with their authors and approvals loaded, for pages that name the people."""
    return ModelVersion.objects.select_related("created_by", "published_by", "updated_by").prefetch_related(
        Prefetch("approvals", queryset=Approval.objects.select_related("user").order_by("id"))
    )


def model_versions(*, scoring_model: ScoringModel) -> list[ModelVersion]:
    """Every version of the model, newest first, with its people and approvals (three queries)."""
    return list(versions_with_people().filter(scoring_model=scoring_model).order_by("-number"))


def model_audit(*, scoring_model: ScoringModel, limit: int = 200) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(scoring_model=scoring_model).select_related("actor", "version")[:limit])


@dataclass(frozen=True)
class MaxScore:
    fit: int
    engagement: int | None  # None: some positive engagement criterion has no cap (unbounded)

    @property
    def total(self) -> int | None:
        return None if self.engagement is None else self.fit + self.engagement


def spec_max_score(spec: ModelSpec) -> MaxScore:
    """The most a lead can score before decay: every positive fit criterion, plus every positive
    engagement criterion at its cap (points x cap). One uncapped one makes engagement unbounded."""
    fit = sum(c.points for c in spec.fit_criteria if c.points > 0)
    engagement = 0
    for c in spec.engagement_criteria:
        if c.points <= 0:
            continue
        if c.cap is None:
            return MaxScore(fit, None)
        engagement += c.points * c.cap
    return MaxScore(fit, engagement)


# --- differences between two versions -----------------------------------------------------------


def _fmt(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) or "none"
    return str(value)


def _condition(cond) -> str:
    return describe(cond) if cond else "none"


def _compare(prefix: str, pairs: list[tuple[str, object, object]]) -> list[str]:
    return [f"{prefix} {name} {_fmt(a)} → {_fmt(b)}" for name, a, b in pairs if a != b]


def _criterion_fields(c) -> list[tuple[str, object]]:
    return [
        ("label", c.label),
        ("dimension", c.dimension),
        ("when", _condition(c.when) if c.is_fit else None),
        ("event", list(c.events) if not c.is_fit else None),
        ("where", _condition(c.where) if not c.is_fit else None),
        ("points", c.points),
        ("cap", c.cap),
        ("cap_window_days", c.cap_window_days),
    ]


def _decay_fields(d) -> list[tuple[str, object]]:
    return [
        ("label", d.label),
        ("type", d.type),
        ("events", list(d.events) if d.events is not None else "any event"),
        ("every_days", d.every_days),
        ("after_days", d.after_days),
        ("responses", list(d.responses)),
        ("match_property", d.match_property),
        ("points", d.points),
    ]


def _segment_fields(s) -> list[tuple[str, object]]:
    return [
        ("label", s.label),
        ("when", _condition(s.when)),
        ("threshold warm", s.warm),
        ("threshold hot", s.hot),
        ("threshold mql", s.mql),
    ]


def _keyed(kind: str, old: tuple, new: tuple, fields) -> list[str]:
    """Lines for a list of keyed items: changes and additions in the new order, then removals."""
    before = {item.key: item for item in old}
    after = {item.key for item in new}
    lines = []
    for item in new:
        if item.key not in before:
            lines.append(f"{kind} {item.key} added")
            continue
        was = dict(fields(before[item.key]))
        lines += _compare(f"{kind} {item.key}", [(name, was[name], value) for name, value in fields(item)])
    lines += [f"{kind} {item.key} removed" for item in old if item.key not in after]
    return lines


def _reordered(kind: str, old: tuple, new: tuple) -> list[str]:
    """A line when the same items come in another order (decay applies in order, breakdown lines
    follow the criteria's order); additions and removals already have their own lines."""
    before, after = [item.key for item in old], [item.key for item in new]
    if before != after and set(before) == set(after):
        return [f"{kind} order {_fmt(before)} → {_fmt(after)}"]
    return []


def versions_diff(*, old: ModelVersion, new: ModelVersion) -> list[str]:
    """What changed from `old` to `new`, one readable line per change, e.g.
    "criterion blog-visit points 5 → 10" or "segment enterprise threshold mql 70 → 80"."""
    return documents_diff(old_document=old.document, new_document=new.document)


def documents_diff(*, old_document: dict, new_document: dict) -> list[str]:
    """versions_diff for two model documents (e.g. a draft before and after an edit); both must be valid."""
    a, b = parse_document(old_document), parse_document(new_document)
    lines = _compare(
        "model",
        [
            (name, getattr(a, name), getattr(b, name))
            for name in ("name", "description", "lookback_days", "half_life_days", "engagement_floor")
        ],
    )
    lines += _keyed("criterion", a.criteria, b.criteria, _criterion_fields)
    lines += _reordered("criteria", a.criteria, b.criteria)
    lines += _keyed("decay", a.decay, b.decay, _decay_fields)
    lines += _reordered("decay", a.decay, b.decay)
    lines += _keyed("segment", a.segments, b.segments, _segment_fields)
    if [s.key for s in a.segments] != [s.key for s in b.segments] and {s.key for s in a.segments} == {
        s.key for s in b.segments
    }:
        lines.append(f"segment order {_fmt([s.key for s in a.segments])} → {_fmt([s.key for s in b.segments])}")
    for dim, letters, old_g, new_g in (
        ("fit", "ABC", a.grade_fit, b.grade_fit),
        ("engagement", "432", a.grade_engagement, b.grade_engagement),
    ):
        lines += _compare(f"grade {dim}", list(zip(letters, old_g, new_g, strict=True)))
    return lines


# --- the draft editor ----------------------------------------------------------------------------


def draft_edits_since(*, version: ModelVersion, revision: int) -> list[dict]:
    """The edits made to a draft after `revision`, oldest first: who, when, to which revision and
    the readable lines of what each changed (kept by model_draft_update in its audit entry)."""
    entries = AuditEntry.objects.filter(version=version, action="draft_updated").select_related("actor").order_by("id")
    edits = []
    for entry in entries:
        to = entry.detail.get("revision")
        if isinstance(to, int) and to > revision:
            edits.append(
                {
                    "actor": entry.actor,
                    "at": entry.created_at,
                    "revision": to,
                    "changes": entry.detail.get("changes"),
                }
            )
    return edits


SUGGESTION_SAMPLE = 500


def condition_suggestions(*, spec: ModelSpec) -> dict[str, list[str]]:
    """What the condition pickers offer (free text stays allowed): lead fields, event kinds and
    event properties, from the spec itself plus a sample of the newest leads and events (two
    queries; a sample, because listing every key of a large table is a full scan)."""
    lead_fields, kinds, properties = dict.fromkeys(LEAD_FIELDS), {}, {}

    def walk(cond, into: dict) -> None:
        if not isinstance(cond, dict):
            return
        for group in ("all", "any"):
            for sub in cond.get(group) or ():
                walk(sub, into)
        walk(cond.get("not"), into)
        if isinstance(cond.get("field"), str):
            into[cond["field"]] = None

    for c in spec.criteria:
        walk(c.when, lead_fields)
        walk(c.where, properties)
        kinds.update(dict.fromkeys(c.events))
    for d in spec.decay:
        kinds.update(dict.fromkeys((d.events or ()) + d.responses))
        if d.match_property:
            properties[d.match_property] = None
    for s in spec.segments:
        walk(s.when, lead_fields)
    for attributes in Lead.objects.order_by("-pk").values_list("attributes", flat=True)[:SUGGESTION_SAMPLE]:
        if isinstance(attributes, dict):
            lead_fields.update(dict.fromkeys(f"attributes.{key}" for key in attributes))
    for kind, props in Event.objects.order_by("-pk").values_list("kind", "properties")[:SUGGESTION_SAMPLE]:
        kinds[kind] = None
        if isinstance(props, dict):
            properties.update(dict.fromkeys(props))
    return {
        "lead_fields": list(lead_fields),
        "event_kinds": sorted(kinds),
        "event_properties": sorted(properties),
    }
