"""Building a process's settings at its start, or refusing to start in one line.

pydantic's ValidationError repeats the input it refused, and for a model validator (production
refusing a default) that input is every `TASKLANE_*` value, passwords and API keys included.
Every process builds its settings here instead: a refusal names each variable to change and why,
never a value, and ends the process without a traceback.
"""

from __future__ import annotations

import re
import sys
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

# Exit status of a process refused by its settings (as for an unknown worker queue).
SETTINGS_REFUSED = 2

S = TypeVar("S", bound=BaseSettings)

# pydantic-settings' message for a value it could not decode (JSON of a dict setting).
_UNPARSABLE = re.compile(r'error parsing value for field "(\w+)"')


def variable(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable a field is read from."""
    return f"{settings_cls.model_config.get('env_prefix', '')}{field}".upper()


def describe_refusal(settings_cls: type[BaseSettings], error: ValidationError) -> str:
    """Every problem of `error` as `VARIABLE: why`, joined in one line, without the input."""
    problems = []
    for item in error.errors(include_url=False, include_context=False, include_input=False):
        why = item["msg"].removeprefix("Value error, ")
        if item["loc"]:  # a field's own check
            problems.append(f"{variable(settings_cls, str(item['loc'][0]))}: {why}")
        else:  # a check across fields: its message names the variables
            problems.append(why)
    return "; ".join(problems)


def describe_unparsable(settings_cls: type[BaseSettings], error: SettingsError) -> str:
    match = _UNPARSABLE.search(str(error))
    name = variable(settings_cls, match.group(1)) if match else "a TASKLANE_ variable"
    # The cause is the decoder's complaint (a position, never the document).
    cause = f" ({error.__cause__})" if error.__cause__ is not None else ""
    return f"{name}: not valid JSON{cause}"


def load_settings(settings_cls: type[S]) -> S:
    """`settings_cls()` from the environment; on an invalid value, one line on stderr saying what
    to change, and exit with SETTINGS_REFUSED."""
    try:
        return settings_cls()
    except ValidationError as exc:
        problems = describe_refusal(settings_cls, exc)
    except SettingsError as exc:
        problems = describe_unparsable(settings_cls, exc)
    print(f"refusing to start, change these settings: {problems}", file=sys.stderr, flush=True)
    raise SystemExit(SETTINGS_REFUSED)
