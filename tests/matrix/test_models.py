"""Constraints of the scoring-model tables: what the database itself refuses."""

import pytest
from django.db import IntegrityError, transaction

from matrix.choices import VersionStatus
from matrix.models import ModelVersion, ScoringModel
from matrix.services import PublishError, model_import
from scoring.jobs import model_version_publish
from tests.matrix.helpers import doc as model_doc


@pytest.mark.django_db
def test_a_model_has_at_most_one_published_version():
    # Given a model with a published version
    version = model_version_publish(version=model_import(data=model_doc()))
    # when a second row claims to be published too, the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            scoring_model=version.scoring_model, number=99, status=VersionStatus.PUBLISHED, document={}
        )


@pytest.mark.django_db
def test_version_numbers_are_unique_per_model():
    version = model_import(data=model_doc())
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(scoring_model=version.scoring_model, number=version.number, document={})


@pytest.mark.django_db
def test_slugs_are_unique():
    ScoringModel.objects.create(slug="one", name="One")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScoringModel.objects.create(slug="one", name="Another")


@pytest.mark.django_db
def test_publishing_archives_the_previous_version_and_a_published_version_cannot_be_published_again():
    first = model_version_publish(version=model_import(data=model_doc()))
    second = model_version_publish(version=model_import(data=model_doc()))
    first.refresh_from_db()
    assert (first.status, second.status) == (VersionStatus.ARCHIVED, VersionStatus.PUBLISHED)
    with pytest.raises(PublishError, match="only a draft can be published"):
        model_version_publish(version=second)
    with pytest.raises(PublishError, match="only a draft can be published"):
        model_version_publish(version=first)
