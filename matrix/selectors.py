"""Reads of scoring models and versions."""

from .choices import VersionStatus
from .engine.document import ModelSpec, parse_document
from .models import ModelVersion, ScoringModel


def version_live(*, scoring_model: ScoringModel) -> ModelVersion | None:
    return scoring_model.versions.filter(status=VersionStatus.PUBLISHED).first()


def versions_live() -> list[ModelVersion]:
    """The published version of every model that has one, in model order."""
    return list(
        ModelVersion.objects.filter(status=VersionStatus.PUBLISHED)
        .select_related("scoring_model")
        .order_by("scoring_model__name")
    )


def version_spec(*, version: ModelVersion) -> ModelSpec:
    return parse_document(version.document)
