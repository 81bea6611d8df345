"""The operator's own settings, from `TASKLANE_AUTOSCALER_*` environment variables. Redis and
Celery settings come from the contract's `Settings` (`TASKLANE_*`), like every other process."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from tasklane_contract.service_links import ServiceLinkProofSettings


class AutoscalerSettings(ServiceLinkProofSettings):
    """Built once in the operator's startup handler, never at import time."""

    model_config = SettingsConfigDict(
        env_prefix="TASKLANE_AUTOSCALER_", extra="ignore", frozen=True
    )

    namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Namespaces to watch, comma separated; empty watches the whole cluster "
        "(which needs cluster-wide RBAC).",
    )
    metrics_port: int = Field(
        9808,
        ge=0,
        le=65535,
        description="Port of the Prometheus /metrics endpoint; 0 turns it off.",
    )
    liveness_port: int = Field(
        8080,
        ge=0,
        le=65535,
        description="Port of kopf's /healthz liveness endpoint; 0 turns it off.",
    )
    inspect_timeout_seconds: float = Field(
        1.0, gt=0, description="How long Celery's inspect waits for workers' replies."
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value
