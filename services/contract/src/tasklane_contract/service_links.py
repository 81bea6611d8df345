"""Kubernetes' service-link variables are not settings.

For every Service in a namespace Kubernetes gives each pod `<SERVICE>_PORT=tcp://<ip>:<port>`
and friends, the Service's name upper-cased with `-` turned into `_`. A release named
`tasklane` has the Services `tasklane-api` and `tasklane-exporter`, so every pod would get
`TASKLANE_API_PORT=tcp://10.0.0.7:80`, which is the name of a setting. The chart turns service
links off (`enableServiceLinks: false`); this source is the second guard, for pods spawned from
other manifests: a value of that shape is dropped with a warning, the setting keeps its default.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

_LINK = re.compile(r"(tcp|udp|sctp)://[^\s/]+:\d+")

log = logging.getLogger(__name__)


def is_service_link(value: object) -> bool:
    """True for a value Kubernetes writes into `<SERVICE>_PORT` and `<SERVICE>_PORT_<n>_<PROTO>`."""
    return isinstance(value, str) and _LINK.fullmatch(value.strip()) is not None


class WithoutServiceLinks(PydanticBaseSettingsSource):
    """Wraps the environment source and leaves out the values that are service links."""

    def __init__(self, settings_cls: type[BaseSettings], environment: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._environment = environment

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ takes the wrapped source's values whole.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = self._environment()
        prefix = str(self.config.get("env_prefix", ""))
        kept: dict[str, Any] = {}
        for name, value in values.items():
            if is_service_link(value):
                log.warning(
                    "ignoring %s%s=%s: a Kubernetes service link, not a setting "
                    "(set enableServiceLinks: false in the pod spec)",
                    prefix,
                    name.upper(),
                    value,
                )
                continue
            kept[name] = value
        return kept


class ServiceLinkProofSettings(BaseSettings):
    """A settings class whose environment source drops service links: every tasklane settings
    class derives from it."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            WithoutServiceLinks(settings_cls, env_settings),
            dotenv_settings,
            file_secret_settings,
        )
