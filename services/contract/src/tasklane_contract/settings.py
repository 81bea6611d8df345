"""The settings every tasklane process reads, from `TASKLANE_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from tasklane_contract.service_links import ServiceLinkProofSettings

DEFAULT_REDIS_URL = "redis://localhost:6379/0"

# An entry of TASKLANE_BEAT_SCHEDULE: seconds between runs, a five-field crontab string,
# or null to switch the entry off.
ScheduleOverride = float | str | None


class Settings(ServiceLinkProofSettings):
    """Built once per process at startup (never at import time) and passed down."""

    model_config = SettingsConfigDict(env_prefix="TASKLANE_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = Field(
        "development", description="`production` refuses the unsafe development defaults."
    )
    redis_url: str = Field(DEFAULT_REDIS_URL, description="Broker and result store.")
    redis_password: SecretStr | None = Field(
        None,
        description="Password put into the Redis URL, so the URL itself can be non-secret "
        "(Kubernetes passes this one from a Secret).",
    )
    redis_sentinels: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Sentinels as comma-separated host:port; when set, every client asks them "
        "which Redis is the master (and again after a failover), and TASKLANE_REDIS_URL gives "
        "only the database number.",
    )
    redis_master_name: str | None = Field(
        None, description="Name the sentinels know the master by; needed with the sentinels."
    )
    redis_sentinel_password: SecretStr | None = Field(
        None, description="Password of the sentinels themselves, when they require one."
    )
    redis_min_replica_acks: int | None = Field(
        None,
        ge=0,
        description="Replicas that must have a submission before the API answers 202 (Redis "
        "WAIT); 503 when fewer do in time. Unset: 1 with sentinels, 0 without.",
    )
    redis_replica_ack_timeout_s: float = Field(
        1.0,
        gt=0,
        description="How long a submission waits for the replicas' acknowledgement before the "
        "API answers 503; below TASKLANE_REDIS_TIMEOUT_S.",
    )
    api_host: str = Field("127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="API keys the /v1 routes require, comma separated; empty means open.",
    )
    rate_limit_per_minute: int = Field(
        0, ge=0, description="Submissions each client may make per minute; 0 means no limit."
    )
    worker_concurrency: int = Field(4, ge=1, le=256, description="Task processes per worker.")
    worker_queues: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Queues a worker consumes, comma separated; empty means every queue."
    )
    visibility_timeout_s: int = Field(
        3600,
        ge=1,
        description="Seconds before a reserved but unacknowledged task is handed to another "
        "worker; keep it above the longest task's hard time limit.",
    )
    worker_lease_s: float = Field(
        15.0,
        ge=1,
        le=300,
        description="Seconds a worker's lease in Redis lasts unless renewed (five times per "
        "lease, on a thread of its own): the tasks of a worker that stopped renewing it "
        "(killed, frozen, cut off) go back to their queue this long after its last renewal.",
    )
    result_expires_s: int = Field(
        86400, ge=60, description="Seconds results and submission records are kept."
    )
    max_body_bytes: int = Field(
        65536, ge=64, description="Largest request body the API accepts (413 above)."
    )
    max_result_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest result a task may store, as JSON; a bigger one fails the task.",
    )
    retry_after_s: int = Field(
        5, ge=1, description="`Retry-After` the API sends with 503 while Redis is unreachable."
    )
    redis_timeout_s: float = Field(
        2.0, gt=0, description="Socket timeout for the API's Redis calls, so an outage is a 503."
    )
    request_read_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's headers, and again its body; "
        "a slower one gets 408 and its connection is closed.",
    )
    shutdown_timeout_s: float = Field(
        25.0,
        ge=0,
        description="Seconds a worker told to stop keeps running its tasks before giving "
        "them back; keep it below the pod's termination grace period.",
    )
    beat_schedule: dict[str, ScheduleOverride] = Field(
        default_factory=dict,
        description='JSON overriding schedule entries: {"entry": seconds | "cron" | null}.',
    )
    worker_heartbeat_file: Path | None = Field(
        None,
        description="File a worker touches while its consumer loop is alive; the liveness "
        "probe (`python -m tasklane_worker.liveness`) checks its age.",
    )
    beat_heartbeat_file: Path | None = Field(
        None,
        description="File beat rewrites on every pass of its loop, also while it waits for "
        "Redis; the liveness probe (`python -m tasklane_beat.liveness`) checks its age.",
    )
    exporter_port: int = Field(
        9808, ge=1, le=65535, description="Port `make run` starts celery-exporter on."
    )
    flower: bool = Field(False, description="`make run` starts Flower too (`TASKLANE_FLOWER=1`).")
    # Not FLOWER_PORT: Kubernetes gives every pod TASKLANE_FLOWER_PORT=tcp://... for a Service
    # named tasklane-flower.
    flower_listen_port: int = Field(
        5555, ge=1, le=65535, description="Port `make run` starts Flower on."
    )
    flower_basic_auth: SecretStr | None = Field(
        None,
        description="`user:password` for `make run`'s Flower; unset, a password is generated "
        "and printed at start.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("worker_queues", "api_keys", "redis_sentinels", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(q.strip() for q in value.split(",") if q.strip())
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _host_and_port(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            _host, _, port = address.rpartition(":")
            if not _host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError("every sentinel must be host:port, the port a number below 65536")
        return value

    @model_validator(mode="after")
    def _sentinel_form_is_complete(self) -> Settings:
        if self.redis_sentinels:
            if not self.redis_master_name:
                raise ValueError(
                    "TASKLANE_REDIS_SENTINELS needs TASKLANE_REDIS_MASTER_NAME, the name the "
                    "sentinels monitor the master by"
                )
            if not self.redis_url.startswith("redis://"):
                raise ValueError(
                    "with TASKLANE_REDIS_SENTINELS, TASKLANE_REDIS_URL must be redis://"
                    "[user@]<any host>/<db>: it gives the database (TLS and sockets are not "
                    "supported through sentinels)"
                )
        if self.replica_acks and self.redis_replica_ack_timeout_s >= self.redis_timeout_s:
            raise ValueError(
                "TASKLANE_REDIS_REPLICA_ACK_TIMEOUT_S must be below TASKLANE_REDIS_TIMEOUT_S, or "
                "the socket gives up before the replicas' answer"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production_defaults(self) -> Settings:
        if self.environment == "production":
            if self.redis_url == DEFAULT_REDIS_URL and not self.redis_sentinels:
                raise ValueError("TASKLANE_REDIS_URL must be set explicitly in production")
            if urlsplit(self.broker_url).password is None:
                raise ValueError(
                    "Redis needs a password in production: set TASKLANE_REDIS_PASSWORD "
                    "or put it in TASKLANE_REDIS_URL"
                )
        return self

    @property
    def broker_url(self) -> str:
        """The Redis URL with `redis_password` filled in: never log this, log `redis_display`."""
        if self.redis_password is None:
            return self.redis_url
        return _with_password(self.redis_url, self.redis_password.get_secret_value())

    @property
    def redis_display(self) -> str:
        """Where Redis is, safe to print: any password replaced by `***`."""
        url = self.redis_url
        if urlsplit(self.broker_url).password is not None:
            url = _with_password(self.redis_url, "***", quoted=False)
        if self.redis_sentinels:
            database = urlsplit(url).path.lstrip("/") or "0"
            return (
                f"master {self.redis_master_name!r} of the sentinels "
                f"{','.join(self.redis_sentinels)}, database {database}"
            )
        return url

    @property
    def replica_acks(self) -> int:
        """Replicas a submission waits for: TASKLANE_REDIS_MIN_REPLICA_ACKS, else one where
        sentinels promise replicas and none where a lone Redis has none to wait for."""
        if self.redis_min_replica_acks is not None:
            return self.redis_min_replica_acks
        return 1 if self.redis_sentinels else 0


def _with_password(url: str, password: str, *, quoted: bool = True) -> str:
    parts = urlsplit(url)
    user = quote(parts.username or "", safe="") if quoted else parts.username or ""
    secret = quote(password, safe="") if quoted else password
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:{secret}@{parts.hostname or ''}{port}"))
