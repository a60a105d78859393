"""Writes to scoring models: import, edit, approve, publish. Views, API and commands call these."""

import copy
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from engine.document import DocumentError, ModelSpec, parse_document
from leadscoring.roles import ADMIN, APPROVAL_ROLE_OF_GROUP, user_roles
from matrix.choices import ApprovalRole, VersionStatus
from matrix.models import Approval, AuditEntry, ModelVersion, ScoringModel
from matrix.selectors import approvals_status, documents_diff, version_live, version_open_draft


class PublishError(ValueError):
    """A version that cannot be published as asked (not a draft, missing approvals...)."""


def audit(*, version: ModelVersion, action: str, user=None, **detail) -> AuditEntry:
    """Record `action` on `version` in its model's audit trail; the entry names the version's number."""
    return AuditEntry.objects.create(
        scoring_model=version.scoring_model,
        version=version,
        actor=user,
        action=action,
        detail={"number": version.number, **detail},
    )


def _draft_add(
    *, scoring_model: ScoringModel, document, note: str, user=None, based_on: ModelVersion | None = None
) -> ModelVersion:
    """A new draft of `scoring_model`, numbered after its last version (the caller holds the model's lock)."""
    number = (scoring_model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ModelVersion.objects.create(
        scoring_model=scoring_model,
        number=number,
        status=VersionStatus.DRAFT,
        document=document,
        note=note,
        based_on=based_on,
        created_by=user,
        updated_by=user,
    )


@transaction.atomic
def model_import(
    *, data, user=None, note: str = "", action: str = "draft_imported", detail: dict | None = None
) -> ModelVersion:
    """Validate a model document whole and store it as a new draft version of the model with its slug.

    Audited as `action` with `detail` (a caller that made the document, as a threshold proposal,
    records what it did: the history says that, not "Imported").
    """
    spec: ModelSpec = parse_document(data)
    scoring_model, created = ScoringModel.objects.select_for_update().get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "description": spec.description}
    )
    if not created:
        ScoringModel.objects.filter(pk=scoring_model.pk).update(name=spec.name, description=spec.description)
    version = _draft_add(scoring_model=scoring_model, document=data, note=note, user=user)
    audit(version=version, user=user, action=action, **(detail or {}))
    return version


@transaction.atomic
def version_publish(*, version: ModelVersion, user=None, enforce_approvals: bool = False) -> ModelVersion:
    """Make a draft the live version of its model; the previous live version is archived.

    Versions only: scoring.jobs.model_version_publish also starts the rescore of every lead.

    With `enforce_approvals` (the pages and the API), the current revision must carry a marketing
    and a sales approval unless the workspace setting relaxes that; PublishError names what is
    missing. Without it (CLI import --publish, seed_demo, tests) no sign-off is asked.
    """
    # Lock the model row: two publishes of the same model run one after the other.
    ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise PublishError(f"version {version.number} is {version.status}, only a draft can be published")
    if enforce_approvals:
        status = approvals_status(version=version)
        if not status["ready"]:
            raise PublishError(
                f"version {version.number} revision {version.revision} still needs the approval of: "
                + ", ".join(status["missing"])
            )
    try:
        parse_document(version.document)
    except DocumentError as exc:
        raise PublishError(f"version {version.number} is not a valid model: {exc}") from None
    now = timezone.now()
    ModelVersion.objects.filter(scoring_model_id=version.scoring_model_id, status=VersionStatus.PUBLISHED).update(
        status=VersionStatus.ARCHIVED
    )
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    version.published_by = user
    version.save(update_fields=["status", "published_at", "published_by", "updated_at"])
    audit(version=version, user=user, action="published")
    return version


class DraftError(ValueError):
    """A draft edit that cannot be made (the version is not a draft, the slug would change...)."""


class StaleRevision(DraftError):
    """The draft changed since the editor read it: their edit would silently undo someone else's."""


def _draft_locked(*, version: ModelVersion, revision: int, doing: str, stale: str) -> ModelVersion:
    """`version` read again under lock, with its model, if it is still a draft at `revision`.

    Locks the model, then the version (the order version_publish takes), so no other edit,
    approval or publish of this model slips in before the caller's write. `doing` ends the
    not-a-draft error ("only a draft can be <doing>"), `stale` ends the stale-revision one.
    """
    ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    version = ModelVersion.objects.select_for_update().select_related("scoring_model").get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise DraftError(f"version {version.number} is {version.status}: only a draft can be {doing}")
    if version.revision != revision:
        raise StaleRevision(f"version {version.number} is at revision {version.revision}, {stale}")
    return version


@transaction.atomic
def model_draft_update(
    *,
    version: ModelVersion,
    data,
    user=None,
    revision: int,
    note: str | None = None,
    action: str = "draft_updated",
    detail: dict | None = None,
) -> ModelVersion:
    """Replace a draft's document, if it is still at `revision` (optimistic concurrency).

    The document is validated whole (DocumentError lists every problem by JSON path) and must
    keep the model's slug. The revision is bumped, so approvals given to the old revision no
    longer count, and the edit is audited (as `action` with `detail`, "draft_updated" by default).
    """
    version = _draft_locked(
        version=version, revision=revision, doing="edited", stale=f"the edit was made on revision {revision}"
    )
    spec: ModelSpec = parse_document(data)
    if spec.slug != version.scoring_model.slug:
        raise DocumentError([f"slug: must stay {version.scoring_model.slug!r} (the model of this draft)"])
    ScoringModel.objects.filter(pk=version.scoring_model_id).update(name=spec.name, description=spec.description)
    # Kept in the audit entry so a later stale save can say what this edit changed, and by whom.
    changes = _draft_changes(old_document=version.document, new_document=data)
    version.document = data
    version.revision = revision + 1
    version.updated_by = user
    fields = ["document", "revision", "updated_by", "updated_at"]
    if note is not None:
        version.note = note
        fields.append("note")
    version.save(update_fields=fields)
    audit(version=version, user=user, action=action, revision=version.revision, changes=changes, **(detail or {}))
    return version


def _draft_changes(*, old_document, new_document) -> list[str]:
    try:
        return documents_diff(old_document=old_document, new_document=new_document)
    except DocumentError:
        # A draft stored before validation was this strict: the edit itself is valid, only the
        # "before" cannot be read, so say so instead of refusing the edit.
        return ["(the previous revision could not be read: changes not listed)"]


@transaction.atomic
def model_draft_start(*, scoring_model: ScoringModel, user=None) -> ModelVersion:
    """The model's newest draft; without one, a new draft copied from the live version (a restore).

    Under the model's lock, so two editors starting at once get the same draft, not two.
    Raises DraftError when the model has neither a draft nor a live version.
    """
    ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    versions = ModelVersion.objects.filter(scoring_model_id=scoring_model.pk)
    draft = versions.filter(status=VersionStatus.DRAFT).order_by("-number").first()
    if draft is not None:
        return draft
    live = versions.filter(status=VersionStatus.PUBLISHED).first()
    if live is None:
        raise DraftError(f"{scoring_model.slug} has no live version to start a draft from")
    # A copy of the live version, like a restore, but nothing was restored: say what happened.
    return model_version_restore(
        version=live, user=user, note=f"Started from the live version {live.number}", action="draft_started"
    )


@dataclass(frozen=True)
class ThresholdProposal:
    """What `model_draft_threshold_propose` did: the draft, and whether it was new or changed."""

    draft: ModelVersion
    created: bool
    changed: bool
    old: float | int | None  # the segment's MQL threshold in the draft before (the live one when created)


@transaction.atomic
def model_draft_threshold_propose(
    *,
    scoring_model: ScoringModel,
    segment: str,
    threshold,
    user=None,
    revision: int | None = None,
    origin: str = "",
) -> ThresholdProposal:
    """Put one segment's MQL threshold into the model's open draft; a new draft only when none is open.

    Under the model's lock (as `model_draft_start`), so two clicks at once give one draft. The
    newest draft is the open one: its other edits are kept and the change goes through
    `model_draft_update` (validated whole, revision bumped, so its approvals must be given
    again); `revision`, when given, is the revision the proposer saw (StaleRevision otherwise).
    A draft that already has this threshold is returned unchanged. With no draft, the live
    version's document is copied with the threshold changed and imported as a new draft, noted
    "Proposed from <origin>: segment <label> MQL threshold <old> → <new>, from v<live>". Either
    way the audit entry is "threshold_proposed" with the segment (key and label), the old and new
    threshold and `origin` (e.g. "the calibration report"), so the history says what happened.
    Permissions are the caller's to check: editors and, for the calibration report, sales
    managers may propose; publishing still needs both approvals.
    Raises DraftError (no live version, unknown segment) or DocumentError.
    """
    ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    draft = version_open_draft(scoring_model=scoring_model)
    source = draft or version_live(scoring_model=scoring_model)
    if source is None:
        raise DraftError(f"{scoring_model.name} has neither a draft nor a live version to start from")
    if draft is not None and revision is not None and draft.revision != revision:
        raise StaleRevision(
            f"draft v{draft.number} is at revision {draft.revision}, the page showed revision {revision}: read it again"
        )
    document = copy.deepcopy(source.document)
    target = next((s for s in document.get("segments", []) if s.get("key") == segment), None)
    if target is None:
        raise DraftError(f"{scoring_model.name} v{source.number} has no segment {segment!r}")
    old = target["thresholds"]["mql"]
    new = int(threshold) if float(threshold).is_integer() else float(threshold)
    if float(old) == float(new):
        if draft is None:
            raise DraftError(f"the MQL threshold of segment {segment} is already {new}")
        return ThresholdProposal(draft, created=False, changed=False, old=old)
    target["thresholds"]["mql"] = new
    detail = {
        "segment": segment,
        "segment_label": target.get("label") or segment,
        "threshold": new,
        "old": old,
        "origin": origin,
    }
    if draft is None:
        detail["from_number"] = source.number
        note = (
            f"Proposed from {origin}: segment {detail['segment_label']} MQL threshold {old} → {new}, "
            f"from v{source.number}"
        )
        created = model_import(data=document, user=user, note=note, action="threshold_proposed", detail=detail)
        return ThresholdProposal(created, created=True, changed=True, old=old)
    updated = model_draft_update(
        version=draft, data=document, user=user, revision=draft.revision, action="threshold_proposed", detail=detail
    )
    return ThresholdProposal(updated, created=False, changed=True, old=old)


def _approval_roles(user) -> list[str]:
    """The approval roles the user may give, in ApprovalRole order: an editor's own; every role
    for an admin (or a member of both editor groups)."""
    names = user_roles(user)
    if ADMIN in names:
        return [role.value for role in ApprovalRole]
    mine = {APPROVAL_ROLE_OF_GROUP[name] for name in names if name in APPROVAL_ROLE_OF_GROUP}
    return [role.value for role in ApprovalRole if role.value in mine]


@transaction.atomic
def model_version_approve(*, version: ModelVersion, user, revision: int) -> Approval:
    """Sign off `revision` of a draft in the user's role (marketing or sales editor).

    The role comes from the user's group (leadscoring.roles.APPROVAL_ROLE_OF_GROUP). An admin
    gives the first role still missing at this revision (marketing, then sales): one call, one
    approval, so an admin standing in for both teams approves twice, knowingly. Approving again
    in a role already given at this revision returns that approval (nothing new is recorded).
    Raises PermissionDenied for users without an approval role, DraftError if the version is not
    a draft, StaleRevision if it moved on from `revision`.
    """
    if not user.has_perm("matrix.approve_version"):
        raise PermissionDenied(f"{user.get_username()} may not approve scoring models")
    roles = _approval_roles(user)
    if not roles:
        raise PermissionDenied(f"{user.get_username()} is neither a marketing nor a sales editor")
    version = _draft_locked(
        version=version,
        revision=revision,
        doing="approved",
        stale=f"the approval was given on revision {revision}: read it again",
    )
    given = {a.role: a for a in version.approvals.filter(revision=revision)}
    role = next((r for r in roles if r not in given), None)
    if role is None:
        return given[roles[0]]
    approval = Approval.objects.create(version=version, role=role, revision=revision, user=user)
    audit(version=version, user=user, action="approved", revision=revision, role=role)
    return approval


@transaction.atomic
def version_draft_publish(*, version: ModelVersion, user, revision: int) -> ModelVersion:
    """The pages' publish: the draft as the user saw it (`revision`), approvals enforced.

    Locks in the same order as version_publish (model, then version), so the revision
    checked is the one published. Raises StaleRevision or PublishError.
    """
    ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status == VersionStatus.DRAFT and locked.revision != revision:
        raise StaleRevision(
            f"version {locked.number} is at revision {locked.revision}, you saw revision {revision}: read it again"
        )
    return version_publish(version=locked, user=user, enforce_approvals=True)


@transaction.atomic
def model_version_restore(
    *, version: ModelVersion, user=None, note: str | None = None, action: str = "restored"
) -> ModelVersion:
    """A new draft whose document is a copy of `version`'s (any status), audited as a restore
    (or as `action` with `note`: model_draft_start starts a draft this way)."""
    scoring_model = ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    source = ModelVersion.objects.get(pk=version.pk)
    spec: ModelSpec = parse_document(source.document)
    ScoringModel.objects.filter(pk=scoring_model.pk).update(name=spec.name, description=spec.description)
    draft = _draft_add(
        scoring_model=scoring_model,
        document=copy.deepcopy(source.document),
        note=f"Restored from version {source.number}" if note is None else note,
        user=user,
        based_on=source,
    )
    audit(version=draft, user=user, action=action, from_number=source.number)
    return draft
