"""How `make run` starts Flower: its own port, and credentials given or generated, never on the
command line (where `ps` shows them)."""

from __future__ import annotations

from pydantic import SecretStr

from tasklane_contract.settings import Settings
from tasklane_devstack.flower import FLOWER_USER, flower_command, flower_login


def test_listens_on_its_own_port_with_the_api_host() -> None:
    command = flower_command(Settings(api_host="127.0.0.1", flower_listen_port=5601))
    assert command[1:3] == ["-m", "tasklane_flower"]
    assert "--address=127.0.0.1" in command and "--port=5601" in command
    assert not any("auth" in argument for argument in command)


def test_generates_a_password_and_shows_it() -> None:
    first, second = flower_login(Settings()), flower_login(Settings())
    user, _, password = first.basic_auth.partition(":")
    assert user == FLOWER_USER and len(password) >= 16
    assert first.shown == f"user {FLOWER_USER}, password {password}"
    assert second.basic_auth != first.basic_auth


def test_uses_the_credentials_given_and_does_not_show_the_password() -> None:
    login = flower_login(Settings(flower_basic_auth=SecretStr("ops:kept-secret")))
    assert login.basic_auth == "ops:kept-secret"
    assert "kept-secret" not in login.shown and "user ops" in login.shown
