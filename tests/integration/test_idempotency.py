from __future__ import annotations

import uuid

import httpx


def test_same_key_returns_the_first_submission(client: httpx.Client) -> None:
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    first = client.post("/v1/tasks/text.process", json={"data": "once"}, headers=headers)
    again = client.post("/v1/tasks/text.process", json={"data": "once"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    recent = [t["id"] for t in client.get("/v1/tasks", params={"limit": 10}).json()["tasks"]]
    assert recent.count(first.json()["id"]) == 1


def test_same_key_with_other_arguments_is_409(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    assert (
        client.post("/v1/tasks/text.process", json={"data": "a"}, headers=headers).status_code
        == 202
    )
    conflict = client.post("/v1/tasks/text.process", json={"data": "b"}, headers=headers)
    assert conflict.status_code == 409
    assert "different arguments" in conflict.json()["detail"]


def test_keys_are_scoped_to_the_task_name(client: httpx.Client) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    a = client.post("/v1/tasks/text.process", json={"data": "a"}, headers=headers)
    b = client.post("/v1/tasks/demo.sleep", json={"seconds": 0}, headers=headers)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]
