"""Writes to scoring models: import, edit, approve, publish. Views, API and commands call these."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .choices import VersionStatus
from .engine.document import DocumentError, ModelSpec, parse_document
from .models import AuditEntry, ModelVersion, ScoringModel


class PublishError(ValueError):
    """A version that cannot be published as asked (not a draft, missing approvals...)."""


def audit(*, scoring_model: ScoringModel, action: str, user=None, version=None, **detail) -> AuditEntry:
    return AuditEntry.objects.create(
        scoring_model=scoring_model, version=version, actor=user, action=action, detail=detail
    )


@transaction.atomic
def model_import(*, data, user=None, note: str = "") -> ModelVersion:
    """Validate a model document whole and store it as a new draft version of the model with its slug."""
    spec: ModelSpec = parse_document(data)
    scoring_model, created = ScoringModel.objects.select_for_update().get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "description": spec.description}
    )
    if not created:
        ScoringModel.objects.filter(pk=scoring_model.pk).update(name=spec.name, description=spec.description)
    number = (scoring_model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModelVersion.objects.create(
        scoring_model=scoring_model,
        number=number,
        status=VersionStatus.DRAFT,
        document=data,
        note=note,
        created_by=user,
        updated_by=user,
    )
    audit(scoring_model=scoring_model, version=version, user=user, action="draft_imported", number=number)
    return version


@transaction.atomic
def model_version_publish(*, version: ModelVersion, user=None) -> ModelVersion:
    """Make a draft the live version of its model; the previous live version is archived."""
    # Lock the model row: two publishes of the same model run one after the other.
    ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise PublishError(f"version {version.number} is {version.status}, only a draft can be published")
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
    audit(
        scoring_model=version.scoring_model,
        version=version,
        user=user,
        action="published",
        number=version.number,
    )
    # In the same transaction: the job exists exactly when the publish does, and is sent on commit.
    from leads.choices import JobTrigger
    from leads.jobs import rescore_job_create

    rescore_job_create(version=version, trigger=JobTrigger.PUBLISH, user=user)
    return version


class DraftError(ValueError):
    """A draft edit that cannot be made (the version is not a draft, the slug would change...)."""


class StaleRevision(DraftError):
    """The draft changed since the editor read it: their edit would silently undo someone else's."""


@transaction.atomic
def model_draft_update(
    *, version: ModelVersion, data, user=None, revision: int, note: str | None = None
) -> ModelVersion:
    """Replace a draft's document, if it is still at `revision` (optimistic concurrency).

    The document is validated whole (DocumentError lists every problem by JSON path) and must
    keep the model's slug. The revision is bumped, so approvals given to the old revision no
    longer count, and the edit is audited.
    """
    ScoringModel.objects.select_for_update().get(pk=version.scoring_model_id)
    version = ModelVersion.objects.select_for_update().select_related("scoring_model").get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise DraftError(f"version {version.number} is {version.status}: only a draft can be edited")
    if version.revision != revision:
        raise StaleRevision(
            f"version {version.number} is at revision {version.revision}, the edit was made on revision {revision}"
        )
    spec: ModelSpec = parse_document(data)
    if spec.slug != version.scoring_model.slug:
        raise DocumentError([f"slug: must stay {version.scoring_model.slug!r} (the model of this draft)"])
    ScoringModel.objects.filter(pk=version.scoring_model_id).update(name=spec.name, description=spec.description)
    version.document = data
    version.revision = revision + 1
    version.updated_by = user
    fields = ["document", "revision", "updated_by", "updated_at"]
    if note is not None:
        version.note = note
        fields.append("note")
    version.save(update_fields=fields)
    audit(
        scoring_model=version.scoring_model,
        version=version,
        user=user,
        action="draft_updated",
        number=version.number,
        revision=version.revision,
    )
    return version
