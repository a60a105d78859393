import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache: every test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scoring_calls(monkeypatch):
    """The lead ids each ingest task was sent, instead of sending it to a broker."""
    from leads import tasks

    calls = []
    monkeypatch.setattr(tasks.score_leads, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls
