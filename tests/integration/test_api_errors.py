"""Client mistakes get 4xx answers that say what is wrong; nothing answers 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest


def test_unknown_task_name_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/tasks/no.such.task", json={})
    assert response.status_code == 404
    assert "no.such.task" in response.json()["detail"]


@pytest.mark.parametrize("name", ["UPPER", "x" * 100, "a b"])
def test_odd_task_names_are_404_not_500(client: httpx.Client, name: str) -> None:
    assert client.post(f"/v1/tasks/{name}", json={}).status_code == 404


def test_invalid_arguments_are_422_naming_the_field(client: httpx.Client) -> None:
    response = client.post("/v1/tasks/email.send", json={"to": "not-an-address", "subject": "s"})
    assert response.status_code == 422
    locations = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("body", "to") in locations
    assert ("body", "body") in locations  # missing


def test_unexpected_argument_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/tasks/text.process", json={"data": "x", "dta": "typo"})
    assert response.status_code == 422
    assert ["body", "dta"] in [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"null", b"", b"{not json"])
def test_body_that_is_not_a_json_object_is_422(client: httpx.Client, raw: bytes) -> None:
    response = client.post(
        "/v1/tasks/text.process", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_bounded_arguments_are_enforced(client: httpx.Client) -> None:
    assert client.post("/v1/tasks/demo.sleep", json={"seconds": 301}).status_code == 422
    assert client.post("/v1/tasks/demo.sleep", json={"seconds": -1}).status_code == 422
    too_long = {"rows": 1_000_000, "seconds_per_row": 1}
    assert client.post("/v1/tasks/report.generate", json=too_long).status_code == 422


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    # The stack runs with TASKLANE_MAX_BODY_BYTES=4096.
    response = client.post("/v1/tasks/text.process", json={"data": "x" * 5000})
    assert response.status_code == 413


def test_chunked_body_over_the_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the API has to count
        yield b'{"data": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/v1/tasks/text.process", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_unknown_task_id_is_404(client: httpx.Client) -> None:
    assert client.get(f"/v1/tasks/{uuid.uuid4()}").status_code == 404
    assert client.get("/v1/tasks/not-even-a-uuid").status_code == 404
    assert client.delete(f"/v1/tasks/{uuid.uuid4()}").status_code == 404


def test_bad_idempotency_key_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/tasks/text.process", json={"data": "x"}, headers={"Idempotency-Key": "has space"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("rows", [b"1e3", b"1000.0", b"1E+3"])
def test_a_number_written_as_a_float_is_not_an_integer(client: httpx.Client, rows: bytes) -> None:
    response = client.post(
        "/v1/tasks/report.generate",
        content=b'{"rows": ' + rows + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "rows"]]
    # ... and the schema the API publishes says so.
    schema = client.get("/v1/task-types/report.generate").json()["args_schema"]
    assert schema["properties"]["rows"]["type"] == "integer"
    assert "1e3 or 9.0 is refused" in schema["properties"]["rows"]["description"]


def test_catalog_lists_every_task_with_schemas(client: httpx.Client) -> None:
    catalog = client.get("/v1/task-types").json()["task_types"]
    by_name = {t["name"]: t for t in catalog}
    assert set(by_name) >= {"text.process", "email.send", "report.generate", "demo.sleep"}
    assert by_name["text.process"]["args_schema"]["properties"]["data"]["type"] == "string"
    assert by_name["report.generate"]["reports_progress"] is True
    assert client.get("/v1/task-types/email.send").json()["queue"] == "email"
    assert client.get("/v1/task-types/nope").status_code == 404


def test_probes_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/v1/tasks/no.such.task", json={})
    metrics = client.get("/metrics").text
    assert 'tasklane_api_tasks_rejected_total{reason="unknown_task",task="unknown"}' in metrics
    assert (
        'tasklane_api_requests_total{method="POST",route="/v1/tasks/{name}",status="404"}'
        in metrics
    )
