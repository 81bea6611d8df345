from __future__ import annotations

import json

from tasklane_contract.backlog import combine, count_reserved, queue_list_keys, reserved_queue


def test_priority_list_names_follow_kombu() -> None:
    keys = queue_list_keys("email")
    assert keys[0] == "email"
    assert "email\x06\x163" in keys
    assert "email\x06\x169" in keys
    assert "email\x06\x160" not in keys  # priority 0 is the bare list
    assert len(keys) == 10


def test_reserved_entries_are_attributed_by_routing_key() -> None:
    entries: list[bytes | str] = [
        json.dumps([{"body": "x"}, "default", "default"]),
        json.dumps([{"body": "x"}, "email", "email"]).encode(),
        json.dumps([{"body": "x"}, "default", "default"]),
        b"not json",
        json.dumps({"unexpected": "shape"}),
    ]
    assert count_reserved(entries) == {"default": 2, "email": 1}
    assert reserved_queue(b"garbage") is None


def test_combine_sums_every_priority_list() -> None:
    lengths = {"default": 2, "default\x06\x163": 5, "default\x06\x169": 1, "email": 7}
    backlog = combine(["default"], lengths, {"default": 4})
    assert backlog["default"].waiting == 8
    assert backlog["default"].reserved == 4
    assert backlog["default"].total == 12
