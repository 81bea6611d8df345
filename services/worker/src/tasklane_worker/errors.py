"""Errors implementations raise to steer what happens next."""


class TransientError(Exception):
    """A failure worth retrying (a busy server, a timeout): retried with backoff up to the
    task's max_retries, then the task fails with RetriesExhausted."""


class RetriesExhausted(RuntimeError):
    """The task kept failing transiently and ran out of retries."""
