from sheets_sync.backoff import Backoff, parse_retry_after


def test_the_waits_double_from_one_second_with_up_to_a_second_of_jitter_and_stop_at_the_cap():
    backoff = Backoff(max_retries=8, maximum=64, random=lambda: 0.25)
    assert backoff.delays() == [1.25, 2.25, 4.25, 8.25, 16.25, 32.25, 64, 64]


def test_jitter_is_between_zero_and_one_second():
    assert Backoff(random=lambda: 0.0).delay(0) == 1.0
    assert Backoff(random=lambda: 1.0).delay(0) == 2.0
    assert Backoff(random=lambda: 7.0).delay(2) == 5.0  # a misbehaving source is clamped to one second


def test_retries_are_bounded():
    backoff = Backoff(max_retries=3, random=lambda: 0.5)
    assert [backoff.delay(n) for n in range(5)] == [1.5, 2.5, 4.5, None, None]
    assert Backoff(max_retries=0).delay(0) is None


def test_retry_after_wins_over_the_formula_and_one_beyond_the_cap_ends_the_retries():
    backoff = Backoff(max_retries=5, maximum=64, random=lambda: 0.5)
    assert backoff.delay(0, retry_after=7) == 7.0
    assert backoff.delay(4, retry_after=0) == 0.0
    assert backoff.delay(1, retry_after=65) is None
    assert backoff.delay(5, retry_after=1) is None  # still bounded


def test_retry_after_header_values():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after("-3") is None
