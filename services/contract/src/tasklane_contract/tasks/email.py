from pydantic import BaseModel, ConfigDict, Field

from tasklane_contract import queues
from tasklane_contract.spec import TaskOptions, TaskSpec
from tasklane_contract.types import integer_literal

# No `\s`: it means different things to pydantic's regex engine and to JSON Schema's.
ADDRESS = r"^[^@\x00-\x20]+@[^@\x00-\x20]+\.[^@\x00-\x20]+$"


class SendEmailArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    to: str = Field(max_length=254, pattern=ADDRESS, description="Recipient address.")
    subject: str = Field(max_length=998)
    body: str = Field(max_length=50_000)  # fits within the default TASKLANE_MAX_BODY_BYTES
    simulate_transient_failures: int = Field(
        0,
        ge=0,
        le=10,
        description="Demo knob: how many delivery attempts fail with a transient error "
        "before one succeeds. Above the task's max_retries, the task fails for good.",
        json_schema_extra=integer_literal,
    )


class SendEmailResult(BaseModel):
    message_id: str
    attempts: int


SEND_EMAIL = TaskSpec(
    name="email.send",
    queue=queues.EMAIL,
    args_model=SendEmailArgs,
    result_model=SendEmailResult,
    description="Simulated e-mail delivery: transient failures are retried with exponential "
    "backoff and jitter, up to max_retries, then the task fails with the last error.",
    options=TaskOptions(
        soft_time_limit_s=30,
        time_limit_s=40,
        max_retries=3,
        retry_backoff_s=1,
        retry_backoff_max_s=30,
    ),
)
