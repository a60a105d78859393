"""Reads of scores (scoring/selectors.py): the score range a tier filter adds to the lead lists."""

import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from engine.fields import COLD, HOT, WARM
from matrix.models import ModelVersion
from scoring.filtersets import LeadFilterSet
from scoring.models import Score
from scoring.selectors import leads_prioritized, tier_score_range
from tests.scoring.test_jobs import add_leads, model_doc, publish

pytestmark = pytest.mark.django_db

# Two versions of one model, each with two segments: (warm, hot) per segment.
THRESHOLDS = {1: {"big": (45, 80), "all": (30, 60)}, 2: {"big": (50, 90.5), "all": (25, 70)}}


def two_versions():
    """Version 1 and version 2 of the model, with the thresholds above."""
    versions = []
    for number in (1, 2):
        doc = model_doc()
        doc["segments"] = [
            {"key": key, "label": key, "when": {"field": "title", "op": "contains", "value": "ceo"} if i == 0 else None,
             "thresholds": {"warm": warm, "hot": hot, "mql": hot}}
            for i, (key, (warm, hot)) in enumerate(THRESHOLDS[number].items())
        ]  # fmt: skip
        versions.append(publish(doc))
    return versions


def tier_of(score, warm, hot):
    return HOT if score >= hot else WARM if score >= warm else COLD


def test_each_tier_is_bounded_by_the_thresholds_of_every_version():
    # Given a model whose two versions have different thresholds in each segment
    (version, _) = two_versions()

    # Then hot starts at the lowest hot line, warm spans the lowest warm line to the highest hot
    # line, cold ends at the highest warm line; a set of tiers spans theirs
    def bounds(*tiers):
        return tier_score_range(scoring_model_id=version.scoring_model_id, tiers=list(tiers))

    assert bounds(HOT) == {"score__gte": Decimal("60")}
    assert bounds(WARM) == {"score__gte": Decimal("25"), "score__lt": Decimal("90.5")}
    assert bounds(COLD) == {"score__lt": Decimal("50")}
    assert bounds(WARM, HOT) == {"score__gte": Decimal("25")}
    assert bounds(COLD, WARM) == {"score__lt": Decimal("90.5")}
    assert bounds(COLD, HOT) == {}


def test_a_threshold_that_is_not_a_number_bounds_nothing():
    # Given a version whose stored document was edited in the database to a non-number threshold
    (version, _) = two_versions()
    doc = version.document
    doc["segments"][0]["thresholds"]["hot"] = "80"
    ModelVersion.objects.filter(pk=version.pk).update(document=doc)
    # Then no tier gets a range: the lists filter by the tier alone
    assert tier_score_range(scoring_model_id=version.scoring_model_id, tiers=[HOT]) == {}


def test_a_tier_filter_lists_exactly_the_leads_of_those_tiers(rf, manager):
    # Given stored scores from -10 to 100 in steps of 0.75, by either version and in either
    # segment, each with the tier its own version and segment give it
    versions = two_versions()
    leads = add_leads(148)
    now = timezone.now()
    scores = []
    for i, lead_id in enumerate(leads):
        version, segment = versions[i % 2], ("big", "all")[i // 2 % 2]
        score = Decimal("-10") + Decimal("0.75") * i
        tier = tier_of(score, *THRESHOLDS[version.number][segment])
        scores.append(
            Score(lead_id=lead_id, scoring_model_id=version.scoring_model_id, version=version,
                  version_number=version.number, as_of=now, score=score, fit=0, engagement=score,
                  tier=tier, mql=False, segment=segment, grade="D1", computed_at=now)
        )  # fmt: skip
    Score.objects.bulk_create(scores)
    request = rf.get("/")
    request.user = manager
    # When the list is filtered by each set of tiers
    for count in (1, 2, 3):
        for tiers in itertools.combinations((HOT, WARM, COLD), count):
            filterset = LeadFilterSet(
                {"model": "pipeline", "tier": list(tiers)}, leads_prioritized(user=manager), request=request
            )
            assert filterset.is_valid()
            # Then it holds every lead of those tiers and no other, highest score first
            expected = [s.lead_id for s in sorted(scores, key=lambda s: -s.score) if s.tier in tiers]
            assert [lead.pk for lead in filterset.qs] == expected, tiers
