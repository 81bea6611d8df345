"""tasklane_flower's decisions before Flower starts: is authentication on, which defaults apply."""

from __future__ import annotations

import pytest
from celery import _state as celery_state

from tasklane_contract.settings import Settings
from tasklane_flower.__main__ import FLOWER_DEFAULTS, apply_defaults
from tasklane_flower.app import create_flower_app
from tasklane_flower.authentication import authentication_configured


@pytest.mark.parametrize(
    ("env", "argv"),
    [
        ({"FLOWER_BASIC_AUTH": "ops:secret"}, []),
        ({"FLOWER_AUTH": ".*@example\\.org"}, []),
        ({}, ["--basic_auth=ops:secret"]),
        ({}, ["--port=5555", "--basic-auth=ops:secret"]),
        ({}, ["--auth=ops@example.org"]),
    ],
)
def test_authentication_is_on(env: dict[str, str], argv: list[str]) -> None:
    assert authentication_configured(env, argv)


@pytest.mark.parametrize(
    ("env", "argv"),
    [
        ({}, []),
        ({"FLOWER_BASIC_AUTH": "  "}, ["--basic_auth="]),
        ({"FLOWER_OAUTH2_KEY": "k", "FLOWER_AUTH_PROVIDER": "x"}, ["--port=5555"]),
        # Options other than these two do not authenticate anyone, whatever they look like.
        ({"FLOWER_UNAUTHENTICATED_API": "true"}, ["--authx=1", "basic_auth=ops:secret"]),
    ],
)
def test_authentication_is_off(env: dict[str, str], argv: list[str]) -> None:
    assert not authentication_configured(env, argv)


def test_defaults_keep_what_is_set() -> None:
    env = {"FLOWER_PURGE_OFFLINE_WORKERS": "60"}
    apply_defaults(env)
    assert env == {**FLOWER_DEFAULTS, "FLOWER_PURGE_OFFLINE_WORKERS": "60"}
    assert env["FLOWER_DB"].startswith("/tmp/")


def test_app_has_the_contract_configuration_but_kombus_transport() -> None:
    previous = celery_state.default_app
    try:
        app = create_flower_app(Settings(redis_url="redis://redis.example:6379/2"))
        assert app.conf.broker_transport is None
        assert app.conf.accept_content == ["json"]
        assert app.conf.broker_url == "redis://redis.example:6379/2"
        with app.connection() as connection:
            assert connection.as_uri() == "redis://:**@redis.example:6379/2"
        # Flower's request threads find it without being handed it.
        assert celery_state.get_current_app() is app
    finally:
        celery_state.set_default_app(previous)
