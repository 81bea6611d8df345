"""The worker's "cannot connect" log line, said in one line and naming a refused password.

Celery's consumer logs each failed connection attempt over three lines ("Cannot connect to
<transport URL>: <error>." then "Trying again in ..." then a blank one), the same whether Redis
is down or refuses the password, so a misconfiguration reads like an outage. This filter
rewrites that one record: one line, Redis' displayable URL, and for a refused password what to
change. It leaves every other record alone."""

from __future__ import annotations

import logging

from celery.worker.consumer.consumer import CONNECTION_ERROR

from tasklane_contract.redis_errors import CHECK_PASSWORD, is_authentication_failure

CONSUMER_LOGGER = "celery.worker.consumer.consumer"


class OneLineConnectionErrors(logging.Filter):
    def __init__(self, redis_display: str) -> None:
        super().__init__()
        self.redis_display = redis_display

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg != CONNECTION_ERROR or not isinstance(args, tuple) or len(args) != 3:
            return True
        _uri, error, next_step = args
        retry = " ".join(str(next_step).split())  # "Trying again in 2.00 seconds... (1/None)"
        if isinstance(error, BaseException) and is_authentication_failure(error):
            record.msg = (
                "consumer: Redis at %s refused the worker's password "
                "(authentication failed: %s): %s; %s"
            )
            record.args = (self.redis_display, error, CHECK_PASSWORD, retry)
        else:
            record.msg = "consumer: cannot connect to Redis at %s: %s; %s"
            record.args = (self.redis_display, error, retry)
        return True


def install(redis_display: str) -> None:
    logging.getLogger(CONSUMER_LOGGER).addFilter(OneLineConnectionErrors(redis_display))
