import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache: every test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scoring_calls():
    """Leads queued for real-time scoring (the pending table the ingest workers drain)."""
    from scoring.models import PendingScore

    return lambda: sorted(PendingScore.objects.values_list("lead_id", flat=True))
