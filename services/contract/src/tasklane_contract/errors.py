"""Errors whose type names travel in results, so clients can tell them apart."""


class InvalidTaskArguments(ValueError):
    """A message arrived whose arguments do not match the task's argument model."""


class TaskRevoked(RuntimeError):
    """The task was revoked before it started."""


class ResultTooLarge(ValueError):
    """A task's result is bigger than TASKLANE_MAX_RESULT_BYTES: store a reference instead."""
