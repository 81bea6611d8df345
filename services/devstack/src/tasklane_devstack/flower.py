"""Flower for `make run` (TASKLANE_FLOWER=1): never open, on a port of its own."""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass

from tasklane_contract.settings import Settings

FLOWER_USER = "tasklane"


@dataclass(frozen=True)
class FlowerLogin:
    basic_auth: str  # Flower's FLOWER_BASIC_AUTH: `user:password`
    shown: str  # what the start banner says about it


def flower_login(settings: Settings) -> FlowerLogin:
    """The credentials of TASKLANE_FLOWER_BASIC_AUTH, or a user with a new random password,
    which is printed: it exists nowhere else."""
    if settings.flower_basic_auth is not None:
        given = settings.flower_basic_auth.get_secret_value()
        user = given.partition(":")[0]
        return FlowerLogin(given, f"user {user}, password from TASKLANE_FLOWER_BASIC_AUTH")
    password = secrets.token_urlsafe(16)
    return FlowerLogin(f"{FLOWER_USER}:{password}", f"user {FLOWER_USER}, password {password}")


def flower_command(settings: Settings) -> list[str]:
    return [
        *(sys.executable, "-m", "tasklane_flower"),
        f"--address={settings.api_host}",
        f"--port={settings.flower_listen_port}",
    ]
