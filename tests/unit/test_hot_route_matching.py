"""Which requests the hot-path middleware answers itself; everything else goes to FastAPI."""

from __future__ import annotations

import pytest

from tasklane_api.hot_routes import STATUS, SUBMIT, hot_route


def test_the_two_hot_routes() -> None:
    assert hot_route("POST", "/v1/tasks/text.process") == (SUBMIT, "text.process")
    assert hot_route("GET", "/v1/tasks/3f0c-1") == (STATUS, "3f0c-1")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/tasks"),  # the recent-tasks list
        ("GET", "/v1/tasks/"),
        ("GET", "/v1/tasks/a/b"),
        ("GET", "/v1/tasks/a/"),
        ("DELETE", "/v1/tasks/a"),
        ("HEAD", "/v1/tasks/a"),
        ("PUT", "/v1/tasks/a"),
        ("GET", "/v1/task-types/text.process"),
        ("GET", "/v1/tasks/" + "i" * 65),  # FastAPI's 422 for an overlong id
        ("POST", "/v1/tasks/" + "n" * 101),  # and for an overlong name
    ],
)
def test_everything_else_goes_to_fastapi(method: str, path: str) -> None:
    assert hot_route(method, path) is None


def test_longest_parameters_fastapi_accepts_stay_hot() -> None:
    assert hot_route("GET", "/v1/tasks/" + "i" * 64) == (STATUS, "i" * 64)
    assert hot_route("POST", "/v1/tasks/" + "n" * 100) == (SUBMIT, "n" * 100)
