from __future__ import annotations

from tasklane_api.api_keys import ApiKeys
from tasklane_api.rate_limit import retry_after_s, window_key


def test_keys_match_exactly() -> None:
    keys = ApiKeys(["alpha-key", "beta-key"])
    assert keys.required
    assert keys.accepts("alpha-key") and keys.accepts("beta-key")
    assert not keys.accepts("alpha-ke")
    assert not keys.accepts("alpha-key ")
    assert not keys.accepts("")
    assert not ApiKeys([]).required


def test_retry_after_counts_to_the_end_of_the_window() -> None:
    assert retry_after_s(3, 3, now=120.0) is None
    assert retry_after_s(4, 3, now=120.0) == 60
    assert retry_after_s(4, 3, now=179.2) == 1
    assert retry_after_s(4, 3, now=150.5) == 30


def test_windows_are_per_minute_and_per_client() -> None:
    assert window_key("ip:a", 60.0) == window_key("ip:a", 119.9)
    assert window_key("ip:a", 60.0) != window_key("ip:a", 120.0)
    assert window_key("ip:a", 60.0) != window_key("ip:b", 60.0)
