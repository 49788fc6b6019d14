from __future__ import annotations

import pytest

from jobwire.retry import MAX_BACKOFF, retry_delay


def test_the_delay_doubles_per_attempt_up_to_the_cap() -> None:
    assert [retry_delay(1.5, n) for n in (1, 2, 3, 4)] == [1.5, 3.0, 6.0, 12.0]
    assert retry_delay(1.0, 40) == MAX_BACKOFF
    assert retry_delay(0.0, 3) == 0.0


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(1.0, 0)
