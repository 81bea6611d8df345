"""Whether Flower was given a way to authenticate users: tasklane never starts an open Flower."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Flower's options that switch authentication on: HTTP basic auth (`user:password`, comma
# separated) and OAuth (the regular expression of the e-mail addresses let in).
AUTH_OPTIONS = ("basic_auth", "auth")


def _option_name(argument: str) -> str:
    # Tornado's command line takes `--name=value` only, and `-` and `_` alike in names.
    return argument.lstrip("-").partition("=")[0].replace("-", "_")


def authentication_configured(env: Mapping[str, str], argv: Sequence[str]) -> bool:
    """True when the environment (`FLOWER_BASIC_AUTH`, `FLOWER_AUTH`) or the command line
    (`--basic_auth=...`, `--auth=...`) turns on one of Flower's authentications."""
    for option in AUTH_OPTIONS:
        if env.get(f"FLOWER_{option.upper()}", "").strip():
            return True
    for argument in argv:
        name, _, value = argument.partition("=")
        if argument.startswith("--") and _option_name(name) in AUTH_OPTIONS and value.strip():
            return True
    return False
