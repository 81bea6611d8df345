"""Each starter task through the real API, Redis and worker."""

from __future__ import annotations

import httpx

from tests.support.polling import eventually, wait_for_status


def submit(client: httpx.Client, name: str, body: object) -> str:
    response = client.post(f"/v1/tasks/{name}", json=body)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "PENDING"
    assert accepted["name"] == name
    assert response.headers["Location"] == f"/v1/tasks/{accepted['id']}"
    return str(accepted["id"])


def test_text_process_round_trip(client: httpx.Client) -> None:
    task_id = submit(client, "text.process", {"data": "hello"})
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"})
    assert done["status"] == "SUCCESS"
    assert done["result"] == {"processed_data": "HELLO"}
    assert done["progress"] == 100.0
    assert done["finished_at"]


def test_email_send_round_trip(client: httpx.Client) -> None:
    task_id = submit(
        client, "email.send", {"to": "ada@example.org", "subject": "hi", "body": "hello"}
    )
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"})
    assert done["status"] == "SUCCESS"
    assert done["result"]["attempts"] == 1
    assert done["result"]["message_id"].endswith("@tasklane.local>")


def test_demo_sleep_round_trip(client: httpx.Client) -> None:
    task_id = submit(client, "demo.sleep", {"seconds": 0.2})
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"})
    assert done["status"] == "SUCCESS"
    assert done["result"]["slept_s"] >= 0.2


def test_report_generate_round_trip(client: httpx.Client) -> None:
    task_id = submit(client, "report.generate", {"rows": 50, "seconds_per_row": 0})
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"})
    assert done["status"] == "SUCCESS"
    assert done["result"]["rows"] == 50
    assert done["result"]["total"] == sum(r * r % 9973 for r in range(1, 51))


def test_progress_is_visible_while_the_report_runs(client: httpx.Client) -> None:
    task_id = submit(client, "report.generate", {"rows": 600, "seconds_per_row": 0.005})
    midway = wait_for_status(client, task_id, {"PROGRESS"})
    assert 0 <= midway["progress"] < 100
    later = eventually(
        lambda: (
            body
            if (body := client.get(f"/v1/tasks/{task_id}").json())["status"] == "PROGRESS"
            and body["progress"] > midway["progress"]
            else None
        ),
        timeout_s=10,
    )
    assert later["progress_message"].endswith("/600 rows")
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"})
    assert done["status"] == "SUCCESS"
    assert done["progress"] == 100.0


def test_transient_failures_are_retried_until_success(client: httpx.Client) -> None:
    body = {"to": "a@example.org", "subject": "s", "body": "b", "simulate_transient_failures": 2}
    task_id = submit(client, "email.send", body)
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"}, timeout_s=30)
    assert done["status"] == "SUCCESS"
    assert done["result"]["attempts"] == 3


def test_retries_run_out_with_a_clear_final_error(client: httpx.Client) -> None:
    body = {"to": "a@example.org", "subject": "s", "body": "b", "simulate_transient_failures": 9}
    task_id = submit(client, "email.send", body)
    done = wait_for_status(client, task_id, {"SUCCESS", "FAILURE"}, timeout_s=40)
    assert done["status"] == "FAILURE"
    assert done["error"]["type"] == "RetriesExhausted"
    assert "email.send failed after 4 attempts" in done["error"]["message"]
    assert "421 try again later" in done["error"]["message"]
    assert done["result"] is None


def test_recent_tasks_list_newest_first(client: httpx.Client) -> None:
    first = submit(client, "text.process", {"data": "one"})
    second = submit(client, "text.process", {"data": "two"})
    ids = [t["id"] for t in client.get("/v1/tasks", params={"limit": 5}).json()["tasks"]]
    assert ids[:2] == [second, first]
