"""`--as-of` of the commands (leads/cli.py) takes the range every other input takes.

Given an instant outside 1900-2200 UTC, when `rescore --as-of` gets it, then the command stops
with the row checks' message before scoring anything (a rescore at year 10000 would overflow
every date computation of the engine).
"""

import pytest
from django.core.management import CommandError, call_command

from scoring.models import Score
from tests.apihelpers import add_lead, publish


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z"])
def test_an_as_of_outside_the_range_is_refused_before_scoring(db, as_of):
    publish()
    add_lead("L-1")
    with pytest.raises(CommandError) as refused:
        call_command("rescore", "--as-of", as_of)
    assert str(refused.value) == f"--as-of: {as_of} is outside the supported range 1900-01-01 to 2200-12-31 (UTC)"
    assert not Score.objects.exists()
