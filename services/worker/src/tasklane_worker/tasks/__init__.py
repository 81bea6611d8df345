"""Task implementations: plain functions `(args, ctx) -> result`, one module per family.

Importing this package registers every implementation."""

from tasklane_worker.tasks import demo, email, maintenance, report, text

__all__ = ["demo", "email", "maintenance", "report", "text"]
